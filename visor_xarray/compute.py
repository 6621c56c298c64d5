"""Compute dask-backed xarray objects by writing each block straight into its place.

``Dataset.compute()`` hands dask's result to ``concatenate3``: every block is held until
the last one is done, then copied on one thread into a fresh array of the full size. The
peak is twice the result, and the copy is serial. Writing each block into a preallocated
result as soon as it is computed peaks at the result plus the blocks in flight, and the
copies run in the worker threads.

That only works when the workers share this process's memory. Under any other scheduler
or pool (processes, dask.distributed) the targets would be pickled to the workers and the
result silently left empty, so :func:`compute_in_place` falls back to xarray's own
``compute``. It also falls back when a block is not what its array declares (dtype,
shape, a masked array): ``compute`` returns such blocks as they are, a preallocated
target would cast or broadcast them.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Mapping
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.pool import ThreadPool
from typing import Any, TypeVar

import dask
import dask.array as da
import numpy as np
import xarray as xr
from dask.base import compute as dask_compute
from dask.base import get_scheduler
from dask.local import get_sync
from dask.threaded import get as threaded_get

__all__ = ["compute_in_place"]

T = TypeVar("T", xr.DataArray, xr.Dataset)

# The DataArray's own variable, keyed apart from its coordinates (which may share its name).
_MAIN = object()

_SHARED_MEMORY_SCHEDULERS = (threaded_get, get_sync)


class _BlockMismatch(Exception):
    """A block differs from what its dask array declares (raised inside a task)."""


class _Target:
    """Holds the preallocated result; a plain holder keeps dask from hashing the array."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray) -> None:
        self.array = array


def compute_in_place(obj: T, **compute_kwargs: Any) -> T:
    """Return ``obj`` with every dask-backed variable computed into a preallocated array.

    Equal to ``obj.compute(**compute_kwargs)``, without dask's final gather: peak memory
    is the result plus the blocks in flight instead of twice the result.

    Parameters
    ----------
    obj : xarray.DataArray or xarray.Dataset
        Left unchanged.
    **compute_kwargs
        Passed to ``dask.compute`` (``scheduler=``, ``num_workers=``, ...).

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        Same type, coordinates, attrs and encoding as ``obj``, holding numpy arrays.

    Notes
    -----
    Falls back to ``obj.compute(**compute_kwargs)`` when the scheduler or its ``pool``
    does not share this process's memory (``"processes"``, a process pool, a
    dask.distributed client, a custom ``get``) and when a block is not the numpy array
    its dask array declares (other dtype or shape, a masked array). Variables whose
    declared block type is not numpy (sparse, cupy, ...) or whose shape is unknown are
    computed by dask as usual, in the same graph.
    """
    result = obj.copy(deep=False)
    variables = _variables(result)
    lazy = {key: var.data for key, var in variables.items() if isinstance(var.data, da.Array)}
    storable = {key: data for key, data in lazy.items() if _storable(data)}
    if not storable or not _shares_memory(list(lazy.values()), compute_kwargs):
        return obj.compute(**compute_kwargs)
    targets = {key: np.empty(data.shape, dtype=data.dtype) for key, data in storable.items()}
    writers = [_writer(storable[key], targets[key]) for key in storable]
    others = {key: data for key, data in lazy.items() if key not in storable}
    try:
        computed = dask_compute(  # type: ignore[no-untyped-call]
            *writers, *others.values(), **compute_kwargs
        )
    except _BlockMismatch:
        return obj.compute(**compute_kwargs)
    for key, target in targets.items():
        variables[key].data = target
    for key, value in zip(others, computed[len(writers) :], strict=True):
        variables[key].data = value
    # lazily indexed numpy-backed variables (not dask) are loaded as .compute() would
    return result.compute(**compute_kwargs)


def _writer(source: da.Array, target: np.ndarray) -> da.Array:
    """A dask array of one flag per block; computing it writes ``source`` into ``target``."""
    writer: da.Array = da.map_blocks(  # type: ignore[no-untyped-call]
        _write_block,
        source,
        target=_Target(target),
        name=f"visor-compute-{uuid.uuid4().hex}",  # given: dask need not hash the target
        dtype=bool,
        meta=np.empty((0,) * source.ndim, dtype=bool),
        chunks=tuple((1,) * len(sizes) for sizes in source.chunks),
    )
    return writer


def _write_block(block: Any, target: _Target, block_info: Any = None) -> np.ndarray:
    """Copy one block into its region of the target, or raise if it is not as declared."""
    location = block_info[0]["array-location"]
    if (
        type(block) is not np.ndarray
        or block.dtype != target.array.dtype
        or block.shape != tuple(stop - start for start, stop in location)
    ):
        raise _BlockMismatch
    target.array[tuple(slice(start, stop) for start, stop in location)] = block
    return np.ones((1,) * block.ndim, dtype=bool)


def _variables(obj: xr.DataArray | xr.Dataset) -> Mapping[Hashable, xr.Variable]:
    """The object's own Variable objects (not copies), so assigning ``.data`` updates it."""
    if isinstance(obj, xr.Dataset):
        return dict(obj.variables)
    found: dict[Hashable, xr.Variable] = {name: obj.coords[name].variable for name in obj.coords}
    found[_MAIN] = obj.variable
    return found


def _storable(data: da.Array) -> bool:
    """True if the array declares plain numpy blocks and a known shape."""
    return type(data._meta) is np.ndarray and not any(np.isnan(size) for size in data.shape)


def _shares_memory(sources: list[da.Array], compute_kwargs: Mapping[str, Any]) -> bool:
    """True if the tasks would run in threads of this process (the targets are shared)."""
    scheduler = get_scheduler(  # type: ignore[no-untyped-call]
        scheduler=compute_kwargs.get("scheduler"), collections=sources
    )
    if scheduler not in _SHARED_MEMORY_SCHEDULERS:
        return False
    pool = compute_kwargs.get("pool") or dask.config.get("pool", None)
    return pool is None or isinstance(pool, ThreadPoolExecutor | ThreadPool)
