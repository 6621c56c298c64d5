"""Block-driven pull-back resampling of a DataArray onto an :class:`OutputGrid` (dask graph).

The output is a dask array whose blocks are computed independently. For each output block
the 8 corners are mapped back into the source's index space through the inverse transform;
the axis-aligned box they span, widened by an interpolation margin, is the block's
*footprint*. Only the footprint is read, and the block is interpolated from it with
:func:`scipy.ndimage.affine_transform` (the output-index -> footprint-index map of an affine
is affine, so no coordinate arrays are built). Blocks whose footprint misses the source
entirely are filled without reading anything.

Two kinds of source are read differently:

* **indexable** (numpy, or xarray's lazily indexed backend arrays, e.g. ``open_dataset``
  without ``chunks``): each block task reads exactly its footprint;
* **dask**: each block task depends on the source chunks its footprint overlaps and copies
  the footprint out of them.

Per task the memory is the output block, the footprint (plus a float64 copy of it for
spline orders >= 2, which scipy prefilters) and, for dask sources, the overlapping chunks.

This module holds the entry point (:func:`resample_to_grid`) and its parameter checks; the
work is split by job:

* :mod:`visor_xarray.resample.footprint`: footprints, margins and overlapped chunks;
* :mod:`visor_xarray.resample.block_shape`: the default block shape (memory budget);
* :mod:`visor_xarray.resample.blocks`: the per-block tasks (read, interpolate, fill);
* :mod:`visor_xarray.resample.graph`: the dask graph assembly.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from visor_xarray.resample.block_shape import default_block
from visor_xarray.resample.footprint import SPLINE_MARGIN, footprint_margin
from visor_xarray.resample.graph import _build
from visor_xarray.resample.grid import (
    SPATIAL_DIMS,
    OutputGrid,
    normalise_chunks,
    regular_step,
)
from visor_xarray.transforms.model import Affine

__all__ = [
    "MODES",
    "SPLINE_MARGIN",
    "default_block",
    "footprint_margin",
    "index_to_coords",
    "resample_to_grid",
]

#: Boundary modes accepted (scipy.ndimage names). Others ('reflect', 'wrap', ...) would need
#: input far from a block's footprint and are refused.
MODES = ("constant", "grid-constant", "nearest")


def index_to_coords(source: xr.DataArray) -> Affine:
    """The map from source voxel indices to its z/y/x coordinate values.

    Parameters
    ----------
    source : xarray.DataArray
        Has evenly spaced, increasing ``z``, ``y`` and ``x`` coordinates.

    Returns
    -------
    Affine
        ``diag(step)`` with translation ``first value`` (length-1 axes get step 1).

    Raises
    ------
    ValueError
        If a coordinate is missing or not evenly spaced.
    """
    steps, firsts = [], []
    for dim in SPATIAL_DIMS:
        if dim not in source.coords:
            raise ValueError(
                f"the source needs a {dim!r} coordinate (voxel centres) to be resampled"
            )
        values = np.asarray(source.coords[dim].values, dtype=np.float64)
        steps.append(regular_step(values, dim))
        firsts.append(float(values[0]))
    return Affine(np.diag(steps), np.asarray(firsts))


def _check_params(order: int, mode: str, fill_value: float, dtype: np.dtype[Any]) -> None:
    if not isinstance(order, int | np.integer) or not 0 <= order <= 5:
        raise ValueError(f"order must be an integer from 0 to 5, got {order!r}")
    if mode not in MODES:
        raise ValueError(
            f"mode must be one of {MODES}, got {mode!r} (modes that wrap or reflect need "
            "input far from each block and are not supported)"
        )
    if dtype.kind not in "uif":
        raise ValueError(f"cannot resample into dtype {dtype}; use an integer or float dtype")
    if np.isnan(fill_value) and dtype.kind != "f":
        raise ValueError(
            f"fill_value=nan needs a float output dtype, got {dtype}; pass dtype='float32' "
            "or 'float64'"
        )


def resample_to_grid(
    source: xr.DataArray,
    transform: Affine | Mapping[tuple[int, ...], Affine],
    grid: OutputGrid,
    *,
    order: int = 1,
    mode: str = "constant",
    fill_value: float = 0.0,
    chunks: int | Sequence[int] | Mapping[str, int] | None = None,
    dtype: Any = None,
    prefilter: bool = True,
    space: str | None = None,
    kernel: str = "auto",
) -> xr.DataArray:
    """Resample a DataArray onto a grid, lazily, one output block at a time.

    This is the engine under ``DataArray.visor.resample``; it knows nothing of VISoR spaces:
    ``transform`` maps the source's **coordinate values** (``z``, ``y``, ``x``, as stored on
    its coordinates) to the grid's space.

    Parameters
    ----------
    source : xarray.DataArray
        Has dims ``z``, ``y``, ``x`` with evenly spaced, increasing coordinates, and any
        leading dims (e.g. ``vs``, ``ch``). numpy, lazily indexed or dask-backed.
    transform : Affine or mapping
        Source coordinates -> target coordinates. One :class:`Affine` for every position
        of the leading dims, or ``{position: Affine}`` keyed by the tuple of integer
        positions along the leading dims (``()`` when there are none).
    grid : OutputGrid
        Where the output voxel centres lie in the target space.
    order : int, default 1
        Spline interpolation order (0 nearest, 1 linear, 3 cubic; up to 5).
    mode : {"constant", "grid-constant", "nearest"}, default "constant"
        scipy's boundary mode. ``"constant"``: points outside the source's voxel-centre box
        ``[0, n - 1]`` (per axis, in source indices) take ``fill_value``.
    fill_value : float, default 0
        Value outside the source (``cval``).
    chunks : int, sequence, mapping or None
        Output block shape (z, y, x); default :func:`default_block` (1-2 M voxels shaped
        for small footprints; 128 per axis for an axis-aligned map).
    dtype : dtype, optional
        Output dtype; default the source's. Integer outputs are rounded and clipped by
        scipy.
    prefilter : bool, default True
        Spline-prefilter each footprint for orders >= 2 (as scipy does by default).
    space : str, optional
        Name of the target space, for the coordinates' ``long_name``.
    kernel : {"auto", "scipy"}, default "auto"
        ``"auto"`` uses the separable kernel of :mod:`visor_xarray.resample.kernels` for
        orders 0/1 with modes constant/nearest when the map leaves one axis decoupled (the
        deskew does), :func:`scipy.ndimage.affine_transform` otherwise; ``"scipy"``
        always uses scipy. Both give the same values up to float rounding.

    Returns
    -------
    xarray.DataArray
        Dask-backed, dims ``(*leading, "z", "y", "x")``; leading coordinates are carried
        over; z/y/x coordinates come from ``grid``.

    Raises
    ------
    ValueError
        For a bad order, mode, dtype/fill combination, chunks, a missing or uneven
        coordinate, or a transform missing for a leading position.
    SingularTransformError
        If a transform cannot be inverted.

    Examples
    --------
    >>> src = xr.DataArray(np.arange(64.0).reshape(4, 4, 4), dims=("z", "y", "x"),
    ...                    coords={d: np.arange(4.0) for d in "zyx"})
    >>> grid = OutputGrid((0.5, 0, 0), (1, 1, 1), (3, 4, 4))
    >>> resample_to_grid(src, Affine.identity(), grid).values[0, 0, 0]
    8.0
    """
    missing = [d for d in SPATIAL_DIMS if d not in source.dims]
    if missing:
        raise ValueError(f"the source needs dims z, y and x; missing {missing} in {source.dims}")
    lead_dims = tuple(str(d) for d in source.dims if d not in SPATIAL_DIMS)
    source = source.transpose(*lead_dims, *SPATIAL_DIMS)
    out_dtype = np.dtype(source.dtype if dtype is None else dtype)
    fill = float(fill_value)
    _check_params(order, mode, fill, out_dtype)
    if kernel not in ("auto", "scipy"):
        raise ValueError(f"kernel must be 'auto' or 'scipy', got {kernel!r}")
    to_coords = index_to_coords(source)
    lead_shape = tuple(int(source.sizes[d]) for d in lead_dims)
    positions = list(itertools.product(*(range(n) for n in lead_shape)))
    maps: dict[tuple[int, ...], Affine] = {}
    out_of_grid = grid.index_to_space()
    for position in positions:
        if isinstance(transform, Affine):
            chosen = transform
        else:
            if position not in transform:
                raise ValueError(f"no transform given for leading position {position}")
            chosen = transform[position]
        # output index -> target -> source coordinates -> source index
        maps[position] = to_coords.inverse() @ chosen.inverse() @ out_of_grid
    if chunks is None:
        block_shape = default_block(list(maps.values()), grid.shape, order)
    else:
        block_shape = normalise_chunks(chunks, grid.shape)
    data = _build(
        source, maps, grid, block_shape, lead_dims, order, mode, fill, out_dtype, prefilter, kernel
    )
    coords: dict[Hashable, Any] = {
        name: coord.variable
        for name, coord in source.coords.items()
        if name not in SPATIAL_DIMS and set(coord.dims) <= set(lead_dims)
    }
    coords.update(grid.coords(space))
    attrs = {"interpolation_order": int(order), "boundary_mode": mode, "fill_value": fill}
    return xr.DataArray(
        data, dims=(*lead_dims, *SPATIAL_DIMS), coords=coords, attrs=attrs, name=source.name
    )
