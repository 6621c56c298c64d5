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
Temporaries are float64 arrays of one block (a few per block task).
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
        reaching: list[tuple[Position, Footprint]] = []
        for position in self.positions(lead):
            footprint = self.footprint(position, start, shape)
            if footprint is not None:
                reaching.append((position, footprint))
        if not reaching:
            return np.full(out_shape, interpolation.cval, dtype=interpolation.dtype)
        if len(reaching) == 1:
            position, footprint = reaching[0]
            data = reader.read(position, footprint.low, footprint.high)
            return footprint.interpolate(data, shape, interpolation).reshape(out_shape)
        return self._blend(reader, reaching, shape).reshape(out_shape)

    def _blend(
        self,
        reader: Reader,
        reaching: Sequence[tuple[Position, Footprint]],
        shape: tuple[int, int, int],
    ) -> npt.NDArray[Any]:
        combined = np.zeros(shape) if self.blend == "mean" else np.full(shape, -np.inf)
        count = np.zeros(shape, dtype=np.uint8)
        for position, footprint in reaching:
            data = reader.read(position, footprint.low, footprint.high)
            values = footprint.interpolate(
                data, shape, self.interpolation, cval=np.nan, dtype=np.float64
            )
            covered = ~np.isnan(values)
            count += covered
            if self.blend == "mean":
                np.add(combined, values, out=combined, where=covered)
            else:
                np.maximum(combined, values, out=combined, where=covered)
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


def _round_half_away(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Round half away from zero (scipy's rounding of integer outputs)."""
    rounded: npt.NDArray[np.float64] = np.where(
        values > 0, np.floor(values + 0.5), np.ceil(values - 0.5)
    )
    return rounded
