"""``.npy`` files holding an affine's 4x4 homogeneous matrix, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from visor_xarray.errors import MetadataError
from visor_xarray.transforms.files.common import (
    check_axis_order,
    homogeneous_from_array,
    stored_affine,
)
from visor_xarray.transforms.model import Affine
from visor_xarray.zarr_io.atomic_files import write_atomic

__all__ = ["read_npy", "write_npy"]


def read_npy(path: str | os.PathLike[str], axis_order: str = "zyx") -> Affine:
    """Read a 4x4 homogeneous affine matrix from a ``.npy`` file.

    The matrix acts on column vectors ``(z, y, x, 1)``; a centre is folded into its last
    column, so the result has zero centre but describes the same map.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npy`` file.
    axis_order : {"zyx", "xyz"}, optional
        Coordinate order of the stored matrix.

    Returns
    -------
    Affine
        The transform in ``(z, y, x)`` order.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    MetadataError
        If the file is not a valid ``.npy``, is not a real 4x4 matrix, is not finite or
        its last row is not ``[0, 0, 0, 1]``.
    ValueError
        If ``axis_order`` is neither ``"zyx"`` nor ``"xyz"``.
    """
    check_axis_order(axis_order)
    file = Path(path)
    try:
        data = np.load(file, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (ValueError, OSError, EOFError) as exc:
        raise MetadataError(file, "", f"not a readable .npy array: {exc}") from exc
    return homogeneous_from_array(file, data, "matrix", axis_order)


def write_npy(path: str | os.PathLike[str], affine: Affine, axis_order: str = "zyx") -> None:
    """Write an affine as a 4x4 float64 homogeneous matrix to a ``.npy`` file.

    Parameters
    ----------
    path : str or os.PathLike
        Target file; parent directories are created. Replaced atomically.
    affine : Affine
        The transform, ``(z, y, x)`` order. Its centre is folded into the translation.
    axis_order : {"zyx", "xyz"}, optional
        Coordinate order of the stored matrix.

    Raises
    ------
    TypeError
        If ``affine`` is not an :class:`Affine`.
    ValueError
        If ``axis_order`` is neither ``"zyx"`` nor ``"xyz"``.
    """
    matrix = stored_affine(affine, axis_order, "write_npy").homogeneous
    write_atomic(Path(path), lambda stream: np.save(stream, matrix, allow_pickle=False))
