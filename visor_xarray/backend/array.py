"""Lazy xarray backend array over one level's ``zarr.Array``.

xarray hands us *outer* indexers (integers, slices and 1-D integer arrays per axis); they
are read by :func:`visor_xarray.zarr_io.read_outer`, which keeps every read on the zarrs
pipeline (no silent fallback for strided slices or integer arrays).

Stored data that fails to decode (a truncated or bit-flipped shard) raises
:class:`~visor_xarray.errors.CorruptDataError` naming the shard file(s) the selection
touched, whatever array is passed in (see :func:`visor_xarray.zarr_io.as_safe`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from xarray.backends import BackendArray
from xarray.core import indexing

from visor_xarray.zarr_io.arrays import as_safe
from visor_xarray.zarr_io.reading import read_outer

if TYPE_CHECKING:
    import zarr

__all__ = ["VisorBackendArray"]


class VisorBackendArray(BackendArray):
    """A lazily indexed view of one level array, for ``xarray.Variable``.

    Parameters
    ----------
    array : zarr.Array
        The level array (read-only, served by the zarrs pipeline by default).

    Notes
    -----
    Pickles cleanly (for dask.distributed): the array is rebuilt on the receiving side
    under the pipeline settings it was opened with (``zarrs_threads``, ...), see
    :class:`visor_xarray.zarr_io.SafeArray`.
    """

    def __init__(self, array: zarr.Array) -> None:  # type: ignore[type-arg]
        self.array = as_safe(array)
        self.shape = tuple(array.shape)
        self.dtype = np.dtype(array.dtype)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(  # type: ignore[no-any-return]
            key, self.shape, indexing.IndexingSupport.OUTER, self._getitem
        )

    def _getitem(self, key: tuple[Any, ...]) -> np.ndarray:
        return read_outer(self.array, key)
