"""The visor-py style listings: info, list_image, list_transform, on the upstream fixture."""

from __future__ import annotations

from pathlib import Path

import pytest
from sample_files import COMPR, VERSION, write_json

import visor_xarray as vx
from visor_xarray.errors import (
    UnknownImageError,
    UnknownVersionError,
)

# ------------------------------------------------------------------------------ info


def test_info(visor001: Path) -> None:
    summary = vx.info(visor001)
    assert isinstance(summary, vx.SampleSummary)
    assert summary.path == visor001
    assert summary.animal_id == "VISOR001"
    assert summary.project_name == "VISOR"
    assert summary.species == "Mouse"
    assert summary.subproject_name == "XXX-XXXX-1X7-3X"
    assert summary.image_types == ("raw", "compr")
    assert summary.transform_versions == (VERSION,)
    assert summary.extra == {}
    text = str(summary)
    for expected in ("VISOR001", "Mouse", "XXX-XXXX-1X7-3X", "raw, compr", VERSION):
        assert expected in text


def test_info_keeps_extra_keys_and_placeholder(visor001_copy: Path) -> None:
    write_json(visor001_copy / "info.json", {"species": "Rat", "weight_g": 310})
    summary = vx.info(visor001_copy)
    assert summary.species == "Rat"
    assert summary.animal_id is None
    assert summary.extra == {"weight_g": 310}
    assert "animal_id           -" in str(summary)


# ------------------------------------------------------------------------ list_image


def test_list_image_all(visor001: Path) -> None:
    records = vx.list_image(visor001)
    assert [(r.type, r.name) for r in records] == [
        ("raw", "slice_1_10x"),
        ("raw", "slice_1_10x_1"),
        ("compr", COMPR),
    ]
    assert all(isinstance(r, vx.ImageRecord) for r in records)
    assert records[0].channels == ("488", "561")
    assert records[0].levels == ("0",)
    assert records[0].selected is True
    assert records[0].selected_channels == ("488", "561")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"type": "raw"}, ["slice_1_10x", "slice_1_10x_1"]),
        ({"type": "compr"}, [COMPR]),
        ({"channel": "488"}, ["slice_1_10x"]),
        ({"channel": "405"}, ["slice_1_10x_1", COMPR]),
        ({"type": "compr", "channel": "640"}, [COMPR]),
        ({"type": "compr", "channel": "488"}, []),
        ({"channel": "999"}, []),
    ],
)
def test_list_image_filters(visor001: Path, kwargs: dict[str, str], expected: list[str]) -> None:
    assert [r.name for r in vx.list_image(visor001, **kwargs)] == expected


def test_list_image_unknown_type_lists_types(visor001: Path) -> None:
    with pytest.raises(UnknownImageError) as caught:
        vx.list_image(visor001, type="recon")
    assert isinstance(caught.value, KeyError)
    assert caught.value.valid == ["raw", "compr"]
    message = str(caught.value)
    assert "'recon'" in message
    assert "'raw', 'compr'" in message
    assert str(visor001) in message


def test_image_record_str(visor001: Path) -> None:
    text = str(vx.list_image(visor001, type="raw")[0])
    assert text == ("raw/slice_1_10x (selected): dims vs,ch,z,y,x; channels 488, 561; levels 0")


# -------------------------------------------------------------------- list_transform


def test_list_transform(visor001: Path) -> None:
    records = vx.list_transform(visor001)
    assert records == vx.list_transform(visor001, version=VERSION)
    assert [(r.version, r.slice, r.name, r.type, r.format) for r in records] == [
        (VERSION, "slice_1_10x", "raw_to_ortho", "affine", "tfm"),
        (VERSION, "slice_1_10x", "raw_to_brain", "model", "binary"),
    ]
    ortho, brain = records
    assert ortho.files == ("raw_to_ortho/0/0/affine.tfm",)
    assert ortho.direction == "raw_to_ortho"
    assert brain.files == ()  # listed in transforms.json, but the fixture has no file
    assert str(ortho) == (
        f"{VERSION}/slice_1_10x/raw_to_ortho: affine (tfm), maps raw_to_ortho, 1 file(s)"
    )
    assert "no file" in str(brain)
    assert "raw_to_brain" in str(brain)


def test_list_transform_unknown_version_lists_versions(visor001: Path) -> None:
    with pytest.raises(UnknownVersionError) as caught:
        vx.list_transform(visor001, version="yyy_20990101")
    assert isinstance(caught.value, KeyError)
    assert caught.value.valid == [VERSION]
    assert f"'{VERSION}'" in str(caught.value)
    assert "'yyy_20990101'" in str(caught.value)


def test_list_transform_without_versions(sample_path: Path) -> None:
    assert vx.list_transform(sample_path) == []
    assert vx.info(sample_path).transform_versions == ()
