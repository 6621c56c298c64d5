"""``DataArray.visor.resample`` on engine images: laziness, 5-D, levels, attrs, errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from resample_helpers import SPACING, open_raw
from scipy import ndimage

import visor_xarray as vx
from visor_xarray.resample import OutputGrid, choose_level, resample_dataarray
from visor_xarray.transforms import Affine, deskew

RAW_TO_ORTHO = deskew(45, SPACING, 30)
COORDS_TO_RAW = Affine(np.diag(1.0 / np.asarray(SPACING)), np.zeros(3))


def _scipy_reference(raw: xr.DataArray, out: xr.DataArray, affine: Affine, order: int = 1) -> Any:
    """Whole-volume scipy on the raw values, onto the grid of ``out``."""
    grid = OutputGrid.from_coords(out.coords)
    first = np.array([float(raw.coords[d].values[0]) for d in "zyx"])
    # raw level-0 index r = c / spacing; index into the subset = r - first / spacing
    to_subset_index = Affine(np.eye(3), -first / np.asarray(SPACING))
    pull = to_subset_index @ affine.inverse() @ grid.index_to_space()
    return ndimage.affine_transform(
        np.asarray(raw.values, dtype=np.float64),
        pull.matrix,
        offset=pull.offset,
        output_shape=grid.shape,
        order=order,
        output=np.float64,
    )


def test_resample_is_lazy(deskew_sample: Path, no_compute: Callable[[], Any]) -> None:
    dask_img = open_raw(deskew_sample, "slice_1_10x")
    lazy_img = open_raw(deskew_sample, "slice_1_10x", chunks=None)
    with no_compute():
        results = [
            dask_img.sel(vs="stack_3", ch="488").visor.resample(to_space="ortho", version="v1"),
            dask_img.visor.resample(to_space="slice", version="v1", order=3),
            lazy_img.sel(vs="stack_1", ch="561").visor.resample(to_space="ortho", version="v1"),
            dask_img.visor.resample(to_space="ortho", version="v1", spacing=3.0),  # level 1
            (dask_img * 2).visor.resample(to_space="ortho", version="v1"),
            dask_img.visor.stitch(version="v1", blend="max"),
        ]
    for result in results:
        assert isinstance(result.data, da.Array)
    assert results[3].attrs["source_resolution_level"] == "1"


@pytest.mark.parametrize("chunks", [{}, None])
def test_engine_result_equals_whole_volume_scipy(deskew_sample: Path, chunks: Any) -> None:
    """Coordinates (µm) -> raw index -> ortho through the stored file, any subset."""
    img = open_raw(deskew_sample, "slice_1_10x", chunks=chunks).sel(vs="stack_4", ch="561")
    subset = img.isel(z=slice(3, 17), x=slice(5, None))
    for raw in (img, subset):
        out = raw.visor.resample(
            to_space="ortho", version="v1", spacing=0.9, chunks=24, dtype="float64"
        )
        np.testing.assert_allclose(out.values, _scipy_reference(raw, out, RAW_TO_ORTHO), atol=1e-9)


def test_whole_5d_equals_each_stack_and_channel(deskew_sample: Path) -> None:
    img = open_raw(deskew_sample, "slice_1_10x")
    whole = img.visor.resample(to_space="slice", version="v1", chunks=32)
    assert whole.dims == ("vs", "ch", "z", "y", "x")
    grid = OutputGrid.from_coords(whole.coords)
    computed = whole.compute()
    for stack in img.visor.stacks:
        for channel in img.visor.channels:
            one = img.sel(vs=stack, ch=channel)
            alone = one.visor.resample(to_space="slice", version="v1", grid=grid, chunks=17)
            np.testing.assert_array_equal(computed.sel(vs=stack, ch=channel).values, alone.values)
            # the shared grid holds each stack/channel's own default grid (union of bounds)
            own = OutputGrid.from_coords(one.visor.resample(to_space="slice", version="v1").coords)
            assert np.all(np.asarray(own.lower) >= np.asarray(grid.lower) - 1e-9)
            assert np.all(np.asarray(own.upper) <= np.asarray(grid.upper) + 1e-9)
    # stacks are 30 µm apart along x in slice space: the grid spans all three
    assert grid.upper[2] - grid.lower[2] >= 60 + 39 * 1.03 - 1e-6


def test_attrs_and_coordinates(deskew_sample: Path) -> None:
    img = open_raw(deskew_sample, "slice_1_10x")
    out = img.sel(vs="stack_3", ch="561").visor.resample(to_space="ortho", version="v1")
    assert out.dtype == img.dtype
    assert out.attrs["from_space"] == "raw"
    assert out.attrs["to_space"] == "ortho"
    assert out.attrs["transform_version"] == "v1"
    assert (out.attrs["stack"], out.attrs["channel"]) == (1, 1)
    np.testing.assert_allclose(out.attrs["transform_matrix"], RAW_TO_ORTHO.homogeneous)
    assert out.attrs["source_image_name"] == "slice_1_10x"
    assert out.attrs["source_resolution_level"] == "0"
    assert out.attrs["interpolation_order"] == 1
    for dim in "zyx":
        assert out.coords[dim].attrs["units"] == "micrometer"
        np.testing.assert_allclose(np.diff(out.coords[dim].values), 1.03)  # finest spacing
    assert str(out.coords["vs"].values) == "stack_3"
    five = img.visor.resample(to_space="ortho", version="v1")
    assert five.attrs["stack"] == [0, 1, 2]
    assert five.attrs["channel"] == [0, 1]
    assert np.asarray(five.attrs["transform_matrix"]).shape == (3, 2, 4, 4)
    assert "position_x" in five.coords
    assert "wavelength" in five.coords


def test_transform_argument_equals_stored_version(deskew_sample: Path) -> None:
    raw = open_raw(deskew_sample, "slice_1_10x").sel(vs="stack_1", ch="488")
    stored = raw.visor.resample(to_space="ortho", version="v1")
    given = raw.visor.resample(to_space="ortho", transform=RAW_TO_ORTHO)
    xr.testing.assert_identical(stored.drop_attrs(), given.drop_attrs())
    assert "transform_version" not in given.attrs
    by_label = open_raw(deskew_sample, "slice_1_10x").visor.resample(
        to_space="ortho",
        transform={
            "stack_1": RAW_TO_ORTHO,
            "stack_3": RAW_TO_ORTHO,
            ("stack_4", "488"): RAW_TO_ORTHO,
            "561": RAW_TO_ORTHO,
        },
    )
    np.testing.assert_array_equal(by_label.sel(vs="stack_1", ch="488").values, stored.values)


def test_plain_dataarray_in_micrometres() -> None:
    """Without VISoR metadata, a non-raw from_space takes the coordinates as positions."""
    data = xr.DataArray(
        np.arange(4 * 5 * 6, dtype=np.float64).reshape(4, 5, 6),
        dims=("z", "y", "x"),
        coords={"z": 2.0 * np.arange(4), "y": np.arange(5.0), "x": np.arange(6.0)},
    )
    shift = Affine(np.eye(3), [10.0, 0.0, 0.0])
    out = resample_dataarray(data, to_space="slice", from_space="ortho", transform=shift)
    np.testing.assert_allclose(out.coords["z"].values, 10.0 + np.arange(7))  # spacing 1: min step
    np.testing.assert_allclose(out.sel(z=[10.0, 12.0, 14.0]).values, data.values[:3])
    with pytest.raises(vx.MetadataError, match="from_space"):
        resample_dataarray(data, to_space="slice", transform=shift)


# --------------------------------------------------------------------------- levels


def test_choose_level_rule(deskew_sample: Path) -> None:
    img = open_raw(deskew_sample, "slice_1_10x")
    maps = [RAW_TO_ORTHO @ COORDS_TO_RAW]
    # level 1 halves y and x: a y/x step becomes 2.06 µm in ortho space (z stays 4.95)
    assert choose_level(img.visor.metadata, maps, (2.0, 2.0, 2.0)) == "0"
    assert choose_level(img.visor.metadata, maps, (9.0, 9.0, 2.06)) == "1"
    assert choose_level(img.visor.metadata, maps, (2.5, 2.5, 2.5)) == "1"


def test_level_auto_reads_the_coarse_level(deskew_sample: Path) -> None:
    img = open_raw(deskew_sample, "slice_1_10x").sel(vs="stack_1", ch="488")
    auto = img.visor.resample(to_space="ortho", version="v1", spacing=2.5)
    assert auto.attrs["source_resolution_level"] == "1"
    explicit = img.visor.resample(to_space="ortho", version="v1", spacing=2.5, level=1)
    level1 = img.visor.open_level(1).sel(vs="stack_1", ch="488")
    as_is = level1.visor.resample(
        to_space="ortho", version="v1", grid=OutputGrid.from_coords(auto.coords), level=None
    )
    np.testing.assert_array_equal(auto.values, explicit.values)
    np.testing.assert_array_equal(auto.values, as_is.values)
    fine = img.visor.resample(to_space="ortho", version="v1", spacing=2.0)
    assert fine.attrs["source_resolution_level"] == "0"


def test_level_auto_on_a_subset_reads_the_same_region(deskew_sample: Path) -> None:
    img = open_raw(deskew_sample, "slice_1_10x").sel(vs="stack_3", ch="488")
    subset = img.isel(z=slice(2, 12), y=slice(5, 25), x=slice(3, 31))
    auto = subset.visor.resample(to_space="ortho", version="v1", spacing=2.5)
    assert auto.attrs["source_resolution_level"] == "1"
    level1 = img.visor.open_level(1).sel(vs="stack_3", ch="488")
    region = {
        d: slice(
            float(subset[d].min()) - 2.06 * (d != "z") - 3.5 * (d == "z"),
            float(subset[d].max()) + 2.06 * (d != "z") + 3.5 * (d == "z"),
        )
        for d in "zyx"
    }
    expected = level1.sel(region).visor.resample(
        to_space="ortho", version="v1", grid=OutputGrid.from_coords(auto.coords), level=None
    )
    np.testing.assert_array_equal(auto.values, expected.values)


def test_changed_data_are_resampled_as_they_are(deskew_sample: Path) -> None:
    img = open_raw(deskew_sample, "slice_1_10x").sel(vs="stack_1", ch="488")
    doubled = (img.astype(np.float64) * 2).visor.resample(
        to_space="ortho", version="v1", spacing=2.5
    )
    assert doubled.attrs["source_resolution_level"] == "0"  # not re-read from the file
    once = img.visor.resample(
        to_space="ortho", version="v1", spacing=2.5, level=0, dtype="float64"
    )
    np.testing.assert_allclose(doubled.values, 2 * once.values, rtol=1e-12)
    with pytest.raises(ValueError, match="level=None"):
        (img * 2).visor.resample(to_space="ortho", version="v1", level=1)
    # indexing keeps the engine's record of the stored level; computing drops it
    assert "visor_source" in img.isel(z=slice(0, 5)).transpose("x", "y", "z").encoding
    assert "visor_source" not in img.astype(np.float64).encoding
    assert "visor_source" not in img.where(img > 0).encoding


def test_loaded_data_are_read_from_the_file_unless_level_none(deskew_sample: Path) -> None:
    """Loading keeps the values on disk, so a coarser level may still be read; values
    changed in place (behind xarray's back) are resampled as they are with level=None."""
    img = open_raw(deskew_sample, "slice_1_10x").sel(vs="stack_1", ch="488")
    lazy = img.visor.resample(to_space="ortho", version="v1", spacing=2.5)
    loaded = img.load()
    auto = loaded.visor.resample(to_space="ortho", version="v1", spacing=2.5)
    assert auto.attrs["source_resolution_level"] == "1"
    np.testing.assert_array_equal(auto.values, lazy.values)
    loaded.values[...] = 7
    as_is = loaded.visor.resample(
        to_space="ortho", version="v1", grid=OutputGrid.from_coords(lazy.coords), level=None
    )
    inside = as_is.values[as_is.values > 0]
    assert inside.size > 0
    assert np.all(inside == 7)


# --------------------------------------------------------------------------- errors


def test_bad_arguments(deskew_sample: Path) -> None:
    raw = open_raw(deskew_sample, "slice_1_10x").sel(vs="stack_1", ch="488")
    with pytest.raises(ValueError, match="not both"):
        raw.visor.resample(to_space="ortho", version="v1", transform=RAW_TO_ORTHO)
    with pytest.raises(ValueError, match="version="):
        raw.visor.resample(to_space="ortho")
    with pytest.raises(vx.UnknownVersionError, match="v2"):
        raw.visor.resample(to_space="ortho", version="v2")
    with pytest.raises(vx.UnknownTransformError, match="atlas"):
        raw.visor.resample(to_space="atlas", version="v1")
    with pytest.raises(ValueError, match="order"):
        raw.visor.resample(to_space="ortho", version="v1", order=7)
    with pytest.raises(ValueError, match="mode"):
        raw.visor.resample(to_space="ortho", version="v1", mode="wrap")
    with pytest.raises(ValueError, match="float output dtype"):
        raw.visor.resample(to_space="ortho", version="v1", fill_value=np.nan)
    with pytest.raises(ValueError, match="grid= alone"):
        raw.visor.resample(
            to_space="ortho", version="v1", spacing=1.0, grid=OutputGrid((0, 0, 0), 1, 4)
        )
    with pytest.raises(vx.UnknownLevelError):
        raw.visor.resample(to_space="ortho", version="v1", level=5)
    with pytest.raises(ValueError, match="spacing must be positive"):
        raw.visor.resample(to_space="ortho", version="v1", spacing=-1)
