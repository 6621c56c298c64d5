"""Spatial transforms as plain numpy objects: affine maps and dense displacement fields.

Conventions
-----------
* Points are ordered ``(z, y, x)``, matching the last three dimensions of an image array.
* An :class:`Affine` follows ITK semantics exactly: ``p_out = M @ (p_in - c) + c + t``.
* Composition reads like mathematics: ``a.compose(b)``, ``a @ b`` and ``compose(a, b)``
  all mean ``a ∘ b``, i.e. *b is applied first*.

This module does no file I/O; see :mod:`visor_xarray.transforms.files` for that.

One job per module:

- :mod:`~visor_xarray.transforms.model.affine`: :class:`Affine`;
- :mod:`~visor_xarray.transforms.model.displacement`: :class:`DisplacementField`;
- :mod:`~visor_xarray.transforms.model.build`: :func:`compose` and :func:`deskew`;
- :mod:`~visor_xarray.transforms.model.common`: array checks, point handling and
  :class:`SingularTransformError`.

:data:`SpatialTransform`, the union of the two models, is defined here.
"""

from __future__ import annotations

from typing import TypeAlias

from visor_xarray.transforms.model.affine import Affine
from visor_xarray.transforms.model.build import compose, deskew
from visor_xarray.transforms.model.common import SingularTransformError
from visor_xarray.transforms.model.displacement import DisplacementField

__all__ = [
    "Affine",
    "DisplacementField",
    "SingularTransformError",
    "SpatialTransform",
    "compose",
    "deskew",
]


SpatialTransform: TypeAlias = Affine | DisplacementField
"""Any spatial transform this package can represent (not the stored-transform API,
:class:`visor_xarray.Transform`)."""
