"""VsrStore: image discovery, a new sample's skeleton, atomic JSON documents."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sample_files import COMPR, RAW_DIR, VERSION, read_json, temp_files, write_json

import visor_xarray as vx
from visor_xarray.schema import SampleInfo
from visor_xarray.store import VsrStore

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


def test_mode_a_store_creates_a_skeleton(tmp_path: Path) -> None:
    store = VsrStore(tmp_path / "EMPTY.vsr", mode="a")
    assert read_json(tmp_path / "EMPTY.vsr" / "info.json") == {}
    assert read_json(tmp_path / "EMPTY.vsr" / RAW_DIR / "selected.json") == []
    assert store.image_types() == ["raw"]
    assert store.image_names("raw") == []
    assert vx.list_image(tmp_path / "EMPTY.vsr") == []


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
