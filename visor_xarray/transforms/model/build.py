"""Affine constructors: :func:`compose` (a chain of affines) and :func:`deskew` (raw→ortho)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from visor_xarray.transforms.model.affine import Affine
from visor_xarray.transforms.model.common import frozen_array

__all__ = ["compose", "deskew"]


def compose(*transforms: Affine) -> Affine:
    """Compose affines like mathematical functions: the *last* argument is applied first.

    ``compose(a, b, c).apply(p) == a.apply(b.apply(c.apply(p)))``.

    Parameters
    ----------
    *transforms : Affine
        The transforms, outermost first. None gives the identity.

    Returns
    -------
    Affine
        The composed map.

    Raises
    ------
    TypeError
        If an argument is not an :class:`Affine` (displacement fields do not compose
        into an affine).
    """
    result = Affine.identity()
    for transform in transforms:
        if not isinstance(transform, Affine):
            raise TypeError(f"compose() takes Affine transforms only, got {type(transform)!r}")
        result = result.compose(transform)
    return result


def deskew(angle_deg: float, spacing_zyx: Sequence[float] | npt.ArrayLike, ny: int) -> Affine:
    """Raw→ortho deskew of a VISoR stack (vsr-format.md §8.5).

    Maps raw level-0 voxel indices ``(frame, row, column)`` to micrometres in the
    orthogonal stack space::

        M = [[vz/sinθ, -vy·cosθ, 0],
             [0,        vy·sinθ, 0],
             [0,        0,       vx]]
        t = [(ny - 1)·vy·cosθ, 0, 0]

    The translation keeps ortho z non-negative over the ``ny`` rows of a frame.

    Parameters
    ----------
    angle_deg : float
        Light-sheet angle θ in **degrees** (45 for VISoR). visor-py's README, tests
        and published fixture computed ``np.sin(45)``, i.e. 45 *radians*; that fixture
        therefore does not equal ``deskew(45, ...)``.
    spacing_zyx : sequence of float
        Raw voxel size ``(vz, vy, vx)`` in micrometres.
    ny : int
        Number of rows (the y extent) of a raw frame.

    Returns
    -------
    Affine
        The deskew map, with zero centre.

    Raises
    ------
    ValueError
        If the angle is not strictly between 0 and 180 degrees, the spacing is not three
        positive numbers, or ``ny`` is less than 1.
    """
    if not 0.0 < angle_deg < 180.0:
        raise ValueError(f"deskew angle must be in (0, 180) degrees, got {angle_deg!r}")
    vz, vy, vx = frozen_array(spacing_zyx, "spacing_zyx", (3,), "deskew")
    if min(vz, vy, vx) <= 0:
        raise ValueError(f"deskew spacing_zyx must be positive, got {[vz, vy, vx]}")
    if int(ny) != ny or ny < 1:
        raise ValueError(f"deskew ny must be a positive integer, got {ny!r}")
    theta = math.radians(angle_deg)
    sin, cos = math.sin(theta), math.cos(theta)
    matrix = np.array(
        [
            [vz / sin, -vy * cos, 0.0],
            [0.0, vy * sin, 0.0],
            [0.0, 0.0, vx],
        ]
    )
    return Affine(matrix, np.array([(int(ny) - 1) * vy * cos, 0.0, 0.0]))
