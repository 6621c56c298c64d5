"""The plan of a block-driven resampling: output blocks, their source footprints, the kernel.

A plan is small and made once per resampling. Every block task receives the same plan and
its block index and works out, from the output chunks and the per-position affine maps
(output index -> source index), which source region it needs (its *footprint*): nothing is
computed per block when the lazy result is built, so building it costs the same for a
thousand blocks as for a million, and slicing the result keeps only the blocks asked for.

The footprint of a block is the axis-aligned box its 8 corners map back to, widened by the
interpolation margin (or tight, for the separable kernel) and clipped to the source. An
empty footprint means no output voxel of the block falls inside the source.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from visor_xarray.resample.footprint import chunk_boundaries, footprint_margin
from visor_xarray.resample.kernels import (
    SEPARABLE_MODES,
    affine_block,
    decoupled_axis,
    separable_block,
)
from visor_xarray.resample.readers import Reader
from visor_xarray.transforms.model import Affine

__all__ = ["Footprint", "Interpolation", "ResamplePlan"]

Position = tuple[int, ...]

# Temporaries of the separable kernel per block task: the float64 slab, the input rows it
# gathers and their float64 copies, the sparse weights (measured with one thread:
# +16 MiB for 512 x 64 x 64 uint16 deskew blocks, of which 6 MiB are block and footprint).
_KERNEL_SLABS = 10 * 2**20

# Rounding slack (voxels) of the tight footprints of the separable kernel.
_TIGHT_SLACK = 1e-7


@dataclass(frozen=True)
class Interpolation:
    """How output voxels are interpolated (see :func:`~visor_xarray.resample.resample_to_grid`).

    Parameters
    ----------
    order : int
        Spline order, 0 to 5.
    mode : str
        scipy boundary mode (``"constant"``, ``"grid-constant"``, ``"nearest"``).
    cval : float
        Value outside the source.
    dtype : numpy.dtype
        Output dtype.
    prefilter : bool
        Spline prefiltering for orders >= 2.
    kernel : {"auto", "scipy"}
        ``"auto"`` allows the separable kernel where it applies.
    """

    order: int
    mode: str
    cval: float
    dtype: np.dtype[Any]
    prefilter: bool = True
    kernel: str = "auto"

    @property
    def may_separate(self) -> bool:
        """Whether the separable kernel may be used (orders 0/1, constant/nearest)."""
        return self.kernel == "auto" and self.order <= 1 and self.mode in SEPARABLE_MODES


@dataclass(frozen=True, eq=False)
class Footprint:
    """The source region one output block reads, and the map into it.

    Attributes
    ----------
    low, high : tuple of int
        The region ``[low, high)`` per source axis (z, y, x).
    matrix, offset : numpy.ndarray
        Output block index -> footprint index.
    separable_axis : int or None
        The decoupled axis when the separable kernel applies.
    limits : tuple of (float, float)
        Per axis, the source's first and last voxel in footprint coordinates.
    """

    low: tuple[int, int, int]
    high: tuple[int, int, int]
    matrix: npt.NDArray[np.float64]
    offset: npt.NDArray[np.float64]
    separable_axis: int | None
    limits: tuple[tuple[float, float], ...]

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of the region read."""
        z, y, x = (h - lo for lo, h in zip(self.low, self.high, strict=True))
        return (z, y, x)

    def interpolate(
        self,
        data: npt.NDArray[Any],
        shape: tuple[int, int, int],
        interpolation: Interpolation,
        *,
        cval: float | None = None,
        dtype: Any = None,
        origin: tuple[int, int, int] = (0, 0, 0),
    ) -> npt.NDArray[Any]:
        """Interpolate an output block (or a part of it) from the footprint's data.

        Parameters
        ----------
        data : numpy.ndarray
            The source region ``[low, high)``.
        shape : tuple of int
            Shape of the part computed.
        interpolation : Interpolation
        cval, dtype : optional
            Override the interpolation's fill value and output dtype.
        origin : tuple of int, default (0, 0, 0)
            First voxel of the part, in block indices; each voxel is computed exactly as
            in the whole block. Only the separable kernel computes parts.

        Returns
        -------
        numpy.ndarray
            The part, ``shape``.
        """
        fill = interpolation.cval if cval is None else float(cval)
        out_dtype = interpolation.dtype if dtype is None else np.dtype(dtype)
        if self.separable_axis is not None:
            return separable_block(
                data,
                self.matrix,
                self.offset,
                shape,
                order=interpolation.order,
                mode=interpolation.mode,
                cval=fill,
                dtype=out_dtype,
                axis=self.separable_axis,
                limits=self.limits,
                origin=origin,
            )
        if any(origin):
            raise ValueError("only the separable kernel computes part of a block")
        return affine_block(
            data,
            self.matrix,
            self.offset,
            shape,
            order=interpolation.order,
            mode=interpolation.mode,
            cval=fill,
            dtype=out_dtype,
            prefilter=interpolation.prefilter,
        )


