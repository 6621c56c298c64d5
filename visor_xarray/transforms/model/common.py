"""Shared pieces of the transform models: array checks, point handling, the singular error.

:func:`frozen_array` turns constructor arguments into validated read-only float64
arrays; :func:`as_points` checks ``(z, y, x)`` point arrays; :func:`clean_zeros`
normalises ``-0.0`` before hashing.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from visor_xarray.errors import UnsupportedTransformError

__all__ = [
    "MAX_CONDITION",
    "FloatArray",
    "SingularTransformError",
    "as_points",
    "clean_zeros",
    "frozen_array",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
"""A float64 numpy array: the parameters and points of the models."""

# Above this condition number the inverse of a 3x3 matrix has lost more than about
# three of float64's ~16 significant digits; such a "transform" is almost surely a
# mistake (a collapsed axis), so inverting it is refused rather than done badly.
MAX_CONDITION = 1.0 / (1e3 * np.finfo(np.float64).eps)
"""Largest condition number of a matrix the models invert."""


class SingularTransformError(UnsupportedTransformError, ValueError):
    """An affine transform whose matrix is singular (or numerically so) was inverted."""


def frozen_array(
    value: Any, name: str, shape: tuple[int, ...], owner: str, share_readonly: bool = False
) -> FloatArray:
    """Return ``value`` as a read-only float64 array of ``shape``.

    The result is a private copy, so later changes to the caller's array cannot leak in.
    With ``share_readonly`` an input that is already a read-only float64 array is used
    without copying (for large displacement fields).

    Parameters
    ----------
    value : Any
        The constructor argument.
    name : str
        Its name, for the error message.
    shape : tuple of int
        The required shape.
    owner : str
        The class being built, for the error message.
    share_readonly : bool
        Use a read-only, C-contiguous float64 input as it is.

    Returns
    -------
    FloatArray
        The read-only array.

    Raises
    ------
    ValueError
        If ``value`` is not numeric, has another shape, or holds non-finite values.
    """
    shared = (
        share_readonly
        and isinstance(value, np.ndarray)
        and value.dtype == np.float64
        and not value.flags.writeable
        and value.flags.c_contiguous
    )
    try:
        array = (
            np.asarray(value, dtype=np.float64)
            if shared
            else np.array(value, np.float64, order="C")
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{owner}.{name} must be numeric, got {value!r}") from exc
    if array.shape != shape:
        raise ValueError(f"{owner}.{name} must have shape {shape}, got {array.shape}")
    finite = np.isfinite(array)
    if not finite.all():
        shown = array.tolist() if array.size <= 9 else f"{(~finite).sum()} non-finite values"
        raise ValueError(f"{owner}.{name} must be finite, got {shown}")
    array = array.view()
    array.setflags(write=False)
    return array


def as_points(points: npt.ArrayLike) -> FloatArray:
    """Check and convert ``(z, y, x)`` points.

    Parameters
    ----------
    points : array_like
        One point of shape ``(3,)`` or many of shape ``(N, 3)``.

    Returns
    -------
    FloatArray
        The points as float64.

    Raises
    ------
    ValueError
        If the last dimension is not 3.
    """
    array = np.asarray(points, dtype=np.float64)
    if array.ndim == 0 or array.shape[-1] != 3:
        raise ValueError(
            f"points must have shape (3,) or (N, 3) in (z, y, x) order, got {array.shape}"
        )
    return array


def clean_zeros(array: FloatArray) -> FloatArray:
    """Replace ``-0.0`` by ``0.0``.

    ``-0.0 == 0.0`` for ``np.array_equal`` but not for ``tobytes()``: equal models must
    hash equally.

    Parameters
    ----------
    array : FloatArray
        The array.

    Returns
    -------
    FloatArray
        A copy without negative zeros.
    """
    return array + 0.0
