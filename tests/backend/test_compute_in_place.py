"""``.visor.compute()``: the result of ``.compute()`` without dask's final gather."""

from __future__ import annotations

import multiprocessing
import threading
import tracemalloc
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from dask.callbacks import Callback

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


class TaskNames(Callback):
    """Names (key prefixes) of the tasks dask ran."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def _posttask(
        self, key: object, result: object, dsk: object, state: object, id: object
    ) -> None:
        self.names.add(str(key[0] if isinstance(key, tuple) else key))


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


LARGE = 2_000_000  # np.empty of this many float64 comes from fresh pages: junk is visible


def _large() -> xr.DataArray:
    return xr.DataArray(da.arange(LARGE, chunks=LARGE // 8, dtype=np.float64) + 7, dims="a")


@pytest.mark.parametrize("how", ["keyword", "config"])
def test_a_process_pool_falls_back(how: str) -> None:
    """The threaded scheduler runs on whatever pool it is given; processes do not share."""
    array = _large()
    # spawn: a forked worker inherits zarrs' thread pool without its threads (see the docs)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        if how == "keyword":
            result = array.visor.compute(pool=pool)
        else:
            with dask.config.set(pool=pool):
                result = array.visor.compute()
    np.testing.assert_array_equal(result.values, np.arange(LARGE, dtype=np.float64) + 7)


def test_a_thread_pool_takes_the_fast_path() -> None:
    array = _large()
    with ThreadPoolExecutor(2) as pool, TaskNames() as tasks:
        result = array.visor.compute(pool=pool)
    np.testing.assert_array_equal(result.values, np.arange(LARGE, dtype=np.float64) + 7)
    assert any(name.startswith("visor-compute-") for name in tasks.names)


def _blocks_as(function, declared_dtype) -> xr.DataArray:  # type: ignore[no-untyped-def]
    source = da.from_array(np.array([100, 200, 300, 65535, 7, 9], dtype=np.uint16), chunks=2)
    return xr.DataArray(source.map_blocks(function, dtype=declared_dtype), dims="x")


@pytest.mark.parametrize(
    ("function", "declared"),
    [
        (lambda b: b * 0.5, np.uint8),  # wrong declared dtype
        (lambda b: np.ma.masked_equal(b.astype(float), 65535), float),  # masked blocks
        (lambda b: b.astype("<U5"), "<U2"),  # longer strings than declared
    ],
    ids=["dtype", "masked", "strings"],
)
def test_blocks_unlike_their_declaration_are_returned_as_compute_returns_them(
    function, declared
) -> None:  # type: ignore[no-untyped-def]
    array = _blocks_as(function, declared)
    xr.testing.assert_identical(array.visor.compute(), array.compute())


def test_blocks_of_another_shape_raise_as_compute_does() -> None:
    array = xr.DataArray(da.arange(8.0, chunks=4), dims="t")
    broken = array.copy(data=array.data.map_blocks(lambda b: b.max(keepdims=True)))
    with pytest.raises(ValueError, match="shape") as expected:
        broken.compute()
    with pytest.raises(type(expected.value), match="shape"):
        broken.visor.compute()


@pytest.mark.parametrize("kwargs", [{"lock": True}, {"compute": False}, {"regions": None}])
def test_compute_keywords_behave_as_for_compute(kwargs: dict[str, object]) -> None:
    array = xr.DataArray(da.arange(10.0, chunks=3), dims="t")
    xr.testing.assert_identical(array.visor.compute(**kwargs), array.compute(**kwargs))


class _Tagged(np.ndarray):
    """Stands in for a non-numpy block type (sparse, cupy, ...)."""


def test_shared_upstream_runs_once_with_other_block_types() -> None:
    calls: list[int] = []
    lock = threading.Lock()

    def counted(block: np.ndarray) -> np.ndarray:
        with lock:
            calls.append(1)
        return block

    base = da.arange(100.0, chunks=10).map_blocks(counted)
    tagged = base.map_blocks(lambda b: b.view(_Tagged), meta=np.empty(0).view(_Tagged))
    ds = xr.Dataset({"plain": ("a", base + 1), "tagged": ("a", tagged)})
    calls.clear()  # dask may call it once while building the graph
    result = ds.visor.compute(scheduler="threads")
    assert len(calls) == 10
    expected = ds.compute()
    xr.testing.assert_identical(result, expected)
    assert type(result["tagged"].data) is type(expected["tagged"].data)