@dataclass(frozen=True, eq=False)
class ResamplePlan:
    """Output blocks of a resampling and the source footprint of each.

    Parameters
    ----------
    chunks : tuple of three tuples of int
        Output block sizes along z, y and x.
    maps : mapping
        ``{position: Affine}``: output index -> source index, per position along the
        source's leading dims (``()`` when there are none).
    source_shape : tuple of int
        Spatial shape (z, y, x) of the source.
    interpolation : Interpolation
    """

    chunks: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]
    maps: Mapping[Position, Affine]
    source_shape: tuple[int, int, int]
    interpolation: Interpolation

    @functools.cached_property
    def _edges(self) -> tuple[npt.NDArray[np.int64], ...]:
        return tuple(chunk_boundaries(c) for c in self.chunks)

    @functools.cached_property
    def _separable_axes(self) -> dict[Position, int | None]:
        return {
            position: decoupled_axis(affine.matrix) if self.interpolation.may_separate else None
            for position, affine in self.maps.items()
        }

    @functools.cached_property
    def _reach_boxes(self) -> dict[Position, tuple[tuple[int, ...], tuple[int, ...]]]:
        # The output voxels mapping inside a source's voxel-centre box lie in the box
        # spanned by its 8 corners mapped into output indices (a voxel of slack a side).
        last = [float(n - 1) for n in self.source_shape]
        corners = np.array(list(itertools.product(*[(0.0, m) for m in last])))
        boxes = {}
        for position, affine in self.maps.items():
            mapped = affine.inverse().apply(corners)
            low = np.floor(mapped.min(axis=0)).astype(np.int64) - 1
            high = np.ceil(mapped.max(axis=0)).astype(np.int64) + 2
            boxes[position] = (tuple(int(v) for v in low), tuple(int(v) for v in high))
        return boxes

    @functools.cached_property
    def _reach_masks(self) -> tuple[list[Position], list[npt.NDArray[np.bool_]]]:
        # per axis, which positions' reach boxes overlap each block index along it
        positions = list(self.maps)
        masks = []
        for axis, edges in enumerate(self._edges):
            low = np.array([self._reach_boxes[p][0][axis] for p in positions])[:, None]
            high = np.array([self._reach_boxes[p][1][axis] for p in positions])[:, None]
            masks.append((low < edges[None, 1:]) & (high > edges[None, :-1]))
        return positions, masks

    def candidates(self, index: Sequence[int]) -> set[Position]:
        """Positions whose source may hold voxels of the spatial block ``index``.

        Parameters
        ----------
        index : sequence of int
            Block index along z, y and x.

        Returns
        -------
        set of tuple of int
        """
        positions, masks = self._reach_masks
        hit = masks[0][:, index[0]] & masks[1][:, index[1]] & masks[2][:, index[2]]
        return {positions[i] for i in np.flatnonzero(hit)}

    def reach(
        self, position: Position, start: npt.NDArray[np.int64], shape: tuple[int, int, int]
    ) -> tuple[tuple[int, int, int], tuple[int, int, int]] | None:
        """The part of a block whose voxels may fall inside the source at ``position``.

        A cheap, conservative test (integer comparisons with a box computed once per
        position): voxels outside the part map outside the source.

        Parameters
        ----------
        position : tuple of int
            Position along the source's leading dims.
        start : numpy.ndarray
            First output voxel of the block.
        shape : tuple of int
            Block shape.

        Returns
        -------
        tuple or None
            ``(low, high)`` in block indices, or None if no voxel can be inside.
        """
        low, high = self._reach_boxes[position]
        first = [int(v) for v in start]
        lo = [min(max(low[a] - first[a], 0), shape[a]) for a in range(3)]
        hi = [min(max(high[a] - first[a], 0), shape[a]) for a in range(3)]
        if any(h <= v for v, h in zip(lo, hi, strict=True)):
            return None
        return (lo[0], lo[1], lo[2]), (hi[0], hi[1], hi[2])

    def block(self, index: Sequence[int]) -> tuple[npt.NDArray[np.int64], tuple[int, int, int]]:
        """Start (output voxel) and shape of the spatial block ``index`` (i, j, k).

        Parameters
        ----------
        index : sequence of int
            Block index along z, y and x.

        Returns
        -------
        tuple
            ``(start, shape)``.
        """
        start = np.array([self._edges[a][int(i)] for a, i in enumerate(index)], dtype=np.int64)
        z, y, x = (int(self.chunks[a][int(i)]) for a, i in enumerate(index))
        return start, (z, y, x)

    def footprint(
        self, position: Position, start: npt.NDArray[np.int64], shape: tuple[int, int, int]
    ) -> Footprint | None:
        """The source region the block at ``start`` with ``shape`` reads at ``position``.

        Parameters
        ----------
        position : tuple of int
            Position along the source's leading dims.
        start : numpy.ndarray
            First output voxel of the block.
        shape : tuple of int
            Block shape.

        Returns
        -------
        Footprint or None
            None when the block maps entirely outside the source (nothing to read).
        """
        affine = self.maps[position]
        matrix = affine.matrix
        first = start.astype(np.float64)
        last = first + np.asarray(shape, dtype=np.float64) - 1
        # Each source coordinate is a sum of per-axis terms, each extreme at one end of its
        # own axis: the extremes over the 8 corners are sums of per-axis extremes.
        at_first, at_last = matrix * first, matrix * last
        low = affine.offset + np.minimum(at_first, at_last).sum(axis=1)
        high = affine.offset + np.maximum(at_first, at_last).sum(axis=1)
        axis = self._separable_axes[position]
        if axis is not None:
            # The separable kernel tests "inside" against the whole source, not the
            # footprint, so the footprint can be tight: the two neighbours of every point
            # (with a 1e-7 voxel slack for rounding; an axis mapped onto integer positions,
            # like x under a deskew, then reads no extra storage chunk).
            lo = np.floor(low - _TIGHT_SLACK).astype(np.int64)
            hi = np.ceil(high - _TIGHT_SLACK).astype(np.int64) + 1
        else:
            margin = footprint_margin(self.interpolation.order)
            lo = np.floor(low).astype(np.int64) - margin
            hi = np.floor(high).astype(np.int64) + margin + 2
        size = np.asarray(self.source_shape, dtype=np.int64)
        if self.interpolation.mode == "nearest":
            # beyond an edge the nearest edge voxel is the value: keep at least one voxel
            lo = np.clip(lo, 0, size - 1)
            hi = np.clip(hi, lo + 1, size)
        else:
            lo = np.clip(lo, 0, size)
            hi = np.clip(hi, 0, size)
        if np.any(hi <= lo):
            return None
        return Footprint(
            low=(int(lo[0]), int(lo[1]), int(lo[2])),
            high=(int(hi[0]), int(hi[1]), int(hi[2])),
            matrix=matrix,
            offset=matrix @ first + affine.offset - lo,
            separable_axis=axis,
            limits=tuple((float(-a), float(n - 1 - a)) for a, n in zip(lo, size, strict=True)),
        )

    def task_bytes(self, source_itemsize: int) -> int:
        """Estimated bytes one block task holds: output block, footprint, kernel temporaries.

        Parameters
        ----------
        source_itemsize : int
            Bytes per source voxel.

        Returns
        -------
        int
        """
        block = np.asarray([max(c) for c in self.chunks], dtype=np.float64)
        margin = 2 * footprint_margin(self.interpolation.order) + 1
        footprint = max(
            float(np.prod(np.minimum(np.abs(a.matrix) @ block + margin, self.source_shape)))
            for a in self.maps.values()
        )
        out = float(np.prod(block)) * self.interpolation.dtype.itemsize
        if self.interpolation.order >= 2 or not self.interpolation.may_separate:
            kernel = 8.0 * footprint  # scipy's float64 prefiltered copy
        else:
            kernel = float(_KERNEL_SLABS)
        return int(out + footprint * source_itemsize + kernel)

    def positions(self, lead: Position) -> list[Position]:
        """Source positions an output block at leading position ``lead`` reads (itself).

        Parameters
        ----------
        lead : tuple of int
            The block's position along the output's leading dims.

        Returns
        -------
        list of tuple of int
        """
        return [lead]

    def compute_block(self, reader: Reader, block_id: Sequence[int]) -> npt.NDArray[Any]:
        """Compute one output block: read its footprint, interpolate (or fill).

        Parameters
        ----------
        reader : Reader
            Where footprints are read from.
        block_id : sequence of int
            The block's index: leading positions, then z, y, x block indices.

        Returns
        -------
        numpy.ndarray
            The block, with length-1 leading dims.
        """
        lead = tuple(int(i) for i in block_id[:-3])
        start, shape = self.block(block_id[-3:])
        out_shape = (1,) * len(lead) + shape
        footprint = self.footprint(lead, start, shape)
        if footprint is None:
            return np.full(out_shape, self.interpolation.cval, dtype=self.interpolation.dtype)
        data = reader.read(lead, footprint.low, footprint.high)
        return footprint.interpolate(data, shape, self.interpolation).reshape(out_shape)
