"""Reading and writing transform files: ITK ``.tfm``, ``.npy``, zarr and MetaImage ``.mha``.

Everything returned or accepted is in this package's ``(z, y, x)`` point order (the
conventions of :mod:`visor_xarray.transforms.model`). Affine files hold ``(z, y, x)``
parameters by default, as visor-py's test code writes them; ``axis_order="xyz"`` reads or
writes ITK's native order instead.
MetaImage headers are always in ITK's ``(x, y, z)`` order and are converted on reading.

Writes are atomic: a reader sees either the old file or the complete new one.

One job per module; every public name is re-exported here:

- :mod:`~visor_xarray.transforms.files.dispatch`: :func:`read_transform` and
  :func:`write_transform` by (type, format), :data:`READABLE`, :data:`WRITABLE`;
- :mod:`~visor_xarray.transforms.files.tfm`: ITK text ``.tfm`` affines;
- :mod:`~visor_xarray.transforms.files.npy`: ``.npy`` homogeneous matrices;
- :mod:`~visor_xarray.transforms.files.zarr_affine`: zarr homogeneous matrices;
- :mod:`~visor_xarray.transforms.files.mha`: MetaImage displacement fields;
- :mod:`~visor_xarray.transforms.files.common`: axis order and parsing helpers.
"""

from __future__ import annotations

from visor_xarray.transforms.files.common import AFFINE as AFFINE
from visor_xarray.transforms.files.common import DDF as DDF
from visor_xarray.transforms.files.dispatch import (
    READABLE,
    WRITABLE,
    read_transform,
    write_transform,
)
from visor_xarray.transforms.files.mha import read_mha_displacement
from visor_xarray.transforms.files.npy import read_npy, write_npy
from visor_xarray.transforms.files.tfm import read_tfm, write_tfm
from visor_xarray.transforms.files.zarr_affine import read_zarr_affine, write_zarr_affine

__all__ = [
    "READABLE",
    "WRITABLE",
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
