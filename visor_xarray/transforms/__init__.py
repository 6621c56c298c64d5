"""Spatial transforms between VISoR spaces: numpy models and their file formats.

Points are ordered ``(z, y, x)`` throughout; :mod:`visor_xarray.transforms.model` states
the conventions.
"""

from visor_xarray.transforms.files import (
    READABLE,
    WRITABLE,
    read_mha_displacement,
    read_npy,
    read_tfm,
    read_transform,
    read_zarr_affine,
    write_npy,
    write_tfm,
    write_transform,
    write_zarr_affine,
)
from visor_xarray.transforms.model import (
    Affine,
    DisplacementField,
    SingularTransformError,
    SpatialTransform,
    compose,
    deskew,
)

__all__ = [
    "READABLE",
    "WRITABLE",
    "Affine",
    "DisplacementField",
    "SingularTransformError",
    "SpatialTransform",
    "compose",
    "deskew",
    "read_mha_displacement",
    "read_npy",
    "read_tfm",
    "read_transform",
    "read_zarr_affine",
    "write_npy",
    "write_tfm",
    "write_transform",
    "write_zarr_affine",
]
