"""Stitching a tiled slice: overlaps blended, gaps filled, each block reads only its stacks.

The sample is a VISoR-like slice: four deskewed stacks side by side along x, the first three
overlapping their neighbours by ~8 µm, the fourth leaving a gap. The oracle resamples every
stack on its own onto the whole grid (``resample``, float64, NaN outside) and blends them
voxel by voxel with numpy: the block-driven stitch must give the same values.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dask
import numpy as np
import numpy.typing as npt
import pytest
import xarray as xr
from dask.blockwise import Blockwise
from resample_helpers import SPACING, open_raw, write_raw

import visor_xarray as vx
from visor_xarray.resample import OutputGrid
from visor_xarray.store import LevelSource
from visor_xarray.testing import make_sample
from visor_xarray.transforms import Affine, deskew

RAW = (16, 20, 32)  # (z, y, x) voxels of each stack
#: x position (µm) of each stack in slice space: 33 µm wide stacks, the last after a gap
OFFSETS = (0.0, 25.0, 50.0, 110.0)
STACKS = ("stack_1", "stack_2", "stack_3", "stack_4")
NAME = "slice_1_10x"


@pytest.fixture(scope="module")
def tiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = make_sample(
        tmp_path_factory.mktemp("tiled") / "T.vsr",
        stacks=STACKS,
        shape=RAW,
        chunk=(8, 8, 8),
        shard=(16, 16, 16),
    )
    xfm = vx.Transform(path, version="v1", name=NAME)
    for stack, offset in enumerate(OFFSETS):
        for channel in range(2):
            place = Affine(np.eye(3), [0.0, 0.0, offset]) @ deskew(45, SPACING, RAW[1])
            xfm.save(place, name="raw_to_slice", stack=stack, channel=channel)
    return path


def _oracle(
    img: xr.DataArray, mosaic: xr.DataArray, blend: str, dtype: Any, fill: float
) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    """Blend whole-grid per-stack resamplings voxel by voxel; also return the cover count.

    The resamplings use the mosaic's grid and blocks: a voxel exactly on a stack's edge
    is inside or outside by float rounding of its block's offset, so only equal blocks
    decide every edge voxel alike.
    """
    stacks = img.visor.resample(
        to_space="slice",
        version="v1",
        grid=OutputGrid.from_coords(mosaic.coords),
        chunks=[c[0] for c in mosaic.chunks[-3:]],
        fill_value=np.nan,
        dtype="float64",
    ).values
    covered = ~np.isnan(stacks)
    count = covered.sum(axis=0)
    if blend == "mean":
        value = np.where(covered, stacks, 0.0).sum(axis=0) / np.maximum(count, 1)
    else:
        value = np.where(covered, stacks, -np.inf).max(axis=0)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return np.where(count > 0, value, fill).astype(dtype), count
    # one stack: as resample rounds (half away from zero); several: half to even
    single = np.where(value > 0, np.floor(value + 0.5), np.ceil(value - 0.5))
    rounded = np.where(count == 1, single, np.round(value))
    rounded = np.where(count > 0, rounded, fill)
    info = np.iinfo(dtype)
    return np.clip(rounded, info.min, info.max).astype(dtype), count


@pytest.mark.parametrize("blend", ["mean", "max"])
@pytest.mark.parametrize(("dtype", "spacing"), [("uint16", 0.5), ("float32", 1.03)])
@pytest.mark.parametrize("chunks", [None, (7, 9, 11)])
def test_stitch_equals_blending_whole_resamplings(
    tiled: Path, blend: str, dtype: str, spacing: float, chunks: Any
) -> None:
    img = open_raw(tiled, NAME).sel(ch="561")
    mosaic = img.visor.stitch(
        version="v1", blend=blend, spacing=spacing, dtype=dtype, fill_value=3, chunks=chunks
    )
    expected, count = _oracle(img, mosaic, blend, dtype, fill=3)
    assert mosaic.dtype == np.dtype(dtype)
    if np.dtype(dtype).kind == "f":
        np.testing.assert_allclose(mosaic.values, expected, rtol=1e-6)
    else:
        np.testing.assert_array_equal(mosaic.values, expected)
    # every case happens: one stack, overlaps of two, and the gap before the last stack
    assert {0, 1, 2} <= set(np.unique(count))
    gap = mosaic.sel(x=slice(OFFSETS[2] + RAW[2] * SPACING[2] + 2, OFFSETS[3] - 2))
    assert gap.sizes["x"] > 0
    assert np.all(gap.values == 3)


def test_voxels_one_stack_covers_equal_its_resample(tiled: Path) -> None:
    """Where a stack alone covers a voxel the stitch is exactly that stack's resample
    (uint16, with rounding ties at 0.5 µm spacing), in blocks reached by several stacks
    as in blocks reached by one."""
    img = open_raw(tiled, NAME).sel(ch="488")
    mosaic = img.visor.stitch(version="v1", spacing=0.5, fill_value=0, chunks=(8, 16, 16))
    grid = OutputGrid.from_coords(mosaic.coords)
    _, count = _oracle(img, mosaic, "mean", "uint16", fill=0)
    values = mosaic.values
    for label in STACKS:
        stack = img.sel(vs=label)
        alone = stack.visor.resample(to_space="slice", version="v1", grid=grid, chunks=(8, 16, 16))
        own = stack.visor.resample(
            to_space="slice",
            version="v1",
            grid=grid,
            chunks=(8, 16, 16),
            fill_value=np.nan,
            dtype="float64",
        )
        only = (count == 1) & ~np.isnan(own.values)
        assert only.sum() > 100, label
        np.testing.assert_array_equal(values[only], alone.values[only], err_msg=label)


def test_integer_rounding_one_stack_like_resample_several_half_to_even(tmp_path: Path) -> None:
    """Ties at x.5: a voxel one stack covers rounds as resample does (half away from
    zero), a mean of several rounds half to even."""
    data = np.zeros((2, 1, 2, 2, 6), np.uint16)
    data[..., :] = [10, 11, 20, 21, 30, 31]  # neighbours differ by odd amounts
    path = write_raw(tmp_path / "ties.vsr", data, stacks=("a", "b"), spacing=(1.0, 1.0, 1.0))
    img = open_raw(path)
    place = {"a": Affine.identity(), "b": Affine(np.eye(3), [0.0, 0.0, 3.0])}
    grid = OutputGrid((0.0, 0.0, 0.0), (1.0, 1.0, 0.5), (2, 2, 17))  # x = 0, 0.5, ..., 8
    mosaic = img.visor.stitch(transform=place, grid=grid).values[0, 0, 0]
    # x = 0.5: "a" alone, 10.5 -> 11 (resample's rule, not half to even); x = 3.5: a 25.5
    # and b 10.5, mean 18; x = 4: a 30 and b 11, mean 20.5 -> 20 (half to even)
    alone = img.sel(vs="a").visor.resample(transform=place["a"], to_space="slice", grid=grid)
    assert mosaic[1] == alone.values[0, 0, 0, 1] == 11
    assert mosaic[7] == 18
    assert mosaic[8] == 20
    assert mosaic[16] == 31  # x = 8: "b" alone at its voxel 5


def test_changed_data_stitch_as_they_are(tiled: Path) -> None:
    """Data changed after opening are stitched from their dask chunks, with equal values."""
    img = open_raw(tiled, NAME).sel(ch="561")
    stored = img.visor.stitch(version="v1", spacing=1.03, dtype="float32")
    changed = img.astype("float32")  # a computation: no longer the stored image
    assert "visor_source" not in changed.encoding
    as_is = changed.visor.stitch(
        version="v1", grid=OutputGrid.from_coords(stored.coords), dtype="float32", level=None
    )
    # blocks depend on the chunks they read: planned per block when the graph is built
    assert not isinstance(as_is.data.dask.layers[as_is.data.name], Blockwise)
    np.testing.assert_allclose(as_is.values, stored.values, rtol=1e-6)


def test_stitch_graph_is_one_lazy_layer(tiled: Path, no_compute: Callable[[], Any]) -> None:
    with no_compute():
        img = open_raw(tiled, NAME)
        mosaic = img.visor.stitch(version="v1", spacing=0.5, chunks=(4, 4, 4))
    layer = mosaic.data.dask.layers[mosaic.data.name]
    assert isinstance(layer, Blockwise)
    blocks = int(np.prod(mosaic.data.numblocks))
    assert blocks > 5000
    # a small region needs the 2 x 1 x 2 blocks it overlaps (a task each to compute and to
    # cut them, and the shared plan), not the whole graph
    region = mosaic.isel(ch=0, z=slice(10, 14), y=slice(8, 12), x=slice(40, 48))
    (optimised,) = dask.optimize(region.data)
    assert len(dict(optimised.__dask_graph__())) <= 2 * 4 + 1
    coarse = img.visor.stitch(
        version="v1", grid=OutputGrid.from_coords(mosaic.coords), chunks=(32, 32, 32)
    )
    np.testing.assert_array_equal(region.values, coarse.values[0, 10:14, 8:12, 40:48])


def test_blocks_read_only_the_stacks_that_reach_them(
    tiled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_stacks: list[int] = []
    original = LevelSource.read

    def recording(self: LevelSource, index: tuple[Any, ...]) -> Any:
        read_stacks.append(int(index[0]))
        return original(self, index)

    monkeypatch.setattr(LevelSource, "read", recording)
    img = open_raw(tiled, NAME).sel(ch="488")
    mosaic = img.visor.stitch(version="v1", spacing=1.0, chunks=(8, 8, 8))
    # x in [0, 16] µm: inside stack_1 only
    left = mosaic.sel(x=slice(2.0, 16.0)).isel(z=slice(8, 16), y=slice(0, 8))
    assert left.values.any()
    assert set(read_stacks) == {0}
    read_stacks.clear()
    # x around 30 µm: stacks 1 and 2 overlap there (stack_2 is index 1 in the file)
    middle = mosaic.sel(x=slice(28.0, 31.0)).isel(z=slice(8, 16), y=slice(0, 8))
    assert middle.values.any()
    assert set(read_stacks) == {0, 1}
