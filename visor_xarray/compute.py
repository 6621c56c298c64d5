"""Compute dask-backed xarray objects by writing each block straight into its place.

``Dataset.compute()`` hands dask's result to ``concatenate3``: every block is held until
the last one is done, then copied on one thread into a fresh array of the full size. The
peak is twice the result, and the copy is serial. Writing each block into a preallocated
result as soon as it is computed (``dask.array.store`` with numpy targets) peaks at the
result plus the blocks in flight, and the copies run in the worker threads.

That only works when the workers share this process's memory. Under any other scheduler
(processes, dask.distributed) the targets would be pickled to the workers and the result
silently left empty, so :func:`compute_in_place` falls back to xarray's own ``compute``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any, TypeVar

import dask.array as da
import numpy as np
import xarray as xr
from dask.base import get_scheduler
from dask.local import get_sync
from dask.threaded import get as threaded_get

__all__ = ["compute_in_place"]

T = TypeVar("T", xr.DataArray, xr.Dataset)

# The DataArray's own variable, keyed apart from its coordinates (which may share its name).
_MAIN = object()

_SHARED_MEMORY_SCHEDULERS = (threaded_get, get_sync)


def compute_in_place(obj: T, **compute_kwargs: Any) -> T:
    """Return ``obj`` with every dask-backed variable computed into a preallocated array.

    Equal to ``obj.compute(**compute_kwargs)``, without dask's final gather: peak memory
    is the result plus the blocks in flight instead of twice the result.

    Parameters
    ----------
    obj : xarray.DataArray or xarray.Dataset
        Left unchanged.
    **compute_kwargs
        Passed to dask (``scheduler=``, ``num_workers=``, ...).

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        Same type, coordinates, attrs and encoding as ``obj``, holding numpy arrays.

    Notes
    -----
    Falls back to ``obj.compute(**compute_kwargs)`` when the scheduler does not share
    this process's memory (``"processes"``, a dask.distributed client), and for
    variables whose blocks are not plain numpy arrays or whose shape is unknown.
    """
    result = obj.copy(deep=False)
    variables = _variables(result)
    sources = {key: var.data for key, var in variables.items() if _storable(var.data)}
    if not sources or not _shares_memory(list(sources.values()), compute_kwargs):
        return obj.compute(**compute_kwargs)
    targets = {key: np.empty(array.shape, dtype=array.dtype) for key, array in sources.items()}
    da.store(
        list(sources.values()),
        list(targets.values()),
        lock=False,  # chunk regions are disjoint
        compute=True,
        **compute_kwargs,
    )
    for key, target in targets.items():
        variables[key].data = target
    # whatever the fast path could not take (other array types) is computed as usual
    return result.compute(**compute_kwargs)


def _variables(obj: xr.DataArray | xr.Dataset) -> Mapping[Hashable, xr.Variable]:
    """The object's own Variable objects (not copies), so assigning ``.data`` updates it."""
    if isinstance(obj, xr.Dataset):
        return dict(obj.variables)
    found: dict[Hashable, xr.Variable] = {name: obj.coords[name].variable for name in obj.coords}
    found[_MAIN] = obj.variable
    return found


def _storable(data: Any) -> bool:
    return (
        isinstance(data, da.Array)
        and type(data._meta) is np.ndarray
        and not any(np.isnan(size) for size in data.shape)
    )


def _shares_memory(sources: list[da.Array], compute_kwargs: Mapping[str, Any]) -> bool:
    scheduler = get_scheduler(  # type: ignore[no-untyped-call]
        scheduler=compute_kwargs.get("scheduler"), collections=sources
    )
    return scheduler in _SHARED_MEMORY_SCHEDULERS
