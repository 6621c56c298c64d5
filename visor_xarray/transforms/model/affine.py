"""The :class:`Affine` model: a 3-D affine map with ITK semantics.

``p_out = M @ (p_in - c) + c + t``, points in ``(z, y, x)`` order. ``a.compose(b)`` and
``a @ b`` mean ``a ∘ b``, i.e. *b is applied first*.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from visor_xarray.transforms.model.common import (
    MAX_CONDITION,
    FloatArray,
    SingularTransformError,
    as_points,
    clean_zeros,
    frozen_array,
)

__all__ = ["Affine"]


@dataclass(frozen=True, eq=False)
class Affine:
    """A 3-D affine map with ITK semantics, ``p_out = M @ (p_in - c) + c + t``.

    Points are ordered ``(z, y, x)``. The arrays are stored as read-only float64 copies
    (or views), so an ``Affine`` is immutable and hashable; two affines compare equal
    when their matrix, translation and centre are exactly equal. Use :meth:`allclose`
    to compare the maps they represent.

    Parameters
    ----------
    matrix : numpy.ndarray
        The 3x3 linear part ``M``.
    translation : numpy.ndarray
        The translation ``t``, shape (3,).
    center : numpy.ndarray, optional
        The centre of rotation ``c``, shape (3,); zeros by default.

    Raises
    ------
    ValueError
        If an array has the wrong shape or holds a non-finite value (the message names
        the field).
    """

    matrix: FloatArray
    translation: FloatArray
    center: FloatArray = dataclasses.field(default_factory=lambda: np.zeros(3))

    def __post_init__(self) -> None:
        object.__setattr__(self, "matrix", frozen_array(self.matrix, "matrix", (3, 3), "Affine"))
        object.__setattr__(
            self,
            "translation",
            frozen_array(self.translation, "translation", (3,), "Affine"),
        )
        object.__setattr__(self, "center", frozen_array(self.center, "center", (3,), "Affine"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Affine):
            return NotImplemented
        return (
            np.array_equal(self.matrix, other.matrix)
            and np.array_equal(self.translation, other.translation)
            and np.array_equal(self.center, other.center)
        )

    def __hash__(self) -> int:
        return hash(
            (
                clean_zeros(self.matrix).tobytes(),
                clean_zeros(self.translation).tobytes(),
                clean_zeros(self.center).tobytes(),
            )
        )

    def __reduce__(self) -> tuple[type[Affine], tuple[FloatArray, FloatArray, FloatArray]]:
        # Rebuild through __init__ so an unpickled copy (e.g. on a dask worker) is
        # validated and read-only again.
        return (Affine, (self.matrix, self.translation, self.center))

    def __repr__(self) -> str:
        return (
            f"Affine(matrix={self.matrix.tolist()!r}, translation={self.translation.tolist()!r}, "
            f"center={self.center.tolist()!r})"
        )

    # ------------------------------------------------------------------ construction

    @classmethod
    def identity(cls) -> Affine:
        """Return the identity map.

        Returns
        -------
        Affine
            ``M = I``, ``t = 0``, ``c = 0``.
        """
        return cls(np.eye(3), np.zeros(3))

    @classmethod
    def from_homogeneous(cls, h: npt.ArrayLike) -> Affine:
        """Build an affine from a 4x4 homogeneous matrix ``[[M, o], [0, 0, 0, 1]]``.

        Parameters
        ----------
        h : array_like
            The 4x4 matrix acting on column vectors ``(z, y, x, 1)``.

        Returns
        -------
        Affine
            The same map, with zero centre and translation ``o``.

        Raises
        ------
        ValueError
            If ``h`` is not 4x4, not finite, or its last row is not exactly ``[0, 0, 0, 1]``.
        """
        matrix = np.asarray(h, dtype=np.float64)
        if matrix.shape != (4, 4):
            raise ValueError(f"a homogeneous affine must have shape (4, 4), got {matrix.shape}")
        if not np.array_equal(matrix[3], [0.0, 0.0, 0.0, 1.0]):
            raise ValueError(
                f"the last row of a homogeneous affine must be [0, 0, 0, 1], "
                f"got {matrix[3].tolist()}"
            )
        return cls(matrix[:3, :3], matrix[:3, 3])

    # ------------------------------------------------------------------ derived values

    @property
    def offset(self) -> FloatArray:
        """The effective translation ``c + t - M @ c``, so that ``p_out = M @ p_in + offset``.

        Returns
        -------
        numpy.ndarray
            Shape (3,).
        """
        result: FloatArray = self.center + self.translation - self.matrix @ self.center
        return result

    @property
    def homogeneous(self) -> FloatArray:
        """The 4x4 homogeneous matrix of the map, with the centre folded into the offset.

        Returns
        -------
        numpy.ndarray
            ``[[M, offset], [0, 0, 0, 1]]``, acting on column vectors ``(z, y, x, 1)``.
        """
        h = np.eye(4)
        h[:3, :3] = self.matrix
        h[:3, 3] = self.offset
        return h

    # ------------------------------------------------------------------ operations

    def apply(self, points: npt.ArrayLike) -> FloatArray:
        """Map points through the transform.

        Parameters
        ----------
        points : array_like
            One point of shape (3,) or many of shape (N, 3) (any leading shape works),
            in ``(z, y, x)`` order.

        Returns
        -------
        numpy.ndarray
            The mapped points, same shape as ``points``.

        Raises
        ------
        ValueError
            If the last axis of ``points`` does not have length 3.
        """
        array = as_points(points)
        # The offset form is what ITK evaluates too, so results agree to the last bits.
        result: FloatArray = array @ self.matrix.T + self.offset
        return result

    def inverse(self) -> Affine:
        """Return the inverse map, keeping the same centre.

        Returns
        -------
        Affine
            ``M⁻¹``, translation ``-M⁻¹ t`` and centre ``c``.

        Raises
        ------
        SingularTransformError
            If the matrix is singular or too badly conditioned to invert reliably.
        """
        condition = np.linalg.cond(self.matrix)
        if not math.isfinite(condition) or condition > MAX_CONDITION:
            raise SingularTransformError(
                f"cannot invert affine transform: its matrix {self.matrix.tolist()} is "
                f"singular or nearly so (condition number {condition:.3g}); "
                "it collapses at least one axis"
            )
        inverse_matrix = np.linalg.inv(self.matrix).astype(np.float64)
        return Affine(inverse_matrix, -(inverse_matrix @ self.translation), self.center)

    def compose(self, other: Affine) -> Affine:
        """Return ``self ∘ other``: apply ``other`` first, then ``self``.

        Parameters
        ----------
        other : Affine
            The transform applied first.

        Returns
        -------
        Affine
            The composed map, with zero centre.

        Raises
        ------
        TypeError
            If ``other`` is not an :class:`Affine`.
        """
        if not isinstance(other, Affine):
            raise TypeError(f"can only compose an Affine with an Affine, got {type(other)!r}")
        return Affine(
            self.matrix @ other.matrix,
            self.matrix @ other.offset + self.offset,
        )

    def __matmul__(self, other: Affine) -> Affine:
        if not isinstance(other, Affine):
            return NotImplemented
        return self.compose(other)

    def transform_bounds(
        self, lower: npt.ArrayLike, upper: npt.ArrayLike
    ) -> tuple[FloatArray, FloatArray]:
        """Axis-aligned bounding box of the image of a box.

        Parameters
        ----------
        lower, upper : array_like
            Opposite corners of the input box, shape (3,), ``(z, y, x)``.

        Returns
        -------
        tuple of numpy.ndarray
            ``(new_lower, new_upper)``: the per-axis minimum and maximum over the images
            of the 8 corners. An affine maps the box onto a parallelepiped whose extreme
            points are corners, so this box is tight.

        Raises
        ------
        ValueError
            If ``lower`` or ``upper`` does not have shape (3,).
        """
        low = np.asarray(lower, dtype=np.float64)
        high = np.asarray(upper, dtype=np.float64)
        if low.shape != (3,) or high.shape != (3,):
            raise ValueError(
                f"lower and upper must have shape (3,), got {low.shape} and {high.shape}"
            )
        # Each corner picks, per axis, either the lower or the upper coordinate.
        choose = np.array([[(i >> k) & 1 for k in (2, 1, 0)] for i in range(8)], dtype=bool)
        corners = np.where(choose, high, low)
        mapped = self.apply(corners)
        return mapped.min(axis=0), mapped.max(axis=0)

    def scaled_input(self, scale: float | npt.ArrayLike) -> Affine:
        """Return ``self ∘ diag(scale)``: the same map fed from a coarser (or finer) grid.

        A transform from level-0 raw voxel indices applies at resolution level k, whose
        voxels are ``scale`` level-0 voxels wide, as ``self.scaled_input(scale)``: a
        level-k index ``q`` is the level-0 index ``scale * q``.

        Parameters
        ----------
        scale : float or array_like
            Voxel size of the new input grid relative to the original, per ``(z, y, x)``
            axis or one number for all.

        Returns
        -------
        Affine
            The rescaled map, with zero centre.

        Raises
        ------
        ValueError
            If ``scale`` is not a scalar or shape (3,), or is not finite.
        """
        factors = np.broadcast_to(np.asarray(scale, dtype=np.float64), (3,))
        return self.compose(Affine(np.diag(factors), np.zeros(3)))

    def allclose(self, other: Affine, atol: float = 1e-9, rtol: float = 1e-9) -> bool:
        """Whether two affines represent (nearly) the same map.

        The homogeneous matrices are compared, so the same map written with different
        centres counts as close.

        Parameters
        ----------
        other : Affine
            The transform to compare with.
        atol, rtol : float, optional
            Absolute and relative tolerances, as in :func:`numpy.allclose`.

        Returns
        -------
        bool
            True if every entry of the two homogeneous matrices is within tolerance.
        """
        return bool(np.allclose(self.homogeneous, other.homogeneous, atol=atol, rtol=rtol))
