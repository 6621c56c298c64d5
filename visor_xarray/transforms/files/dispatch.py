"""Reading and writing a transform file by its (type, format) from ``transforms.json``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Final

from visor_xarray.errors import UnsupportedTransformError
from visor_xarray.transforms.files.common import AFFINE, DDF, check_axis_order
from visor_xarray.transforms.files.mha import read_mha_displacement
from visor_xarray.transforms.files.npy import read_npy, write_npy
from visor_xarray.transforms.files.tfm import read_tfm, write_tfm
from visor_xarray.transforms.files.zarr_affine import read_zarr_affine, write_zarr_affine
from visor_xarray.transforms.model import Affine, SpatialTransform

__all__ = ["READABLE", "WRITABLE", "read_transform", "write_transform"]

READABLE: Final[frozenset[tuple[str, str]]] = frozenset(
    {(AFFINE, "tfm"), (AFFINE, "npy"), (AFFINE, "zarr"), (DDF, "mha")}
)
"""(type, format) combinations that :func:`read_transform` understands."""

WRITABLE: Final[frozenset[tuple[str, str]]] = frozenset(
    {(AFFINE, "tfm"), (AFFINE, "npy"), (AFFINE, "zarr")}
)
"""(type, format) combinations that :func:`write_transform` can produce."""


def _supported(combinations: frozenset[tuple[str, str]]) -> str:
    return ", ".join(f"{kind!r}+{fmt!r}" for kind, fmt in sorted(combinations))


def read_transform(
    path: str | os.PathLike[str], kind: str, fmt: str, axis_order: str = "zyx"
) -> SpatialTransform:
    """Read a transform file of the given type and format.

    Parameters
    ----------
    path : str or os.PathLike
        The file (or, for zarr, the array directory).
    kind : str
        Transform type as in ``transforms.json``: ``"affine"`` or
        ``"dense displacement field"``.
    fmt : str
        Storage format as in ``transforms.json``: ``"tfm"``, ``"npy"``, ``"zarr"`` or
        ``"mha"``.
    axis_order : {"zyx", "xyz"}, optional
        Coordinate order of an affine file's parameters. MetaImage headers always use
        ITK's ``(x, y, z)`` order and are always converted, so it does not apply to
        ``"mha"``.

    Returns
    -------
    Affine or DisplacementField
        The transform, in ``(z, y, x)`` order.

    Raises
    ------
    UnsupportedTransformError
        If the (type, format) combination is not readable (the message lists those
        that are), or the file holds an unsupported transform.
    MetadataError
        If the file is malformed.
    FileNotFoundError
        If the file does not exist.
    ValueError
        If ``axis_order`` is neither ``"zyx"`` nor ``"xyz"``.
    """
    check_axis_order(axis_order)
    if (kind, fmt) == (AFFINE, "tfm"):
        return read_tfm(path, axis_order)
    if (kind, fmt) == (AFFINE, "npy"):
        return read_npy(path, axis_order)
    if (kind, fmt) == (AFFINE, "zarr"):
        return read_zarr_affine(path, axis_order)
    if (kind, fmt) == (DDF, "mha"):
        return read_mha_displacement(path)
    raise UnsupportedTransformError(
        f"{Path(path)}: reading transform type {kind!r} in format {fmt!r} is not supported; "
        f"supported: {_supported(READABLE)}"
    )


def write_transform(
    path: str | os.PathLike[str],
    transform: SpatialTransform,
    kind: str,
    fmt: str,
    axis_order: str = "zyx",
) -> None:
    """Write a transform file of the given type and format.

    Parameters
    ----------
    path : str or os.PathLike
        Target file (or, for zarr, array directory); replaced atomically.
    transform : Affine or DisplacementField
        The transform, ``(z, y, x)`` order.
    kind : str
        Transform type: only ``"affine"`` is writable.
    fmt : str
        Storage format: ``"tfm"``, ``"npy"`` or ``"zarr"``.
    axis_order : {"zyx", "xyz"}, optional
        Coordinate order of the written parameters.

    Raises
    ------
    UnsupportedTransformError
        If the (type, format) combination is not writable (displacement fields are read
        only); the message lists the writable ones.
    TypeError
        If ``transform`` does not match ``kind``.
    ValueError
        If ``axis_order`` is neither ``"zyx"`` nor ``"xyz"``.
    """
    check_axis_order(axis_order)
    if (kind, fmt) not in WRITABLE:
        raise UnsupportedTransformError(
            f"{Path(path)}: writing transform type {kind!r} in format {fmt!r} is not "
            f"supported; supported: {_supported(WRITABLE)}"
        )
    if not isinstance(transform, Affine):
        raise TypeError(f"transform type {kind!r} needs an Affine, got {type(transform)!r}")
    writers: dict[str, Callable[[str | os.PathLike[str], Affine, str], None]] = {
        "tfm": write_tfm,
        "npy": write_npy,
        "zarr": write_zarr_affine,
    }
    writers[fmt](path, transform, axis_order)
