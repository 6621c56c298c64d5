"""ITK text transform files (``.tfm``): one 3-D affine, read and written atomically."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Final

import numpy as np

from visor_xarray.errors import MetadataError, UnsupportedTransformError
from visor_xarray.transforms.files.common import (
    affine_or_error,
    check_axis_order,
    parse_numbers,
    reorder_axes,
    stored_affine,
)
from visor_xarray.transforms.model import Affine
from visor_xarray.zarr_io.atomic_files import write_atomic

__all__ = ["read_tfm", "write_tfm"]

_TFM_MAGIC: Final = "#Insight Transform File"
_TFM_TYPE: Final = re.compile(r"(AffineTransform|MatrixOffsetTransformBase)_(double|float)_3_3")


def _format_number(value: float) -> str:
    # repr() is the shortest text that parses back to the identical double.
    return repr(float(value))


def read_tfm(path: str | os.PathLike[str], axis_order: str = "zyx") -> Affine:
    """Read a single 3-D affine from an ITK text transform file (``.tfm``).

    Accepted transform types are ``AffineTransform`` and ``MatrixOffsetTransformBase``,
    ``double`` or ``float``, 3x3. ``Parameters`` holds the matrix row-major then the
    translation, ``FixedParameters`` the centre, which is kept.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.tfm`` file.
    axis_order : {"zyx", "xyz"}, optional
        Coordinate order of the file's parameters. ``"zyx"`` (default) is the VISoR
        convention; ``"xyz"`` is ITK's native order and is permuted into ``(z, y, x)``.

    Returns
    -------
    Affine
        The transform in ``(z, y, x)`` order.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    MetadataError
        If the file is malformed: no ITK header, a missing or repeated line, a wrong
        number of parameters, or text that is not a number. ``field`` names the line.
    UnsupportedTransformError
        If the file holds another transform type (e.g. ``BSplineTransform``) or more
        than one transform (a composite).
    ValueError
        If ``axis_order`` is neither ``"zyx"`` nor ``"xyz"``.
    """
    check_axis_order(axis_order)
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise MetadataError(file, "", f"not an ITK text transform file: {exc}") from exc
    numbered = [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1)]
    numbered = [(n, line) for n, line in numbered if line]
    if not numbered or not numbered[0][1].startswith(_TFM_MAGIC):
        raise MetadataError(
            file, "header", f"not an ITK text transform file: first line must be {_TFM_MAGIC!r}"
        )

    types: list[str] = []
    values: dict[str, list[str]] = {"Parameters": [], "FixedParameters": []}
    for number, line in numbered[1:]:
        if line.startswith("#"):
            continue
        key, colon, value = line.partition(":")
        key = key.strip()
        if not colon:
            raise MetadataError(file, f"line {number}", f"expected 'Key: value', got {line!r}")
        if key == "Transform":
            types.append(value.strip())
        elif key in values:
            values[key].append(value)
    # The transform type decides first: a composite legitimately repeats Parameters.
    if not types:
        raise MetadataError(file, "Transform", "missing: the file names no transform type")
    if len(types) > 1 or types[0].startswith("CompositeTransform"):
        raise UnsupportedTransformError(
            f"{file}: holds a composite of {len(types)} transforms ({', '.join(types)}); "
            "only a single AffineTransform_double_3_3 is supported"
        )
    if not _TFM_TYPE.fullmatch(types[0]):
        raise UnsupportedTransformError(
            f"{file}: transform type {types[0]!r} is not supported; supported: "
            "AffineTransform_{double,float}_3_3 and MatrixOffsetTransformBase_{double,float}_3_3"
        )
    for key, found in values.items():
        if not found:
            raise MetadataError(file, key, f"missing: an affine needs a {key} line")
        if len(found) > 1:
            raise MetadataError(file, key, "appears more than once")

    parameters = parse_numbers(file, "Parameters", values["Parameters"][0], 12)
    center = parse_numbers(file, "FixedParameters", values["FixedParameters"][0], 3)
    affine = affine_or_error(
        file,
        "Parameters",
        lambda: Affine(
            np.reshape(parameters[:9], (3, 3)), np.asarray(parameters[9:]), np.asarray(center)
        ),
    )
    return reorder_axes(affine, axis_order)


def write_tfm(path: str | os.PathLike[str], affine: Affine, axis_order: str = "zyx") -> None:
    """Write an affine as an ITK text transform file (``AffineTransform_double_3_3``).

    Numbers are written with full float64 precision and the centre goes into
    ``FixedParameters``, so :func:`read_tfm` returns an equal :class:`Affine`.

    Parameters
    ----------
    path : str or os.PathLike
        Target file; parent directories are created. Replaced atomically.
    affine : Affine
        The transform, ``(z, y, x)`` order.
    axis_order : {"zyx", "xyz"}, optional
        Coordinate order of the written parameters (see :func:`read_tfm`).

    Raises
    ------
    TypeError
        If ``affine`` is not an :class:`Affine`.
    ValueError
        If ``axis_order`` is neither ``"zyx"`` nor ``"xyz"``.
    """
    stored = stored_affine(affine, axis_order, "write_tfm")
    parameters = [*stored.matrix.ravel(), *stored.translation]
    text = (
        "#Insight Transform File V1.0\n"
        "#Transform 0\n"
        "Transform: AffineTransform_double_3_3\n"
        f"Parameters: {' '.join(_format_number(v) for v in parameters)}\n"
        f"FixedParameters: {' '.join(_format_number(v) for v in stored.center)}\n"
    )
    write_atomic(Path(path), lambda stream: stream.write(text.encode("ascii")))
