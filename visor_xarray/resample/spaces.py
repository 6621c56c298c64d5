"""Resampling of VISoR images between spaces: the public entry points.

This module turns ``DataArray.visor.resample(to_space=..., version=...)`` into a call of
:func:`visor_xarray.resample.core.resample_to_grid`:

1. per position of the leading dims (``vs``, ``ch``), the transform ``from_space ->
   to_space`` is loaded or taken from ``transform=``
   (:mod:`~visor_xarray.resample.resolve`);
2. the output grid is chosen (default spacing: the finest target-space step of a source
   voxel; default bounds: the union of the transformed source boxes, snapped;
   :mod:`~visor_xarray.resample.grid_spec`);
3. the resolution level to read is chosen (``level="auto"``: the coarsest level whose
   voxels, mapped into the target space, are no coarser than the output spacing) and the
   stored image read at it, through the level source the engine recorded
   (:mod:`~visor_xarray.resample.source_level`);
4. the block-driven resampler builds the lazy result, and attrs record the provenance
   (:mod:`~visor_xarray.resample.provenance`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import xarray as xr

from visor_xarray.resample.block_shape import Chunks
from visor_xarray.resample.core import build_blocks, check_interpolation, wrap_result
from visor_xarray.resample.grid import OutputGrid, Spacing
from visor_xarray.resample.grid_spec import GridSpec, output_grid
from visor_xarray.resample.plan import Interpolation, ResamplePlan
from visor_xarray.resample.provenance import provenance_attrs
from visor_xarray.resample.resolve import Prepared, TransformArg, TransformSpec, prepare
from visor_xarray.resample.source_level import data_to_read

__all__ = ["resample_dataarray", "resample_prepared"]


def resample_dataarray(
    source: xr.DataArray,
    *,
    to_space: str,
    version: str | None = None,
    transform: TransformArg = None,
    from_space: str | None = None,
    slice_name: str | None = None,
    spacing: Spacing | None = None,
    bounds: Any = None,
    grid: OutputGrid | None = None,
    order: int = 1,
    fill_value: float = 0,
    chunks: Chunks | None = None,
    level: str | int | None = "auto",
    mode: str = "constant",
    dtype: Any = None,
    prefilter: bool = True,
    kernel: str = "auto",
) -> xr.DataArray:
    """Resample a VISoR image (or part of it) into another space, lazily.

    The result is a dask-backed DataArray on a regular grid of the target space. Nothing
    is read or computed until it is: each output block then reads only the source region
    its voxels map back into (pull-back resampling).

    Parameters
    ----------
    source : xarray.DataArray
        An image from the ``visor`` engine (any level, any ``sel``/``isel`` subset),
        dims ``z``, ``y``, ``x`` plus optionally ``vs`` and ``ch``. With ``vs``/``ch``
        dims every stack/channel is resampled with its own transform onto one shared
        grid; with scalar ``vs``/``ch`` coordinates (after ``sel``) just that one.
    to_space, version, transform, from_space, slice_name
        The target space and where the transform to it comes from (a stored ``version``,
        by default the image's ``transform_version``, or an affine ``transform``): see
        :class:`~visor_xarray.resample.TransformSpec`.
    spacing, bounds, grid
        The output grid (default: isotropic, the finest target-space voxel step, over the
        transformed source boxes): see :class:`~visor_xarray.resample.GridSpec`.
    order : int, default 1
        Interpolation order: 0 nearest, 1 linear, 3 cubic spline (up to 5).
    fill_value : float, default 0
        Value of output voxels that map outside the source.
    chunks : int, sequence or mapping, optional
        Output block shape (z, y, x); default 1-2 M voxels shaped for small footprints
        (128 per axis for axis-aligned maps, elongated along z for a deskew; see
        :func:`~visor_xarray.resample.core.default_block`). Memory per running block is
        about the block plus its source footprint (see the docs).
    level : "auto", int, str or None, default "auto"
        Resolution level to read. ``"auto"``: the coarsest level adequate for the output
        spacing (see :func:`choose_level`), read straight from the file (only the
        footprint of each block). An explicit level reads that level. ``None``: use this
        object's data as they are. Data that were changed after opening (arithmetic) are
        always used as they are.
    mode : {"constant", "grid-constant", "nearest"}, default "constant"
        Boundary handling (scipy.ndimage); ``"constant"`` fills every point outside the
        source's voxel-centre box.
    dtype : dtype, optional
        Output dtype (default: the source's; integers are rounded and clipped).
    prefilter : bool, default True
        Spline prefiltering for orders >= 2.
    kernel : {"auto", "scipy"}, default "auto"
        Block kernel (see :func:`~visor_xarray.resample.resample_to_grid`).

    Returns
    -------
    xarray.DataArray
        Dims ``(vs, ch, z, y, x)`` minus the dims the source lacks; z/y/x coordinates in
        target micrometres (``units`` attrs); attrs ``from_space``, ``to_space``,
        ``transform_version``, ``transform_matrix`` (4x4 homogeneous ``from_space ->
        to_space``, nested per stack/channel), ``stack``/``channel`` (stored indices),
        the source image and the level read, interpolation settings.

    Raises
    ------
    ValueError
        For conflicting or malformed arguments.
    MetadataError
        If VISoR metadata are needed and missing.
    UnknownTransformError, UnknownLevelError, UnknownLabelError
        For a missing transform, level or label.

    Examples
    --------
    >>> img = xr.open_dataset(path, engine="visor", chunks={})["image"]  # doctest: +SKIP
    >>> ortho = resample_dataarray(img.sel(vs="stack_1", ch="488"), to_space="ortho",
    ...                            version="v1", spacing=2.0)  # doctest: +SKIP
    """
    prepared = prepare(source, TransformSpec(to_space, version, transform, from_space, slice_name))
    interpolation = check_interpolation(
        order=order,
        mode=mode,
        fill_value=fill_value,
        dtype=prepared.source.dtype if dtype is None else dtype,
        prefilter=prefilter,
        kernel=kernel,
    )
    result, provenance = resample_prepared(
        prepared,
        GridSpec(spacing, bounds, grid),
        interpolation,
        chunks=chunks,
        level=level,
        out_lead=prepared.lead_dims,
    )
    result.attrs = {**provenance, **result.attrs}
    return result


def resample_prepared(
    prepared: Prepared,
    grid: GridSpec,
    interpolation: Interpolation,
    *,
    chunks: Chunks | None,
    level: str | int | None,
    out_lead: Sequence[str],
    make_plan: Any = ResamplePlan,
    name: str = "resample",
) -> tuple[xr.DataArray, dict[str, Any]]:
    """The lazy result of a prepared source on the grid asked for, and its provenance.

    The steps :func:`resample_dataarray` and :func:`~visor_xarray.resample.stitch_stacks`
    share once the transforms are resolved: the output grid, the level to read, the block
    tasks, the DataArray.

    Parameters
    ----------
    prepared : Prepared
        The source with its transforms (:func:`~visor_xarray.resample.resolve.prepare`).
    grid : GridSpec
        The output grid asked for.
    interpolation : Interpolation
        The checked interpolation settings.
    chunks : int, sequence, mapping or None
        Output block shape (z, y, x).
    level : "auto", int, str or None
        Resolution level to read (see :func:`resample_dataarray`).
    out_lead : sequence of str
        The leading dims of the result (a stitch blends ``vs`` away).
    make_plan : callable, default ResamplePlan
        The block plan (see :func:`~visor_xarray.resample.core.build_blocks`).
    name : str, default "resample"
        Prefix of the dask name.

    Returns
    -------
    result : xarray.DataArray
        Dask-backed, with the interpolation attrs.
    provenance : dict
        Its provenance attrs (:func:`~visor_xarray.resample.provenance.provenance_attrs`).
    """
    chosen = output_grid(prepared, grid)
    data = data_to_read(prepared, chosen, level)
    blocks, task_bytes = build_blocks(
        data,
        {p: prepared.coord_maps[p] for p in prepared.positions},
        chosen,
        interpolation,
        chunks,
        lead_chunks=[(1,) * int(prepared.source.sizes[d]) for d in out_lead],
        make_plan=make_plan,
        name=name,
    )
    result = wrap_result(
        blocks, prepared.source, out_lead, chosen, prepared.to_space, interpolation, task_bytes
    )
    return result, provenance_attrs(prepared, data.level)
