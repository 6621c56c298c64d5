"""The :class:`DisplacementField` model: a dense displacement field ``p_out = p + d(p)``.

The field is sampled on a regular grid (origin, spacing, direction) and interpolated
trilinearly; it has no analytic inverse.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from visor_xarray.errors import UnsupportedTransformError
from visor_xarray.transforms.model.common import (
    MAX_CONDITION,
    FloatArray,
    as_points,
    clean_zeros,
    frozen_array,
)

__all__ = ["DisplacementField"]


@dataclass(frozen=True, eq=False)
class DisplacementField:
    """A dense displacement field ``p_out = p + d(p)``, all in ``(z, y, x)`` order.

    ``d`` is sampled on a regular grid: voxel ``i = (iz, iy, ix)`` sits at the physical
    point ``origin + direction @ (spacing * i)`` and holds the displacement
    ``field[iz, iy, ix] = (dz, dy, dx)``. Between samples it is interpolated linearly.
    As in ITK's ``DisplacementFieldTransform``, points up to half a voxel outside the
    grid take the nearest edge value and points farther out are not displaced.

    Parameters
    ----------
    field : numpy.ndarray
        Displacements, shape (Z, Y, X, 3). Copied to float64, unless it already is a
        read-only float64 array, which is shared to spare memory.
    origin : numpy.ndarray, optional
        Physical position of voxel (0, 0, 0), shape (3,); zeros by default.
    spacing : numpy.ndarray, optional
        Voxel size per axis, shape (3,), positive; ones by default.
    direction : numpy.ndarray, optional
        3x3 matrix whose columns are the physical directions of the z, y and x grid axes;
        identity by default.

    Raises
    ------
    ValueError
        If an array has the wrong shape, holds a non-finite value, a spacing is not
        positive or the direction matrix is singular (the message names the field).
    """

    field: FloatArray
    origin: FloatArray = dataclasses.field(default_factory=lambda: np.zeros(3))
    spacing: FloatArray = dataclasses.field(default_factory=lambda: np.ones(3))
    direction: FloatArray = dataclasses.field(default_factory=lambda: np.eye(3))

    def __post_init__(self) -> None:
        values = np.asarray(self.field)
        if values.ndim != 4 or values.shape[-1] != 3 or min(values.shape) < 1:
            raise ValueError(
                f"DisplacementField.field must have shape (Z, Y, X, 3), got {values.shape}"
            )
        object.__setattr__(
            self,
            "field",
            frozen_array(
                self.field, "field", values.shape, "DisplacementField", share_readonly=True
            ),
        )
        object.__setattr__(
            self, "origin", frozen_array(self.origin, "origin", (3,), "DisplacementField")
        )
        spacing = frozen_array(self.spacing, "spacing", (3,), "DisplacementField")
        if np.any(spacing <= 0):
            raise ValueError(f"DisplacementField.spacing must be positive, got {spacing.tolist()}")
        object.__setattr__(self, "spacing", spacing)
        direction = frozen_array(self.direction, "direction", (3, 3), "DisplacementField")
        if np.linalg.cond(direction) > MAX_CONDITION:
            raise ValueError(
                f"DisplacementField.direction must be invertible, got {direction.tolist()}"
            )
        object.__setattr__(self, "direction", direction)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DisplacementField):
            return NotImplemented
        return (
            np.array_equal(self.origin, other.origin)
            and np.array_equal(self.spacing, other.spacing)
            and np.array_equal(self.direction, other.direction)
            and np.array_equal(self.field, other.field)
        )

    def __hash__(self) -> int:
        # The field itself can be large; equal objects still hash equal without it.
        return hash(
            (
                self.field.shape,
                clean_zeros(self.origin).tobytes(),
                clean_zeros(self.spacing).tobytes(),
                clean_zeros(self.direction).tobytes(),
            )
        )

    def __reduce__(
        self,
    ) -> tuple[type[DisplacementField], tuple[FloatArray, FloatArray, FloatArray, FloatArray]]:
        return (DisplacementField, (self.field, self.origin, self.spacing, self.direction))

    def __repr__(self) -> str:
        return (
            f"DisplacementField(shape={self.field.shape[:3]}, origin={self.origin.tolist()}, "
            f"spacing={self.spacing.tolist()}, direction={self.direction.tolist()})"
        )

    @property
    def shape(self) -> tuple[int, int, int]:
        """The grid shape ``(Z, Y, X)``.

        Returns
        -------
        tuple of int
            The first three dimensions of :attr:`field`.
        """
        z, y, x = self.field.shape[:3]
        return (z, y, x)

    def physical_to_index(self, points: npt.ArrayLike) -> FloatArray:
        """Continuous grid indices ``(iz, iy, ix)`` of physical points.

        Parameters
        ----------
        points : array_like
            Shape (3,) or (N, 3), ``(z, y, x)``.

        Returns
        -------
        numpy.ndarray
            Same shape as ``points``.

        Raises
        ------
        ValueError
            If the last axis of ``points`` does not have length 3.
        """
        array = as_points(points)
        local = np.linalg.solve(self.direction, (array - self.origin).reshape(-1, 3).T).T
        result: FloatArray = (local / self.spacing).reshape(array.shape)
        return result

    def displacement(self, points: npt.ArrayLike) -> FloatArray:
        """The interpolated displacement ``d(p)`` at physical points.

        Parameters
        ----------
        points : array_like
            Shape (3,) or (N, 3), ``(z, y, x)``.

        Returns
        -------
        numpy.ndarray
            ``(dz, dy, dx)`` per point, same shape as ``points``.

        Raises
        ------
        ValueError
            If the last axis of ``points`` does not have length 3.
        """
        array = as_points(points)
        index = self.physical_to_index(array).reshape(-1, 3)
        # Interpolate the (Z, Y, X, 3) array in 4-D, with the component as an exact integer
        # fourth coordinate: it gets weight 1, and the field is read in place instead of
        # being copied out one component at a time.
        coordinates = np.repeat(index, 3, axis=0)
        components = np.tile(np.arange(3.0), len(index))[:, None]
        result = ndimage.map_coordinates(
            self.field, np.hstack([coordinates, components]).T, order=1, mode="nearest"
        ).reshape(-1, 3)
        # ITK treats the grid as covering half a voxel beyond the outer samples and
        # applies no displacement outside it; matching that keeps us equal to visor-py.
        extent = np.asarray(self.shape, dtype=np.float64)
        inside = np.all((index >= -0.5) & (index < extent - 0.5), axis=1)
        result[~inside] = 0.0
        shaped: FloatArray = result.reshape(array.shape)
        return shaped

    def apply(self, points: npt.ArrayLike) -> FloatArray:
        """Map points through the field, ``p + d(p)``.

        Parameters
        ----------
        points : array_like
            Shape (3,) or (N, 3), ``(z, y, x)``.

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
        result: FloatArray = array + self.displacement(array)
        return result

    def inverse(self) -> DisplacementField:
        """Refuse: a displacement field has no analytic inverse.

        Returns
        -------
        DisplacementField
            Never returns.

        Raises
        ------
        UnsupportedTransformError
            Always.
        """
        raise UnsupportedTransformError(
            "displacement fields have no analytic inverse; store the needed direction "
            "explicitly (a separate transform file for the reverse mapping)"
        )
