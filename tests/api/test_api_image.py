"""The visor-py style Image: open, label_to_index and create, on the fixture and real writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from sample_files import COMPR, RAW_DIR, read_json, temp_files

import visor_xarray as vx
from visor_xarray.errors import (
    InvalidArrayError,
    UnknownLabelError,
    UnknownLevelError,
)
from visor_xarray.options import DEFAULT_PIPELINE, ZARRS_PIPELINE
from visor_xarray.schema import SampleInfo, parse_sample_info
from visor_xarray.store import VsrStore
from visor_xarray.testing import synthetic_volume
from visor_xarray.testing.samples import image_attributes


def plain_zarr_read(level_dir: Path) -> np.ndarray:
    """Read a level with zarr-python's own pipeline, independently of the library."""
    with zarr.config.set({"codec_pipeline.path": DEFAULT_PIPELINE}):
        return zarr.open_array(store=zarr.storage.LocalStore(level_dir, read_only=True))[...]


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
