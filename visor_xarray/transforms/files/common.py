"""Helpers shared by the transform file formats: axis order, number parsing, checks.

Affine files hold ``(z, y, x)`` parameters by default, as visor-py's test code writes
them; ``axis_order="xyz"`` reads or writes ITK's native order instead (``_reorder``).
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

__all__ = ["AFFINE", "DDF"]

#: ``transforms.json`` type names of an affine and of a dense displacement field.
AFFINE: Final = "affine"
DDF: Final = "dense displacement field"

_AXIS_ORDERS: Final = ("zyx", "xyz")
# Decimal numbers only: Python's float() would also take "1_000", "nan" and "infinity".
_NUMBER: Final = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _check_axis_order(axis_order: str) -> None:
    if axis_order not in _AXIS_ORDERS:
        raise ValueError(f"axis_order must be 'zyx' or 'xyz', got {axis_order!r}")


def _reorder(affine: Affine, axis_order: str) -> Affine:
    """Convert between (z, y, x) and (x, y, z) parameters (reversal is its own inverse)."""
    _check_axis_order(axis_order)
    if axis_order == "zyx":
        return affine
    return Affine(
        affine.matrix[::-1, ::-1],
        affine.translation[::-1],
        affine.center[::-1],
    )


def _stored_affine(affine: Affine, axis_order: str, writer: str) -> Affine:
    """The affine ``writer`` stores: checked to be an :class:`Affine`, in ``axis_order``."""
    if not isinstance(affine, Affine):
        raise TypeError(f"{writer} needs an Affine, got {type(affine)!r}")
    return _reorder(affine, axis_order)


def _affine_or_error(
    path: Path, field: str, build: Callable[[], Affine], what: str = "transform"
) -> Affine:
    try:
        return build()
    except ValueError as exc:
        raise MetadataError(path, field, f"invalid {what}: {exc}") from exc


def _parse_numbers(path: Path, field: str, text: str, count: int) -> list[float]:
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


def _homogeneous_from_array(path: Path, data: Any, field: str, axis_order: str) -> Affine:
    array = np.asarray(data)
    if array.shape != (4, 4):
        raise MetadataError(path, field, f"expected a 4x4 matrix, got shape {array.shape}")
    if array.dtype.kind not in "iuf":
        raise MetadataError(path, field, f"expected real numbers, got dtype {array.dtype}")
    affine = _affine_or_error(
        path, field, lambda: Affine.from_homogeneous(array), "homogeneous matrix"
    )
    return _reorder(affine, axis_order)
