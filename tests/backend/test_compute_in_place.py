"""``.visor.compute()``: the result of ``.compute()`` without dask's final gather."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr

import visor_xarray as vx
from visor_xarray.testing import make_sample

BLOCK_BYTES = 2**18  # dask_chunk_bytes: many blocks, so "blocks in flight" is small


@pytest.fixture(scope="module")
def big_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 stacks x 2 channels x (40, 128, 128) uint16 = 7.5 MiB decoded."""
    path = tmp_path_factory.mktemp("compute") / "VX002.vsr"
    return make_sample(
        path, shape=(40, 128, 128), chunk=(16, 32, 32), shard=(32, 64, 64), levels=1
    )


def _open(path: Path) -> xr.Dataset:
    with vx.set_options(dask_chunk_bytes=BLOCK_BYTES):
        return xr.open_dataset(path, engine="visor", name="slice_1_10x", chunks={})


def test_dataset_equals_compute_after_selection(big_sample: Path) -> None:
    ds = _open(big_sample)
    assert ds["image"].data.npartitions > 20
    subset = (
        ds.sel(vs=["stack_4", "stack_1"], ch="561")
        .sel(z=slice(10.0, 90.0))
        .isel(y=slice(3, 120, 5))
    )
    result = subset.visor.compute()
    xr.testing.assert_identical(result, subset.compute())
    assert type(result["image"].data) is np.ndarray
    assert result["image"].encoding == subset["image"].encoding
    assert isinstance(subset["image"].data, da.Array), "the input must stay lazy"


def test_dataarray_with_lazy_coordinate_of_its_own_name() -> None:
    values = da.arange(30, chunks=7).reshape(5, 6).rechunk((2, 4))
    marks = da.arange(5, chunks=2) * 10
    array = xr.DataArray(values, dims=("t", "u"), coords={"t2": ("t", marks)}, name="t2")
    result = array.visor.compute()
    xr.testing.assert_identical(result, array.compute())
    assert type(result.data) is np.ndarray
    assert type(result["t2"].data) is np.ndarray
    assert isinstance(array.data, da.Array)
    assert isinstance(array["t2"].data, da.Array)


def test_values_equal_what_visor_py_reads(big_sample: Path) -> None:
    import visor

    expected = np.asarray(visor.Image(big_sample, "raw", "slice_1_10x").load(0)[...])
    np.testing.assert_array_equal(_open(big_sample)["image"].visor.compute().values, expected)


@pytest.mark.parametrize("scheduler", ["synchronous", "threads", "processes"])
def test_every_scheduler_gives_the_same_result(big_sample: Path, scheduler: str) -> None:
    """Processes do not share the result array: the method must fall back, not return junk."""
    image = _open(big_sample)["image"].isel(vs=1)
    expected = image.compute(scheduler="synchronous")
    np.testing.assert_array_equal(image.visor.compute(scheduler=scheduler).values, expected.values)
    with dask.config.set(scheduler=scheduler):
        np.testing.assert_array_equal(image.visor.compute().values, expected.values)


def test_numpy_backed_object_is_returned_equal() -> None:
    array = xr.DataArray(np.arange(6).reshape(2, 3), dims=("a", "b"), attrs={"k": 1})
    result = array.visor.compute()
    xr.testing.assert_identical(result, array)


def _peak_bytes(action) -> int:  # type: ignore[no-untyped-def]
    """Peak traced bytes (numpy reports its buffers to tracemalloc) while ``action`` runs."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = action()
        peak = tracemalloc.get_traced_memory()[1] - base
        del result
        return peak
    finally:
        tracemalloc.stop()


def test_peak_memory_is_result_plus_blocks_not_twice_the_result(big_sample: Path) -> None:
    image = _open(big_sample)["image"]
    nbytes = image.nbytes
    blocks = max(np.prod([max(c) for c in image.data.chunks]), 1) * image.dtype.itemsize
    with dask.config.set(scheduler="threads", num_workers=2):
        image.visor.compute(), image.compute()  # first calls import and cache: not measured
        in_place = _peak_bytes(image.visor.compute)
        gathered = _peak_bytes(image.compute)
    # the result, a few blocks in flight per worker, and zarrs' per-call buffers
    assert in_place < nbytes + 16 * blocks, (in_place, nbytes, blocks)
    assert gathered > 1.8 * nbytes, "dask's gather should hold blocks and result together"
