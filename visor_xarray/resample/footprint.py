"""Footprint margins, and the dask chunks a footprint overlaps.

The *footprint* of an output block is the axis-aligned box of source voxels its 8 corners
map back to, widened by the interpolation margin (:func:`footprint_margin`; the boxes
themselves are computed by :class:`~visor_xarray.resample.plan.ResamplePlan`). For dask
sources, :func:`footprint_pieces` lists the source chunks a footprint overlaps and what
to copy from each.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "SPLINE_MARGIN",
    "chunk_boundaries",
    "footprint_margin",
    "footprint_pieces",
]

#: Extra source voxels read around a footprint for spline orders >= 2. scipy prefilters
#: the footprint it is given; the influence of a cut decays like |sqrt(3) - 2|^k ~ 0.268^k
#: voxels away (cubic), so 12 voxels leave a relative difference below ~2e-7 to the
#: whole-volume prefilter.
SPLINE_MARGIN = 12


def footprint_margin(order: int) -> int:
    """Voxels read beyond the interpolation points of a block, per side.

    Parameters
    ----------
    order : int
        Spline order, 0 to 5.

    Returns
    -------
    int
        1 for orders 0 and 1 (the neighbours linear interpolation needs), else
        :data:`SPLINE_MARGIN`.
    """
    return 1 if order <= 1 else SPLINE_MARGIN


def chunk_boundaries(chunks: Sequence[int]) -> npt.NDArray[np.int64]:
    """The edges of the chunks along one axis: ``[0, c0, c0 + c1, ..., sum(chunks)]``.

    Parameters
    ----------
    chunks : sequence of int
        The chunk sizes along the axis.

    Returns
    -------
    numpy.ndarray
        ``len(chunks) + 1`` int64 edges.
    """
    return np.concatenate([[0], np.cumsum(chunks)]).astype(np.int64)


def footprint_pieces(
    name: str,
    bounds: Sequence[npt.NDArray[np.int64]],
    position: tuple[int, ...],
    box_lo: npt.NDArray[np.int64],
    box_hi: npt.NDArray[np.int64],
) -> tuple[list[tuple[Any, ...]], tuple[tuple[tuple[Any, ...], tuple[slice, ...]], ...]]:
    """Source chunk keys overlapping a footprint, with what to copy from each.

    Parameters
    ----------
    name : str
        The dask name of the source array.
    bounds : sequence of numpy.ndarray
        Per source axis, the chunk edges (:func:`chunk_boundaries`).
    position : tuple of int
        The position along the leading (non-spatial) axes.
    box_lo, box_hi : numpy.ndarray
        The footprint, ``[lo, hi)`` source voxel indices along z, y, x.

    Returns
    -------
    keys : list of tuple
        The dask keys of the chunks the footprint overlaps.
    pieces : tuple
        Per key, ``(index in the chunk, index in the footprint box)``.
    """
    lead_chunk: list[int] = []
    lead_local: list[int] = []
    for axis, index in enumerate(position):
        chunk = int(np.searchsorted(bounds[axis], index, side="right") - 1)
        lead_chunk.append(chunk)
        lead_local.append(int(index - bounds[axis][chunk]))
    ranges = []
    for axis in range(3):
        edges = bounds[len(position) + axis]
        first = int(np.searchsorted(edges, box_lo[axis], side="right") - 1)
        last = int(np.searchsorted(edges, box_hi[axis] - 1, side="right") - 1)
        ranges.append(range(first, last + 1))
    keys: list[tuple[Any, ...]] = []
    pieces = []
    for chunk_index in itertools.product(*ranges):
        source_index: list[Any] = list(lead_local)
        target: list[slice] = []
        for axis, c in enumerate(chunk_index):
            edges = bounds[len(position) + axis]
            begin = max(int(box_lo[axis]), int(edges[c]))
            end = min(int(box_hi[axis]), int(edges[c + 1]))
            source_index.append(slice(begin - int(edges[c]), end - int(edges[c])))
            target.append(slice(begin - int(box_lo[axis]), end - int(box_lo[axis])))
        keys.append((name, *lead_chunk, *chunk_index))
        pieces.append((tuple(source_index), tuple(target)))
    return keys, tuple(pieces)
