"""The output grid asked for (:class:`GridSpec`), resolved for a prepared source.

An explicit grid is taken as it is; by default the spacing comes from the source voxels and
the bounds from the union of the transformed source boxes (snapped).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr

from visor_xarray.coords import level_spacing
from visor_xarray.resample.grid import (
    SPATIAL_DIMS,
    OutputGrid,
    Spacing,
    normalise_spacing,
    source_box,
    union_bounds,
)
from visor_xarray.resample.resolve import Prepared
from visor_xarray.schema import ImageAttrs
from visor_xarray.transforms.model import Affine

__all__ = ["GridSpec", "output_grid", "target_steps"]


@dataclass(frozen=True)
class GridSpec:
    """The output grid asked for: a spacing and bounds, an explicit grid, or the defaults.

    The keywords ``spacing``, ``bounds`` and ``grid`` of
    :func:`~visor_xarray.resample.resample_dataarray`,
    :func:`~visor_xarray.resample.stitch_stacks` and the ``.visor.resample`` /
    ``.visor.stitch`` accessors, documented here once; :func:`output_grid` resolves them.

    Parameters
    ----------
    spacing : float, sequence or mapping, optional
        Output voxel size (target units). Default: isotropic, the smallest target-space
        length of one source voxel step along any axis (for a length-preserving
        transform such as a deskew or a rigid map, the finest source spacing).
    bounds : mapping or pair, optional
        ``{"z": (lo, hi), ...}`` or ``((zlo, ylo, xlo), (zhi, yhi, xhi))``: first and last
        voxel centres. Default: the union over stacks/channels of the bounding boxes of
        the transformed source voxel-centre boxes, with the origin snapped down to a
        multiple of the spacing and the extent rounded up.
    grid : OutputGrid, optional
        An explicit output grid (instead of ``spacing``/``bounds``).
    """

    spacing: Spacing | None = None
    bounds: Any = None
    grid: OutputGrid | None = None


def _physical_steps(source: xr.DataArray, metadata: ImageAttrs | None) -> list[float]:
    """Voxel size of the source along z/y/x in coordinate units (metadata for length 1)."""
    steps = []
    for dim in SPATIAL_DIMS:
        values = np.asarray(source.coords[dim].values, dtype=np.float64)
        if values.size > 1:
            steps.append(float((values[-1] - values[0]) / (values.size - 1)))
            continue
        step = 1.0
        if metadata is not None:
            multiscale = metadata.multiscale
            level = source.attrs.get("resolution_level", multiscale.level_paths[0])
            step = level_spacing(multiscale, level)[multiscale.dims.index(dim)]
        steps.append(float(step))
    return steps


def target_steps(maps: Sequence[Affine], steps: Sequence[float]) -> npt.NDArray[np.float64]:
    """Per source axis, the longest target-space image of one voxel step over ``maps``.

    Parameters
    ----------
    maps : sequence of Affine
        Source coordinates -> target space, one per stack/channel.
    steps : sequence of float
        The source voxel size along z, y, x (coordinate units).

    Returns
    -------
    numpy.ndarray
        Three lengths (target units).
    """
    lengths = np.array([np.linalg.norm(m.matrix, axis=0) * np.asarray(steps) for m in maps])
    result: npt.NDArray[np.float64] = lengths.max(axis=0)
    return result


def output_grid(prepared: Prepared, spec: GridSpec) -> OutputGrid:
    """The output grid of a prepared source (see :class:`GridSpec` for the rules).

    Parameters
    ----------
    prepared : Prepared
    spec : GridSpec
        The grid asked for.

    Returns
    -------
    OutputGrid

    Raises
    ------
    ValueError
        If ``grid`` is combined with ``spacing`` or ``bounds``, or they are malformed.
    """
    spacing, bounds, grid = spec.spacing, spec.bounds, spec.grid
    if grid is not None:
        if spacing is not None or bounds is not None:
            raise ValueError("give grid= alone, or spacing=/bounds=, not both")
        return grid
    maps = [prepared.coord_maps[p] for p in prepared.positions]
    if spacing is None:
        steps = _physical_steps(prepared.source, prepared.metadata)
        spacing = float(target_steps(maps, steps).min())
    step = normalise_spacing(spacing)
    if bounds is not None:
        return OutputGrid.from_bounds_arg(bounds, step)
    low, high = source_box(prepared.source.coords)
    lower, upper = union_bounds(m.transform_bounds(low, high) for m in maps)
    return OutputGrid.from_bounds(lower, upper, step, snap=True)
