"""Helpers shared by the transform file formats: axis order, number parsing, checks.

Affine files hold ``(z, y, x)`` parameters by default, as visor-py's test code writes
them; ``axis_order="xyz"`` reads or writes ITK's native order instead (``reorder_axes``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import numpy as np

from visor_xarray.errors import MetadataError
from visor_xarray.transforms.model import Affine

__all__ = [
    "AFFINE",
    "AXIS_ORDERS",
    "DDF",
    "affine_or_error",
    "check_axis_order",
    "homogeneous_from_array",
    "parse_numbers",
    "reorder_axes",
    "stored_affine",
]

#: ``transforms.json`` type names of an affine and of a dense displacement field.
AFFINE: Final = "affine"
DDF: Final = "dense displacement field"

#: The ``axis_order`` values of the affine readers and writers.
AXIS_ORDERS: Final = ("zyx", "xyz")
# Decimal numbers only: Python's float() would also take "1_000", "nan" and "infinity".
_NUMBER: Final = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def check_axis_order(axis_order: str) -> None:
    """Check an ``axis_order`` argument.

    Parameters
    ----------
    axis_order : str
        ``"zyx"`` or ``"xyz"``.

    Raises
    ------
    ValueError
        For any other value.
    """
    if axis_order not in AXIS_ORDERS:
        raise ValueError(f"axis_order must be 'zyx' or 'xyz', got {axis_order!r}")


def reorder_axes(affine: Affine, axis_order: str) -> Affine:
    """Convert an affine between (z, y, x) and (x, y, z) parameters.

    Reversing the axes is its own inverse, so the same call converts both ways.

    Parameters
    ----------
    affine : Affine
        The affine, in one order.
    axis_order : str
        ``"zyx"`` (returned unchanged) or ``"xyz"`` (reversed).

    Returns
    -------
    Affine
        The affine in the other order.
    """
    check_axis_order(axis_order)
    if axis_order == "zyx":
        return affine
    return Affine(
        affine.matrix[::-1, ::-1],
        affine.translation[::-1],
        affine.center[::-1],
    )


def stored_affine(affine: Affine, axis_order: str, writer: str) -> Affine:
    """The affine a file writer stores: checked to be an :class:`Affine`, in ``axis_order``.

    Parameters
    ----------
    affine : Affine
        The transform the caller passed.
    axis_order : str
        ``"zyx"`` or ``"xyz"``.
    writer : str
        Name of the writer, for the error message.

    Returns
    -------
    Affine
        The affine with its parameters in ``axis_order``.

    Raises
    ------
    TypeError
        If ``affine`` is not an :class:`Affine`.
    """
    if not isinstance(affine, Affine):
        raise TypeError(f"{writer} needs an Affine, got {type(affine)!r}")
    return reorder_axes(affine, axis_order)


def affine_or_error(
    path: Path, field: str, build: Callable[[], Affine], what: str = "transform"
) -> Affine:
    """Build an affine from a file's values, reporting invalid values as the file's error.

    Parameters
    ----------
    path : Path
        The file read.
    field : str
        The field the values came from.
    build : callable
        Builds the affine; raises ``ValueError`` for invalid values.
    what : str
        What is built, for the error message.

    Returns
    -------
    Affine
        The affine ``build`` returned.

    Raises
    ------
    MetadataError
        If ``build`` raised ``ValueError``.
    """
    try:
        return build()
    except ValueError as exc:
        raise MetadataError(path, field, f"invalid {what}: {exc}") from exc


def parse_numbers(path: Path, field: str, text: str, count: int) -> list[float]:
    """Parse a whitespace-separated list of finite decimal numbers.

    Parameters
    ----------
    path : Path
        The file read, for the error message.
    field : str
        The field holding the text.
    text : str
        The numbers.
    count : int
        How many numbers are expected.

    Returns
    -------
    list of float
        The numbers.

    Raises
    ------
    MetadataError
        If the count differs or a token is not a finite decimal number.
    """
    tokens = text.split()
    if len(tokens) != count:
        raise MetadataError(path, field, f"expected {count} numbers, got {len(tokens)}: {text!r}")
    bad = [token for token in tokens if not _NUMBER.fullmatch(token)]
    if bad:
        raise MetadataError(path, field, f"not a finite decimal number: {bad[0]!r}")
    numbers = [float(token) for token in tokens]
    if not all(math.isfinite(number) for number in numbers):
        raise MetadataError(path, field, f"numbers out of the float64 range: {text!r}")
    return numbers


def homogeneous_from_array(path: Path, data: Any, field: str, axis_order: str) -> Affine:
    """Build an affine from a stored 4x4 homogeneous matrix.

    Parameters
    ----------
    path : Path
        The file read, for the error message.
    data : Any
        The stored matrix.
    field : str
        Where in the file the matrix is.
    axis_order : str
        Order of the matrix's axes, ``"zyx"`` or ``"xyz"``.

    Returns
    -------
    Affine
        The affine, with (z, y, x) parameters.

    Raises
    ------
    MetadataError
        If the matrix is not a real 4x4 matrix of an invertible affine.
    """
    array = np.asarray(data)
    if array.shape != (4, 4):
        raise MetadataError(path, field, f"expected a 4x4 matrix, got shape {array.shape}")
    if array.dtype.kind not in "iuf":
        raise MetadataError(path, field, f"expected real numbers, got dtype {array.dtype}")
    affine = affine_or_error(
        path, field, lambda: Affine.from_homogeneous(array), "homogeneous matrix"
    )
    return reorder_axes(affine, axis_order)
