"""Reading outer selections of a level array through the zarrs pipeline without fallbacks.

The zarrs pipeline decodes contiguous selections (unit-step slices and integers) in Rust;
strided slices and integer arrays would make zarr-python silently fall back to its slower
pipeline, so :func:`read_outer` reads the covering contiguous block(s) with zarrs and
finishes the selection in numpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import zarr

from visor_xarray.zarr_io.arrays import as_safe

__all__ = ["read_outer"]

# An integer-array selection is read as one bounding block when it covers at least this
# fraction of the block; sparser ones are read one index at a time.
_DENSE_FRACTION = 0.25


def _contiguous(key: tuple[Any, ...]) -> bool:
    return all(
        isinstance(k, int | np.integer) or (isinstance(k, slice) and k.step in (None, 1))
        for k in key
    )


def read_outer(array: zarr.Array, key: tuple[Any, ...]) -> np.ndarray:  # type: ignore[type-arg]
    """Read an outer selection, sending only contiguous selections to the codec pipeline.

    Parameters
    ----------
    array : zarr.Array
        The level array.
    key : tuple
        One entry per axis: an integer, a slice, or a 1-D integer array (outer indexing).

    Returns
    -------
    numpy.ndarray
        Same result as ``array.oindex[key]``.

    Raises
    ------
    CorruptDataError
        If a shard the selection touches cannot be decoded; names the shard file(s).
    """
    array = as_safe(array)
    if _contiguous(key):
        return np.asarray(array[key])
    block: list[int | slice] = []
    finish: list[Any] = []
    for k, size in zip(key, array.shape, strict=True):
        if isinstance(k, int | np.integer):
            block.append(int(k))
            continue
        if isinstance(k, slice):
            start, stop, step = k.indices(size)
            if step == 1:
                block.append(slice(start, stop))
                finish.append(slice(None))
                continue
            indices = np.arange(start, stop, step)
        else:
            indices = np.asarray(k, dtype=np.int64)
            indices = np.where(indices < 0, indices + size, indices)
        if indices.size == 0:
            block.append(slice(0, 0))
            finish.append(slice(None))
            continue
        low, high = int(indices.min()), int(indices.max()) + 1
        if np.unique(indices).size >= _DENSE_FRACTION * (high - low):
            block.append(slice(low, high))
            finish.append(indices - low)
        else:
            return _read_sparse(array, key)
    data = np.asarray(array[tuple(block)])
    return data[np.ix_(*[np.arange(n)[f] for f, n in zip(finish, data.shape, strict=True)])]


def _read_sparse(array: zarr.Array, key: tuple[Any, ...]) -> np.ndarray:  # type: ignore[type-arg]
    """Read a sparse integer-array selection one index at a time along its first array axis."""
    for axis, (k, size) in enumerate(zip(key, array.shape, strict=True)):
        if isinstance(k, int | np.integer | slice):
            continue
        indices = np.asarray(k, dtype=np.int64)
        indices = np.where(indices < 0, indices + size, indices)
        position = sum(1 for j in key[:axis] if not isinstance(j, int | np.integer))
        parts = [
            read_outer(array, (*key[:axis], slice(int(i), int(i) + 1), *key[axis + 1 :]))
            for i in indices
        ]
        return np.concatenate(parts, axis=position)
    raise AssertionError("unreachable: a sparse selection has an integer array")
