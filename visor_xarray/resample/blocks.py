"""Per-block tasks of the resampling graph: read a footprint, interpolate, or fill.

A :class:`_Block` carries everything a task needs besides the source data; the task
functions and :class:`_Reader` are module-level so that graphs stay picklable (e.g. for
``dask.distributed``). Interpolation dispatches to the separable kernel or to
:func:`scipy.ndimage.affine_transform` (both in :mod:`visor_xarray.resample.kernels`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr

from visor_xarray.resample.kernels import affine_block, separable_block

__all__: list[str] = []


@dataclass(frozen=True, eq=False)
class _Block:
    """Everything a block task needs besides the source data (opaque to dask)."""

    shape: tuple[int, int, int]
    matrix: npt.NDArray[np.float64]
    offset: npt.NDArray[np.float64]
    order: int
    mode: str
    cval: float
    dtype: np.dtype[Any]
    prefilter: bool
    # number of leading (length-1) dims of the output block
    lead: int = 0
    # the decoupled axis when the separable kernel applies (see kernels.py), else None
    separable_axis: int | None = None
    # per axis, the source's first and last voxel in footprint coordinates
    limits: tuple[tuple[float, float], ...] = ()
    # indexable sources: the index of the footprint in the (transposed) source
    read: tuple[Any, ...] = ()
    # dask sources: footprint shape and, per chunk, (index into chunk, slices into footprint)
    box_shape: tuple[int, int, int] = (0, 0, 0)
    pieces: tuple[tuple[tuple[Any, ...], tuple[slice, ...]], ...] = ()


class _Reader:
    """Reads a region of an indexable source (numpy or xarray lazy backend data)."""

    def __init__(self, variable: xr.Variable) -> None:
        self.variable = variable

    def __call__(self, index: tuple[Any, ...]) -> npt.NDArray[Any]:
        # Indexing a lazily indexed Variable composes the index; .values reads only it.
        return np.asarray(self.variable[index].values)


def _interpolate(data: npt.NDArray[Any], block: _Block) -> npt.NDArray[Any]:
    if block.separable_axis is not None:
        out = separable_block(
            data,
            block.matrix,
            block.offset,
            block.shape,
            order=block.order,
            mode=block.mode,
            cval=block.cval,
            dtype=block.dtype,
            axis=block.separable_axis,
            limits=block.limits,
        )
    else:
        out = affine_block(
            data,
            block.matrix,
            block.offset,
            block.shape,
            order=block.order,
            mode=block.mode,
            cval=block.cval,
            dtype=block.dtype,
            prefilter=block.prefilter,
        )
    return out.reshape((1,) * block.lead + block.shape)


def _block_from_reader(reader: _Reader, block: _Block) -> npt.NDArray[Any]:
    return _interpolate(reader(block.read), block)


def _block_from_chunks(chunks: list[npt.NDArray[Any]], block: _Block) -> npt.NDArray[Any]:
    if len(chunks) == 1:
        index, _ = block.pieces[0]
        data = chunks[0][index]
    else:
        data = np.empty(block.box_shape, dtype=chunks[0].dtype)
        for chunk, (index, target) in zip(chunks, block.pieces, strict=True):
            data[target] = chunk[index]
    return _interpolate(data, block)


def _fill_block(block: _Block) -> npt.NDArray[Any]:
    return np.full((1,) * block.lead + block.shape, block.cval, dtype=block.dtype)
