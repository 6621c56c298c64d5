"""Stitching inside one output block: the stacks that reach it, resampled and blended.

An output block of a stitched slice is reached by one to a few stacks. :class:`StitchPlan`
tests every stack's footprint (bounding box of the block's corners mapped into the stack,
with the interpolation margin); stacks whose footprint misses them are neither read nor
interpolated. Then:

* no stack: the block is ``fill_value``;
* one stack: the block is that stack's resampling, exactly as ``resample`` computes it
  (points outside the stack take ``fill_value``);
* several: each is interpolated in float64 with ``NaN`` outside it (scipy's
  ``"constant"`` rule never blends the fill into points inside a stack, so ``NaN`` marks
  exactly the voxels the stack does not cover) and they are blended voxel by voxel:
  ``"mean"`` averages the covering stacks, ``"max"`` takes the largest.

Integer outputs: a voxel covered by one stack is rounded as ``resample`` rounds (half away
from zero); a blend of several is rounded half to even; both saturate at the dtype's range.
Temporaries are float64 slabs of about a MiB (the blend runs through the region slab by
slab along z).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from visor_xarray.resample.plan import Footprint, ResamplePlan
from visor_xarray.resample.readers import Reader

__all__ = ["BLENDS", "StitchPlan"]

#: Blend rules for voxels covered by several stacks.
BLENDS = ("mean", "max")

# Bytes of one float64 temporary of the blend (a slab of the region along z).
_BLEND_SLAB = 2**20

Position = tuple[int, ...]


@dataclass(frozen=True, eq=False)
class StitchPlan(ResamplePlan):
    """A :class:`ResamplePlan` whose blocks blend every stack that reaches them.

    Parameters
    ----------
    chunks, maps, source_shape, interpolation
        As for :class:`ResamplePlan`; ``maps`` has every stack's position, and the
        interpolation's ``cval`` is the fill value of voxels no stack covers.
    stack_axis : int
        Position of the ``vs`` dim among the source's leading dims (the output lacks it).
    stacks : int
        Number of stacks.
    blend : {"mean", "max"}
    """

    stack_axis: int = 0
    stacks: int = 1
    blend: str = "mean"

    def task_bytes(self, source_itemsize: int) -> int:
        """Estimated bytes the costliest block task holds: a resampling block task's, and
        another stack's footprint and the float64 blend slabs (measured: 23 MiB against
        16 MiB for 512 x 64 x 64 uint16 deskew blocks).

        Parameters
        ----------
        source_itemsize : int
            Bytes per source voxel.

        Returns
        -------
        int
        """
        return super().task_bytes(source_itemsize) + 8 * _BLEND_SLAB

    def positions(self, lead: Position) -> list[Position]:
        """Source positions (every stack) an output block at ``lead`` may read.

        Parameters
        ----------
        lead : tuple of int
            The block's position along the output's leading dims (without ``vs``).

        Returns
        -------
        list of tuple of int
        """
        axis = self.stack_axis
        return [(*lead[:axis], stack, *lead[axis:]) for stack in range(self.stacks)]

    def compute_block(self, reader: Reader, block_id: Sequence[int]) -> npt.NDArray[Any]:
        """Compute one stitched block from the stacks that reach it.

        Parameters
        ----------
        reader : Reader
            Where footprints are read from.
        block_id : sequence of int
            The block's index: output leading positions, then z, y, x block indices.

        Returns
        -------
        numpy.ndarray
            The block, with length-1 leading dims.
        """
        lead = tuple(int(i) for i in block_id[:-3])
        start, shape = self.block(block_id[-3:])
        out_shape = (1,) * len(lead) + shape
        interpolation = self.interpolation
        candidates = self.candidates(block_id[-3:])
        reaching: list[tuple[Position, Footprint]] = []
        for position in self.positions(lead):
            if position not in candidates:
                continue  # no voxel of the block falls inside this stack
            footprint = self.footprint(position, start, shape)
            if footprint is not None:
                reaching.append((position, footprint))
        if not reaching:
            return np.full(out_shape, interpolation.cval, dtype=interpolation.dtype)
        if len(reaching) == 1:
            position, footprint = reaching[0]
            data = reader.read(position, footprint.low, footprint.high)
            return footprint.interpolate(data, shape, interpolation).reshape(out_shape)
        return self._blend(reader, reaching, start, shape).reshape(out_shape)

    def _blend(
        self,
        reader: Reader,
        reaching: Sequence[tuple[Position, Footprint]],
        start: npt.NDArray[np.int64],
        shape: tuple[int, int, int],
    ) -> npt.NDArray[Any]:
        """Blend the stacks reaching a block, in float64 only where two may overlap.

        With the separable kernel each stack is interpolated over the part of the block it
        may cover (:meth:`reach`). The stack covering the most of the block (the primary)
        is interpolated over the whole block in the output dtype, exactly as a resampling
        of it alone; the float64 blend is then done only in the box where another stack
        may cover voxels, unless that box is most of the block.
        """
        whole: Box = ((0, 0, 0), shape)
        parts: list[tuple[Box, Footprint, npt.NDArray[Any]]] = []
        for position, footprint in reaching:
            box = (
                self.reach(position, start, shape)
                if footprint.separable_axis is not None
                else whole
            )
            if box is None:
                continue
            parts.append((box, footprint, reader.read(position, footprint.low, footprint.high)))
        if not parts:
            return np.full(shape, self.interpolation.cval, dtype=self.interpolation.dtype)
        parts.sort(key=lambda part: _volume(part[0]), reverse=True)
        others = _union([box for box, _, _ in parts[1:]])
        if others is None or 2 * _volume(others) > _volume(whole):
            region = whole
            out = np.empty(shape, dtype=self.interpolation.dtype)
        else:
            region = others
            _, footprint, data = parts[0]
            out = footprint.interpolate(data, shape, self.interpolation)
        low, high = region
        # float64 temporaries of about a MiB: the blend goes through the region in slabs
        # along z (the separable kernel computes parts of a block voxel for voxel as the
        # whole; scipy's cannot, so without it the region is one slab)
        separable = all(footprint.separable_axis is not None for _, footprint, _ in parts)
        plane = (high[1] - low[1]) * (high[2] - low[2])
        slab = max(1, _BLEND_SLAB // (8 * plane)) if separable else high[0] - low[0]
        for z in range(low[0], high[0], slab):
            part: Box = ((z, low[1], low[2]), (min(z + slab, high[0]), high[1], high[2]))
            where = tuple(slice(a, b) for a, b in zip(part[0], part[1], strict=True))
            out[where] = self._blend_box(parts, part)
        return out

    def _blend_box(
        self, parts: Sequence[tuple[Box, Footprint, npt.NDArray[Any]]], region: Box
    ) -> npt.NDArray[Any]:
        """The blended values of ``region`` (block indices), in the output dtype."""
        low, high = region
        size = (high[0] - low[0], high[1] - low[1], high[2] - low[2])
        combined = np.zeros(size) if self.blend == "mean" else np.full(size, -np.inf)
        count = np.zeros(size, dtype=np.uint8)
        for box, footprint, data in parts:
            inner = _intersection(box, region)
            if inner is None:
                continue
            (z0, y0, x0), (z1, y1, x1) = inner
            values = footprint.interpolate(
                data,
                (z1 - z0, y1 - y0, x1 - x0),
                self.interpolation,
                cval=np.nan,
                dtype=np.float64,
                origin=(z0, y0, x0),
            )
            local = (
                slice(z0 - low[0], z1 - low[0]),
                slice(y0 - low[1], y1 - low[1]),
                slice(x0 - low[2], x1 - low[2]),
            )
            covered = ~np.isnan(values)
            count[local] += covered
            if self.blend == "mean":
                np.add(combined[local], values, out=combined[local], where=covered)
            else:
                np.maximum(combined[local], values, out=combined[local], where=covered)
        if self.blend == "mean":
            np.divide(combined, count, out=combined, where=count > 1)
        return self._cast(combined, count)

    def _cast(
        self, values: npt.NDArray[np.float64], count: npt.NDArray[np.uint8]
    ) -> npt.NDArray[Any]:
        dtype = self.interpolation.dtype
        fill = self.interpolation.cval
        uncovered = count == 0
        if dtype.kind not in "ui":
            values[uncovered] = fill
            return values.astype(dtype)
        single = count == 1
        # several stacks: half to even; one stack: as resample rounds it (like scipy)
        rounded = np.round(values)
        rounded[single] = _round_half_away(values[single])
        rounded[uncovered] = np.round(fill)
        info = np.iinfo(dtype)
        np.clip(rounded, info.min, info.max, out=rounded)
        return rounded.astype(dtype)


Box = tuple[tuple[int, int, int], tuple[int, int, int]]


def _volume(box: Box) -> int:
    low, high = box
    return (high[0] - low[0]) * (high[1] - low[1]) * (high[2] - low[2])


def _union(boxes: Sequence[Box]) -> Box | None:
    """The bounding box of ``boxes`` (None for none)."""
    if not boxes:
        return None
    low = tuple(min(box[0][a] for box in boxes) for a in range(3))
    high = tuple(max(box[1][a] for box in boxes) for a in range(3))
    return (low[0], low[1], low[2]), (high[0], high[1], high[2])


def _intersection(first: Box, second: Box) -> Box | None:
    low = tuple(max(first[0][a], second[0][a]) for a in range(3))
    high = tuple(min(first[1][a], second[1][a]) for a in range(3))
    if any(h <= lo for lo, h in zip(low, high, strict=True)):
        return None
    return (low[0], low[1], low[2]), (high[0], high[1], high[2])


def _round_half_away(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Round half away from zero (scipy's rounding of integer outputs)."""
    rounded: npt.NDArray[np.float64] = np.where(
        values > 0, np.floor(values + 0.5), np.ceil(values - 0.5)
    )
    return rounded
