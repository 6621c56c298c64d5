"""VsrStore discovery and the visor-py style API, on the upstream fixture and real writes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
import zarr

import visor_xarray as vx
from visor_xarray.errors import (
    InvalidArrayError,
    UnknownImageError,
    UnknownLabelError,
    UnknownLevelError,
    UnknownVersionError,
)
from visor_xarray.options import DEFAULT_PIPELINE, ZARRS_PIPELINE
from visor_xarray.schema import SampleInfo, parse_sample_info
from visor_xarray.store import VsrStore
from visor_xarray.testing import synthetic_volume
from visor_xarray.testing.samples import image_attributes

RAW_DIR = "visor_raw_images"
COMPR = "xxx_slice_1_10x_20241201"
VERSION = "xxx_20250525"


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2), encoding="utf-8")


def temp_files(root: Path) -> list[Path]:
    """Leftovers of atomic writes (``.{name}.*.tmp``)."""
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def plain_zarr_read(level_dir: Path) -> np.ndarray:
    """Read a level with zarr-python's own pipeline, independently of the library."""
    with zarr.config.set({"codec_pipeline.path": DEFAULT_PIPELINE}):
        return zarr.open_array(store=zarr.storage.LocalStore(level_dir, read_only=True))[...]


# ------------------------------------------------------------------------- discovery


def test_image_types_raw_first(visor001: Path) -> None:
    assert VsrStore(visor001).image_types() == ["raw", "compr"]


def test_image_types_scan_only_matching_directories(visor001_copy: Path) -> None:
    (visor001_copy / "visor_aaa_images").mkdir()
    (visor001_copy / "visor_raw_images_old").mkdir()
    (visor001_copy / "visor_x_y_images").mkdir()
    (visor001_copy / "visor_file_images").write_text("not a directory")
    assert VsrStore(visor001_copy).image_types() == ["raw", "aaa", "compr"]


def test_raw_names_follow_selected_then_unselected(visor001_copy: Path) -> None:
    raw = visor001_copy / RAW_DIR
    # selected.json order (not alphabetical) comes first; a stale entry is ignored
    write_json(
        raw / "selected.json",
        [
            {"name": "slice_1_10x_1", "channels": ["640"]},
            {"name": "slice_9_10x", "channels": ["488"]},
            {"name": "slice_1_10x", "channels": ["488", "561"]},
        ],
    )
    shutil.copytree(raw / "slice_1_10x.zarr", raw / "slice_0_10x.zarr")
    (raw / "notes.zarr").write_text("a file, not an image")
    (raw / ".hidden.zarr").mkdir()
    store = VsrStore(visor001_copy)
    assert store.image_names("raw") == ["slice_1_10x_1", "slice_1_10x", "slice_0_10x"]
    records = vx.list_image(visor001_copy, type="raw")
    assert [(r.name, r.selected) for r in records] == [
        ("slice_1_10x_1", True),
        ("slice_1_10x", True),
        ("slice_0_10x", False),
    ]
    # channels come from the image, selected_channels from selected.json
    assert records[0].channels == ("405", "640")
    assert records[0].selected_channels == ("640",)
    assert records[2].selected_channels == ()
    assert "(not selected)" in str(records[2])
    assert "(selected)" in str(records[0])


def test_processed_images_are_listed_from_the_directory(visor001: Path) -> None:
    store = VsrStore(visor001)
    assert store.image_names("compr") == [COMPR]
    (record,) = vx.list_image(visor001, type="compr")
    assert record.selected is None
    assert record.dims == ("vs", "ch", "z", "y", "x")  # legacy s/c axes, keyed on type


def test_levels_and_image_dir(visor001: Path) -> None:
    store = VsrStore(visor001)
    assert store.levels("raw", "slice_1_10x") == ("0",)
    assert store.image_dir("compr", COMPR) == visor001 / "visor_compr_images" / f"{COMPR}.zarr"
    assert store.transform_versions() == [VERSION]
    assert store.transform_slices(VERSION) == ["slice_1_10x"]
    recon = store.recon(VERSION)
    assert recon is not None
    assert recon.spaces == ("raw", "ortho", "brain")


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


# ---------------------------------------------------------------------- Image.open


