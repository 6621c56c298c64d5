"""Stitching: every stack of a slice resampled onto one grid and blended where they overlap.

The result is built like a resampling (:func:`~visor_xarray.resample.resample_dataarray`:
transforms, output grid, resolution level, one task per output block), with a
:class:`~visor_xarray.resample.blend.StitchPlan`: each block task reads and resamples only
the stacks that reach it and blends them (see :mod:`~visor_xarray.resample.blend` for the
rules). A block of a VISoR slice is reached by one to three stacks, so the work is that of
resampling the stacks, whatever their number, and the graph has one task per output block.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import xarray as xr

from visor_xarray.resample.blend import BLENDS, StitchPlan
from visor_xarray.resample.block_shape import Chunks
from visor_xarray.resample.core import check_interpolation
from visor_xarray.resample.grid import OutputGrid, Spacing
from visor_xarray.resample.grid_spec import GridSpec
from visor_xarray.resample.resolve import TransformArg, TransformSpec, prepare
from visor_xarray.resample.spaces import resample_prepared

__all__ = ["BLENDS", "stitch_stacks"]


def stitch_stacks(
    source: xr.DataArray,
    *,
    to_space: str = "slice",
    version: str | None = None,
    transform: TransformArg = None,
    blend: str = "mean",
    from_space: str | None = None,
    slice_name: str | None = None,
    spacing: Spacing | None = None,
    bounds: Any = None,
    grid: OutputGrid | None = None,
    order: int = 1,
    fill_value: float = 0,
    chunks: Chunks | None = None,
    level: str | int | None = "auto",
    dtype: Any = None,
    prefilter: bool = True,
    kernel: str = "auto",
) -> xr.DataArray:
    """Resample all stacks of a slice into one space and blend the overlaps, lazily.

    Parameters
    ----------
    source : xarray.DataArray
        A raw image with a ``vs`` dim (and usually ``ch``), e.g. ``ds["image"]`` from the
        ``visor`` engine or a ``sel`` of some stacks.
    to_space : str, default "slice"
        The common space of the stacks.
    version, transform, from_space, slice_name
        Where the per-stack transforms come from: see
        :class:`~visor_xarray.resample.TransformSpec` (a ``transform`` mapping keyed by
        stack label gives each stack its own affine).
    blend : {"mean", "max"}, default "mean"
        How voxels covered by several stacks are combined (see the module docs).
    spacing, bounds, grid
        Output grid (see :class:`~visor_xarray.resample.GridSpec`); default bounds are
        the union of every stack's transformed box.
    order : int, default 1
        Interpolation order.
    fill_value : float, default 0
        Value of voxels no stack covers.
    chunks : int, sequence or mapping, optional
        Output block shape (z, y, x).
    level : "auto", int, str or None, default "auto"
        Resolution level to read (see ``resample_dataarray``).
    dtype : dtype, optional
        Output dtype; default the source's.
    prefilter : bool, default True
        Spline prefiltering for orders >= 2.
    kernel : {"auto", "scipy"}, default "auto"
        Block kernel (see :func:`~visor_xarray.resample.resample_to_grid`).

    Returns
    -------
    xarray.DataArray
        Dask-backed, dims ``(ch, z, y, x)`` (the source's dims without ``vs``), with
        attrs ``blend`` and ``stacks`` (labels) besides those of ``resample_dataarray``.

    Raises
    ------
    ValueError
        If the source has no ``vs`` dim or ``blend`` is unknown (and as in
        ``resample_dataarray``).

    Examples
    --------
    >>> mosaic = stitch_stacks(img, version="v1", to_space="slice", blend="mean")  # doctest: +SKIP
    """
    if "vs" not in source.dims:
        raise ValueError(
            f"stitching needs a 'vs' (stack) dim, got dims {source.dims}; select several "
            "stacks (e.g. img.sel(vs=['stack_1', 'stack_3']))"
        )
    if blend not in BLENDS:
        raise ValueError(f"blend must be one of {BLENDS}, got {blend!r}")
    interpolation = check_interpolation(
        order=order,
        mode="constant",
        fill_value=fill_value,
        dtype=source.dtype if dtype is None else dtype,
        prefilter=prefilter,
        kernel=kernel,
    )
    prepared = prepare(source, TransformSpec(to_space, version, transform, from_space, slice_name))
    out_lead = tuple(d for d in prepared.lead_dims if d != "vs")
    result, provenance = resample_prepared(
        prepared,
        GridSpec(spacing, bounds, grid),
        interpolation,
        chunks=chunks,
        level=level,
        out_lead=out_lead,
        make_plan=functools.partial(
            StitchPlan,
            stack_axis=prepared.lead_dims.index("vs"),
            stacks=int(prepared.source.sizes["vs"]),
            blend=blend,
        ),
        name="stitch",
    )
    attrs = {key: value for key, value in provenance.items() if key not in ("stack", "fill_value")}
    attrs.update(result.attrs)
    attrs.update(
        blend=blend,
        stacks=[str(v) for v in np.atleast_1d(source.coords["vs"].values)]
        if "vs" in source.coords
        else [],
    )
    result.attrs = attrs
    return result
