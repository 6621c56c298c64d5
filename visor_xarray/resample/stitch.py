"""Stitching: every stack of a slice resampled onto one grid and blended where they overlap.

Each stack is resampled (with its own transform) onto the shared grid in float64, with
``NaN`` outside the stack: scipy's ``"constant"`` boundary rule never blends the fill value
into points inside a stack (they are interpolated from the stack alone), so ``NaN`` marks
exactly the voxels the stack does *not* cover. That is the stack's coverage mask, for free.
The stacks are then blended voxel by voxel:

* ``"mean"``: the average of the stacks covering the voxel (sum of covered values divided
  by the number of covering stacks);
* ``"max"``: the largest value among the covering stacks.

Voxels no stack covers take ``fill_value``. Integer outputs are rounded half to even and
clipped to the dtype's range.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from visor_xarray.resample.grid import OutputGrid
from visor_xarray.resample.resolve import TransformArg
from visor_xarray.resample.spaces import resample_dataarray

__all__ = ["BLENDS", "stitch_stacks"]

#: Blend rules for voxels covered by several stacks.
BLENDS = ("mean", "max")


def stitch_stacks(
    source: xr.DataArray,
    *,
    to_space: str = "slice",
    version: str | None = None,
    transform: TransformArg = None,
    blend: str = "mean",
    from_space: str | None = None,
    slice_name: str | None = None,
    spacing: float | Sequence[float] | Mapping[str, float] | None = None,
    bounds: Any = None,
    grid: OutputGrid | None = None,
    order: int = 1,
    fill_value: float = 0,
    chunks: int | Sequence[int] | Mapping[str, int] | None = None,
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
        Where the per-stack transforms come from, as in
        :func:`~visor_xarray.resample.resample_dataarray` (a ``transform`` mapping keyed
        by stack label gives each stack its own affine).
    blend : {"mean", "max"}, default "mean"
        How voxels covered by several stacks are combined (see the module docs).
    spacing, bounds, grid
        Output grid; default bounds are the union of every stack's transformed box.
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
    out_dtype = np.dtype(source.dtype if dtype is None else dtype)
    if out_dtype.kind not in "uif":
        raise ValueError(f"cannot stitch into dtype {out_dtype}")
    stacks = resample_dataarray(
        source,
        to_space=to_space,
        version=version,
        transform=transform,
        from_space=from_space,
        slice_name=slice_name,
        spacing=spacing,
        bounds=bounds,
        grid=grid,
        order=order,
        fill_value=np.nan,
        chunks=chunks,
        level=level,
        mode="constant",
        dtype=np.float64,
        prefilter=prefilter,
        kernel=kernel,
    )
    covered = stacks.notnull()
    count = covered.sum("vs")
    if blend == "mean":
        # count.where(...) is NaN where nothing covers the voxel: no 0/0 warnings
        blended = stacks.fillna(0.0).sum("vs") / count.where(count > 0)
    else:
        blended = stacks.fillna(-np.inf).max("vs")
    blended = blended.where(count > 0, float(fill_value))
    if out_dtype.kind in "ui":
        info = np.iinfo(out_dtype)
        blended = blended.round().clip(info.min, info.max)
    result = blended.astype(out_dtype)
    attrs = {
        key: value for key, value in stacks.attrs.items() if key not in ("stack", "fill_value")
    }
    attrs.update(
        blend=blend,
        stacks=[str(v) for v in np.atleast_1d(source.coords["vs"].values)]
        if "vs" in source.coords
        else [],
        fill_value=float(fill_value),
    )
    result.attrs = attrs
    result.name = source.name
    return result