def test_open_returns_a_5d_zarr_array(visor001: Path) -> None:
    image = vx.Image(visor001, type="raw", name="slice_1_10x")
    array = image.open(0)
    assert isinstance(array, zarr.Array)
    assert array.ndim == 5
    assert array.shape == (2, 2, 4, 4, 4)
    assert array.dtype == np.dtype("uint16")
    assert image.levels == ("0",)
    data = array[...]
    assert data.any()
    np.testing.assert_array_equal(
        data, plain_zarr_read(visor001 / RAW_DIR / "slice_1_10x.zarr" / "0")
    )
    # the level may be given as a string, like visor-py
    np.testing.assert_array_equal(image.open("0")[1, 0], data[1, 0])


def test_open_single_image_of_a_type(visor001: Path) -> None:
    image = vx.Image(visor001, type="compr")
    assert image.name == COMPR
    assert image.open().shape == (2, 2, 4, 4, 4)


def test_open_unknown_level(visor001: Path) -> None:
    with pytest.raises(UnknownLevelError) as caught:
        vx.Image(visor001, name="slice_1_10x").open(1)
    assert caught.value.valid == ["0"]
    assert "'1'" in str(caught.value)


# -------------------------------------------------------------------- label_to_index


def test_label_to_index_on_fixture(visor001: Path) -> None:
    image = vx.Image(visor001, name="slice_1_10x_1")
    assert image.label_to_index("stack", "stack_1") == 0
    assert image.label_to_index("stack", "stack_2") == 1
    assert image.label_to_index("channel", "405") == 0
    assert image.label_to_index("channel", "640") == 1


def test_label_to_index_uses_index_not_position(sample_path: Path) -> None:
    # make_sample: stacks stack_1, stack_3, stack_4 (gaps); channels listed in reverse order
    image = vx.Image(sample_path, name="slice_1_10x")
    listed = [
        c["wavelength"]
        for c in read_json(image.path / "zarr.json")["attributes"]["visor"]["channels"]
    ]
    assert listed == ["561", "488"]
    assert image.label_to_index("stack", "stack_1") == 0
    assert image.label_to_index("stack", "stack_3") == 1
    assert image.label_to_index("stack", "stack_4") == 2
    assert image.label_to_index("channel", "488") == 0
    assert image.label_to_index("channel", "561") == 1
    with pytest.raises(UnknownLabelError) as caught:
        image.label_to_index("stack", "stack_2")  # the gap
    assert caught.value.valid == ["stack_1", "stack_3", "stack_4"]
    with pytest.raises(ValueError, match="'stack' or 'channel'"):
        image.label_to_index("wavelength", "488")


# ----------------------------------------------------------------- Image.create


def new_attrs(
    name: str, stacks: int = 2, channels: tuple[str, ...] = ("488", "561")
) -> dict[str, Any]:
    return image_attributes(
        name,
        stacks=[f"stack_{k}" for k in range(1, 2 * stacks, 2)],
        channels=channels,
        level_factors=((1, 1, 1), (1, 2, 2)),
    )


def test_create_write_read_back(tmp_path: Path) -> None:
    sample = tmp_path / "NEW.vsr"
    attrs = new_attrs("slice_2_10x")
    data = synthetic_volume((2, 2, 10, 12, 14), seed=3)
    writer = vx.Image(sample, name="slice_2_10x", mode="w-")
    array = writer.create(
        0,
        dtype="uint16",
        attr=attrs,
        shape=data.shape,
        shard_size=(1, 1, 8, 8, 8),
        chunk_size=(1, 1, 4, 4, 4),
    )
    assert vx.pipeline_name(array) == ZARRS_PIPELINE
    array[...] = data
    coarse = data[:, :, :, ::2, ::2]
    writer.create(1, shape=coarse.shape, shard_size=(1, 1, 8, 8, 8), chunk_size=(1, 1, 4, 4, 4))[
        ...
    ] = coarse

    image_dir = sample / RAW_DIR / "slice_2_10x.zarr"
    reader = vx.Image(sample, name="slice_2_10x")
    assert reader.levels == ("0", "1")
    np.testing.assert_array_equal(reader.open(0)[...], data)
    np.testing.assert_array_equal(reader.open(1)[...], coarse)
    np.testing.assert_array_equal(plain_zarr_read(image_dir / "0"), data)

    # the group holds exactly the attributes given; the arrays are sharded as asked
    assert read_json(image_dir / "zarr.json") == {
        "zarr_format": 3,
        "node_type": "group",
        "attributes": attrs,
    }
    level0 = read_json(image_dir / "0" / "zarr.json")
    assert level0["dimension_names"] == ["vs", "ch", "z", "y", "x"]
    assert level0["chunk_grid"]["configuration"]["chunk_shape"] == [1, 1, 8, 8, 8]
    (codec,) = level0["codecs"]
    assert codec["name"] == "sharding_indexed"
    assert codec["configuration"]["chunk_shape"] == [1, 1, 4, 4, 4]
    shards = [p for p in (image_dir / "0" / "c").rglob("*") if p.is_file()]
    assert len(shards) == 2 * 2 * 2 * 2 * 2  # vs, ch, ceil(10/8), ceil(12/8), ceil(14/8)

    # the new sample's documents: a valid info.json, the image selected with its channels
    assert VsrStore(sample).info() == SampleInfo()
    assert read_json(sample / RAW_DIR / "selected.json") == [
        {"name": "slice_2_10x", "channels": ["488", "561"]}
    ]
    assert temp_files(sample) == []


