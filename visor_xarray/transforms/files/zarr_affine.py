"""Zarr v3 arrays holding an affine's 4x4 homogeneous matrix (and its ITK parts as attrs).

Written to a temporary sibling directory and renamed into place.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from visor_xarray.errors import MetadataError
from visor_xarray.transforms.files.common import (
    AXIS_ORDERS,
    affine_or_error,
    check_axis_order,
    homogeneous_from_array,
    reorder_axes,
    stored_affine,
)
from visor_xarray.transforms.model import Affine
from visor_xarray.zarr_io.small_arrays import read_small_array, write_small_array

__all__ = ["read_zarr_affine", "write_zarr_affine"]


def read_zarr_affine(path: str | os.PathLike[str], axis_order: str = "zyx") -> Affine:
    """Read an affine from a zarr array holding its 4x4 homogeneous matrix.

    When the array attributes carry ``matrix``, ``translation`` and ``center`` (as
    :func:`write_zarr_affine` stores them), the affine is rebuilt from them so that the
    centre survives; they must describe the same map as the array data. An
    ``axis_order`` attribute, if present, overrides the argument.

    Parameters
    ----------
    path : str or os.PathLike
        The array directory, e.g. ``affine.zarr``.
    axis_order : {"zyx", "xyz"}, optional
        Coordinate order of the stored matrix when the attributes do not say.

    Returns
    -------
    Affine
        The transform in ``(z, y, x)`` order.

    Raises
    ------
    FileNotFoundError
        If the path does not exist.
    MetadataError
        If it is not a readable zarr array, not a real 4x4 matrix, or its attributes are
        malformed or disagree with the matrix.
    ValueError
        If ``axis_order`` is neither ``"zyx"`` nor ``"xyz"``.
    """
    check_axis_order(axis_order)
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"{file}: no such zarr array")
    try:
        data, attributes = read_small_array(file)
    except Exception as exc:
        raise MetadataError(file, "", f"not a readable zarr array: {exc}") from exc

    stored_order = attributes.get("axis_order", axis_order)
    if stored_order not in AXIS_ORDERS:
        raise MetadataError(
            file, "attributes.axis_order", f"must be 'zyx' or 'xyz', got {stored_order!r}"
        )
    from_data = homogeneous_from_array(file, data, "data", stored_order)
    parts = ("matrix", "translation", "center")
    present = [key for key in parts if key in attributes]
    if not present:
        return from_data
    if len(present) != len(parts):
        missing = sorted(set(parts) - set(present))
        raise MetadataError(file, f"attributes.{missing[0]}", "missing (the others are present)")
    from_attributes = reorder_axes(
        affine_or_error(
            file,
            "attributes",
            lambda: Affine(
                np.asarray(attributes["matrix"], dtype=np.float64),
                np.asarray(attributes["translation"], dtype=np.float64),
                np.asarray(attributes["center"], dtype=np.float64),
            ),
        ),
        stored_order,
    )
    if not from_attributes.allclose(from_data, atol=1e-9, rtol=1e-12):
        raise MetadataError(
            file,
            "attributes",
            "matrix/translation/center describe a different map than the array data",
        )
    return from_attributes


def write_zarr_affine(
    path: str | os.PathLike[str], affine: Affine, axis_order: str = "zyx"
) -> None:
    """Write an affine as a zarr v3 array of its 4x4 homogeneous matrix.

    The attributes ``matrix``, ``translation``, ``center`` and ``axis_order`` record the
    ITK parts, so the centre is not lost. The array is written to a temporary sibling
    directory and renamed into place; an existing array at ``path`` is replaced (POSIX
    cannot rename over a non-empty directory, so there is a brief moment with neither).

    Parameters
    ----------
    path : str or os.PathLike
        Target directory, e.g. ``affine.zarr``; parent directories are created.
    affine : Affine
        The transform, ``(z, y, x)`` order.
    axis_order : {"zyx", "xyz"}, optional
        Coordinate order of the stored matrix and attributes.

    Raises
    ------
    TypeError
        If ``affine`` is not an :class:`Affine`.
    ValueError
        If ``axis_order`` is neither ``"zyx"`` nor ``"xyz"``.
    """
    stored = stored_affine(affine, axis_order, "write_zarr_affine")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    attributes = {
        "matrix": stored.matrix.tolist(),
        "translation": stored.translation.tolist(),
        "center": stored.center.tolist(),
        "axis_order": axis_order,
    }
    write_small_array(target, np.asarray(stored.homogeneous, dtype=np.float64), attributes)
