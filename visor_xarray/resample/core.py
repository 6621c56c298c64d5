"""Block-driven pull-back resampling of a DataArray onto an :class:`OutputGrid` (dask graph).

The output is a dask array whose blocks are computed independently. For each output block
the 8 corners are mapped back into the source's index space through the inverse transform;
the axis-aligned box they span, widened by an interpolation margin, is the block's
*footprint*. Only the footprint is read, and the block is interpolated from it with
:func:`scipy.ndimage.affine_transform` (the output-index -> footprint-index map of an affine
is affine, so no coordinate arrays are built). Blocks whose footprint misses the source
entirely are filled without reading anything.

Two kinds of source are read differently:

* **readable** (a stored level, numpy, or xarray's lazily indexed backend arrays, e.g.
  ``open_dataset`` without ``chunks``): each block task reads exactly its footprint, and
  the graph is one layer that does no per-block work until computed;
* **dask** data used as they are: each block task depends on the source chunks its
  footprint overlaps and copies the footprint out of them.

Per task the memory is the output block, the footprint (plus a float64 copy of it for
spline orders >= 2, which scipy prefilters) and, for dask sources, the overlapping chunks.

This module holds the entry point (:func:`resample_to_grid`), its parameter checks and
:func:`build_blocks`, shared with stitching; the work is split by job:

* :mod:`visor_xarray.resample.plan`: output blocks, footprints and the kernel call;
* :mod:`visor_xarray.resample.readers`: where footprints are read from;
* :mod:`visor_xarray.resample.footprint`: margins and the chunks a footprint overlaps;
* :mod:`visor_xarray.resample.block_shape`: the output block shape (memory budget);
* :mod:`visor_xarray.resample.graph`: the dask graph assembly.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import dask.array as da
import numpy as np
import numpy.typing as npt
import xarray as xr
from dask.base import tokenize

from visor_xarray.chunking import TASK_BYTES_ENCODING
from visor_xarray.resample.block_shape import Chunks, default_block, normalise_chunks
from visor_xarray.resample.footprint import SPLINE_MARGIN, footprint_margin
from visor_xarray.resample.graph import chunked_blocks, lazy_blocks
from visor_xarray.resample.grid import (
    SPATIAL_DIMS,
    OutputGrid,
    regular_step,
)
from visor_xarray.resample.plan import Interpolation, ResamplePlan
from visor_xarray.resample.source_level import SourceData, as_they_are
from visor_xarray.transforms.model import Affine

__all__ = [
    "MODES",
    "SPLINE_MARGIN",
    "build_blocks",
    "check_interpolation",
    "default_block",
    "footprint_margin",
    "index_to_coords",
    "resample_to_grid",
    "values_to_affine",
    "wrap_result",
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
    for dim in SPATIAL_DIMS:
        if dim not in source.coords:
            raise ValueError(
                f"the source needs a {dim!r} coordinate (voxel centres) to be resampled"
            )
    return values_to_affine(
        [np.asarray(source.coords[d].values, dtype=np.float64) for d in SPATIAL_DIMS]
    )


def values_to_affine(values: Sequence[npt.NDArray[np.float64]]) -> Affine:
    """The map from voxel indices to given z/y/x coordinate values.

    Parameters
    ----------
    values : sequence of numpy.ndarray
        The z, y and x coordinate values (evenly spaced, increasing).

    Returns
    -------
    Affine
        ``diag(step)`` with translation ``first value`` (length-1 axes get step 1).

    Raises
    ------
    ValueError
        If a coordinate is not evenly spaced.
    """
    steps = [regular_step(v, d) for v, d in zip(values, SPATIAL_DIMS, strict=True)]
    return Affine(np.diag(steps), np.asarray([float(v[0]) for v in values]))


def check_interpolation(
    *,
    order: int,
    mode: str,
    fill_value: float,
    dtype: Any,
    prefilter: bool = True,
    kernel: str = "auto",
) -> Interpolation:
    """Check the interpolation parameters of a resampling and bundle them.

    Parameters
    ----------
    order, mode, fill_value, dtype, prefilter, kernel
        As in :func:`resample_to_grid`; ``dtype`` must be given.

    Returns
    -------
    Interpolation

    Raises
    ------
    ValueError
        For a bad order, mode, kernel or dtype/fill combination.
    """
    dtype = np.dtype(dtype)
    fill = float(fill_value)
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
    if kernel not in ("auto", "scipy"):
        raise ValueError(f"kernel must be 'auto' or 'scipy', got {kernel!r}")
    return Interpolation(
        order=int(order),
        mode=mode,
        cval=fill,
        dtype=dtype,
        prefilter=bool(prefilter),
        kernel=kernel,
    )


def build_blocks(
    data: SourceData,
    transforms: Mapping[tuple[int, ...], Affine],
    grid: OutputGrid,
    interpolation: Interpolation,
    chunks: Chunks | None,
    *,
    lead_chunks: Sequence[tuple[int, ...]],
    make_plan: Any = ResamplePlan,
    name: str = "resample",
) -> tuple[da.Array, int]:
    """The lazy output blocks of a resampling (or, with another ``make_plan``, a stitch).

    Parameters
    ----------
    data : SourceData
        What is read.
    transforms : mapping
        ``{position: Affine}``, source coordinates -> target space, every position of the
        source's leading dims.
    grid : OutputGrid
        The output grid.
    interpolation : Interpolation
    chunks : int, sequence, mapping or None
        Output block shape (default :func:`default_block`).
    lead_chunks : sequence of tuple of int
        Chunks of the output's leading dims.
    make_plan : callable, default ResamplePlan
        Called with ``chunks=, maps=, source_shape=, interpolation=``.
    name : str, default "resample"
        Prefix of the dask name.

    Returns
    -------
    tuple
        The dask array, and the bytes its costliest block task holds (estimated).
    """
    to_coords = values_to_affine(data.coords)
    out_of_grid = grid.index_to_space()
    # output index -> target -> source coordinates -> source index
    maps = {p: to_coords.inverse() @ t.inverse() @ out_of_grid for p, t in transforms.items()}
    if chunks is None:
        block_shape = default_block(list(maps.values()), grid.shape, interpolation.order)
    else:
        block_shape = normalise_chunks(chunks, grid.shape)
    spatial_chunks = tuple(
        tuple(min(b, n - s) for s in range(0, n, b))
        for b, n in zip(block_shape, grid.shape, strict=True)
    )
    z, y, x = data.shape[-3:]
    plan = make_plan(
        chunks=spatial_chunks, maps=maps, source_shape=(z, y, x), interpolation=interpolation
    )
    token = tokenize(
        data.token,
        {k: v.homogeneous.tobytes() for k, v in maps.items()},
        grid,
        spatial_chunks,
        interpolation,
        plan.__class__.__name__,
        [getattr(plan, f, None) for f in ("stack_axis", "stacks", "blend")],
    )
    task_bytes = plan.task_bytes(data.dtype.itemsize)
    if data.reader is not None:
        blocks = lazy_blocks(plan, data.reader, lead_chunks=lead_chunks, name=f"{name}-{token}")
        return blocks, task_bytes
    assert data.array is not None
    blocks = chunked_blocks(plan, data.array, lead_chunks=lead_chunks, name=f"{name}-{token}")
    return blocks, task_bytes


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
    interpolation = check_interpolation(
        order=order,
        mode=mode,
        fill_value=fill_value,
        dtype=source.dtype if dtype is None else dtype,
        prefilter=prefilter,
        kernel=kernel,
    )
    index_to_coords(source)  # checks the coordinates
    lead_shape = tuple(int(source.sizes[d]) for d in lead_dims)
    transforms: dict[tuple[int, ...], Affine] = {}
    for position in itertools.product(*(range(n) for n in lead_shape)):
        if isinstance(transform, Affine):
            transforms[position] = transform
        elif position in transform:
            transforms[position] = transform[position]
        else:
            raise ValueError(f"no transform given for leading position {position}")
    data, task_bytes = build_blocks(
        as_they_are(source),
        transforms,
        grid,
        interpolation,
        chunks,
        lead_chunks=[(1,) * n for n in lead_shape],
    )
    return wrap_result(data, source, lead_dims, grid, space, interpolation, task_bytes)


def wrap_result(
    data: da.Array,
    source: xr.DataArray,
    lead_dims: Sequence[str],
    grid: OutputGrid,
    space: str | None,
    interpolation: Interpolation,
    task_bytes: int,
) -> xr.DataArray:
    """The resampled blocks as a DataArray: the source's leading coordinates, the grid's.

    Parameters
    ----------
    data : dask.array.Array
        Dims ``(*lead_dims, "z", "y", "x")``.
    source : xarray.DataArray
        Its coordinates along ``lead_dims`` (and scalar ones) are carried over.
    lead_dims : sequence of str
    grid : OutputGrid
    space : str or None
        Target space name, for the coordinates' ``long_name``.
    interpolation : Interpolation
    task_bytes : int
        Bytes the costliest block task holds, declared in the encoding
        (``visor_task_bytes``) for writers to plan with.

    Returns
    -------
    xarray.DataArray
    """
    coords: dict[Hashable, Any] = {
        name: coord.variable
        for name, coord in source.coords.items()
        if name not in SPATIAL_DIMS and set(coord.dims) <= set(lead_dims)
    }
    coords.update(grid.coords(space))
    attrs = {
        "interpolation_order": interpolation.order,
        "boundary_mode": interpolation.mode,
        "fill_value": interpolation.cval,
    }
    result = xr.DataArray(
        data, dims=(*lead_dims, *SPATIAL_DIMS), coords=coords, attrs=attrs, name=source.name
    )
    result.encoding[TASK_BYTES_ENCODING] = int(task_bytes)
    return result