def test_create_in_existing_sample_updates_selection(visor001_copy: Path) -> None:
    info_before = (visor001_copy / "info.json").read_bytes()
    selected_before = read_json(visor001_copy / RAW_DIR / "selected.json")
    image = vx.Image(visor001_copy, name="slice_2_10x", mode="w-")
    image.create(0, attr=new_attrs("slice_2_10x", channels=("640", "405")), shape=(2, 2, 4, 4, 4))
    selected = read_json(visor001_copy / RAW_DIR / "selected.json")
    assert selected == [*selected_before, {"name": "slice_2_10x", "channels": ["640", "405"]}]
    assert (visor001_copy / "info.json").read_bytes() == info_before
    assert parse_sample_info(read_json(visor001_copy / "info.json")).animal_id == "VISOR001"
    assert [r.name for r in vx.list_image(visor001_copy, type="raw")] == [
        "slice_1_10x",
        "slice_1_10x_1",
        "slice_2_10x",
    ]
    assert temp_files(visor001_copy) == []


def test_create_level_missing_from_attr(visor001_copy: Path) -> None:
    image = vx.Image(visor001_copy, name="slice_2_10x", mode="w-")
    with pytest.raises(UnknownLevelError) as caught:
        image.create(2, attr=new_attrs("slice_2_10x"), shape=(2, 2, 4, 4, 4))
    assert caught.value.valid == ["0", "1"]
    assert not (visor001_copy / RAW_DIR / "slice_2_10x.zarr").exists()


def test_create_shard_not_multiple_of_chunk(visor001_copy: Path) -> None:
    image = vx.Image(visor001_copy, name="slice_2_10x", mode="w-")
    with pytest.raises(InvalidArrayError, match="multiple of chunk_size"):
        image.create(
            0,
            attr=new_attrs("slice_2_10x"),
            shape=(2, 2, 8, 8, 8),
            shard_size=(1, 1, 6, 8, 8),
            chunk_size=(1, 1, 4, 4, 4),
        )
    assert not (visor001_copy / RAW_DIR / "slice_2_10x.zarr").exists()


def test_mode_a_store_creates_a_skeleton(tmp_path: Path) -> None:
    store = VsrStore(tmp_path / "EMPTY.vsr", mode="a")
    assert read_json(tmp_path / "EMPTY.vsr" / "info.json") == {}
    assert read_json(tmp_path / "EMPTY.vsr" / RAW_DIR / "selected.json") == []
    assert store.image_types() == ["raw"]
    assert store.image_names("raw") == []
    assert vx.list_image(tmp_path / "EMPTY.vsr") == []


# ------------------------------------------------------------------ codec pipelines


