"""Pull-back resampling of VISoR images between spaces, block by block, with bounded memory.

Public API
----------
resample_dataarray
    A VISoR image (3-D per stack/channel, or 5-D) into another space, lazily
    (``DataArray.visor.resample``).
stitch_stacks
    Every stack of a slice onto one grid, overlaps blended (``DataArray.visor.stitch``).
Transform, resample_roi
    The seed API's ``vx.Transform`` (stored transforms of a slice) and its
    ``resample(roi, ...)``: a raw ROI to a numpy array.
resample_to_grid
    The engine: any DataArray with z/y/x coordinates, an affine from its coordinates to a
    target space, and an :class:`OutputGrid`.
OutputGrid
    A regular grid of voxel centres in a target space.
TransformSpec, GridSpec
    The keyword groups shared by the functions above and the accessors (target space and
    transform source; output grid), documented once.
assign_space_coords, SpaceIndex, AffineCoordinateTransform
    Lazy target-space coordinates on untouched source data (``sel`` in target µm).
choose_level
    The resolution-level rule of ``level="auto"``.

See ``docs/resampling.md`` for the conventions, the rules and the memory bound.
"""

from __future__ import annotations

from visor_xarray.resample.core import MODES, SPLINE_MARGIN, footprint_margin, resample_to_grid
from visor_xarray.resample.grid import OutputGrid
from visor_xarray.resample.grid_spec import GridSpec
from visor_xarray.resample.index import (
    AffineCoordinateTransform,
    SpaceIndex,
    assign_space_coords,
)
from visor_xarray.resample.resolve import TransformSpec
from visor_xarray.resample.seed import Transform, resample_roi
from visor_xarray.resample.source_level import choose_level
from visor_xarray.resample.spaces import resample_dataarray
from visor_xarray.resample.stitch import BLENDS, stitch_stacks

__all__ = [
    "BLENDS",
    "MODES",
    "SPLINE_MARGIN",
    "AffineCoordinateTransform",
    "GridSpec",
    "OutputGrid",
    "SpaceIndex",
    "Transform",
    "TransformSpec",
    "assign_space_coords",
    "choose_level",
    "footprint_margin",
    "resample_dataarray",
    "resample_roi",
    "resample_to_grid",
    "stitch_stacks",
]