@pytest.mark.parametrize("global_pipeline", [DEFAULT_PIPELINE, ZARRS_PIPELINE])
def test_arrays_use_zarrs_without_touching_zarr_config(
    visor001: Path, global_pipeline: str
) -> None:
    # whatever the process-global setting (visor-py switches it to zarrs), the library
    # picks the pipeline per array and leaves the global setting as it found it
    with zarr.config.set({"codec_pipeline.path": global_pipeline}):
        array = vx.Image(visor001, name="slice_1_10x").open(0)
        assert vx.pipeline_name(array) == ZARRS_PIPELINE == "zarrs.ZarrsCodecPipeline"
        array[...]
        assert zarr.config.get("codec_pipeline.path") == global_pipeline
        with vx.set_options(codec_pipeline="default"):
            assert vx.pipeline_name(vx.Image(visor001, name="slice_1_10x").open(0)) == (
                DEFAULT_PIPELINE
            )
        assert zarr.config.get("codec_pipeline.path") == global_pipeline


def test_set_options_default_pipeline_is_scoped(visor001: Path) -> None:
    image = vx.Image(visor001, name="slice_1_10x")
    fast = image.open(0)
    global_before = zarr.config.get("codec_pipeline.path")
    with vx.set_options(codec_pipeline="default") as options:
        assert isinstance(options, vx.set_options)
        assert vx.get_options()["codec_pipeline"] == "default"
        slow = image.open(0)
        assert vx.pipeline_name(slow) == DEFAULT_PIPELINE
        assert zarr.config.get("codec_pipeline.path") == global_before
    assert vx.get_options()["codec_pipeline"] == "zarrs"
    # an array keeps the pipeline it was built with; new arrays are zarrs again
    assert vx.pipeline_name(slow) == DEFAULT_PIPELINE
    assert vx.pipeline_name(image.open(0)) == ZARRS_PIPELINE
    np.testing.assert_array_equal(slow[...], fast[...])


def test_set_options_restores_after_an_exception() -> None:
    def fail_inside() -> None:
        with vx.set_options(codec_pipeline="default", zarrs_threads=2):
            assert vx.get_options()["zarrs_threads"] == 2
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside()
    assert vx.get_options()["codec_pipeline"] == "zarrs"
    assert vx.get_options()["zarrs_threads"] is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"codec_pipeline": "rust"},
        {"codec_pipeline": None},
        {"no_such_option": 1},
        {"zarrs_threads": 0},
        {"zarrs_threads": 2.5},
        {"write_memory_budget": -1},
        {"validate_checksums": "yes"},
        {"codec_pipeline": "default", "dask_chunk_bytes": True},
    ],
)
def test_set_options_rejects_bad_input(kwargs: dict[str, Any]) -> None:
    before = vx.get_options()
    with pytest.raises(ValueError, match=next(iter(reversed(kwargs)))):
        vx.set_options(**kwargs)
    assert vx.get_options() == before  # nothing applied, not even the valid part


@pytest.mark.parametrize("pipeline", ["bogus", "Zarrs", ""])
def test_codec_pipeline_arguments_are_checked_like_the_option(
    visor001: Path, pipeline: str
) -> None:
    # the engine's codec_pipeline= used to select zarr-python's pipeline for any unknown name
    expected = "must be 'zarrs' .* or 'default'"
    with pytest.raises(ValueError, match=expected):
        xr.open_dataset(visor001, engine="visor", name="slice_1_10x", codec_pipeline=pipeline)
    with pytest.raises(ValueError, match=expected):
        xr.open_datatree(visor001, engine="visor", codec_pipeline=pipeline)
    with pytest.raises(ValueError, match=expected):
        VsrStore(visor001).level_array("raw", "slice_1_10x", pipeline=pipeline)
    with pytest.raises(ValueError, match=expected):
        vx.set_options(codec_pipeline=pipeline)
    assert vx.get_options()["codec_pipeline"] == "zarrs"


# ---------------------------------------------------------------------- atomic JSON


def test_write_info_is_atomic(visor001_copy: Path) -> None:
    store = VsrStore(visor001_copy, mode="r+")
    before = (visor001_copy / "info.json").read_bytes()
    with pytest.raises(TypeError):
        store.write_info(SampleInfo(animal_id="A2", extra={"bad": object()}))
    assert (visor001_copy / "info.json").read_bytes() == before
    assert temp_files(visor001_copy) == []
    store.write_info(SampleInfo(animal_id="A2", species="Mouse", extra={"note": "ü"}))
    assert read_json(visor001_copy / "info.json") == {
        "animal_id": "A2",
        "species": "Mouse",
        "note": "ü",
    }
    assert store.info().extra == {"note": "ü"}
    assert temp_files(visor001_copy) == []
