"""Small arrays read and written whole: one chunk, no compression, replaced atomically.

Transform files store an affine's 4x4 matrix this way; the array directory is written
beside its target and renamed into place, so that readers never see half an array.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import zarr

from visor_xarray.zarr_io.atomic_files import new_sibling_dir

__all__ = ["read_small_array", "write_small_array"]


def read_small_array(path: Path) -> tuple[npt.NDArray[Any], dict[str, Any]]:
    """Read a whole zarr array and its attributes.

    Parameters
    ----------
    path : pathlib.Path
        The array directory (Zarr v2 or v3).

    Returns
    -------
    data : numpy.ndarray
        Its values.
    attributes : dict
        Its attributes.

    Raises
    ------
    Exception
        Whatever zarr raises for a path that is not a readable array.
    """
    array = zarr.open_array(str(path), mode="r")
    return np.asarray(array[...]), dict(array.attrs)


def write_small_array(path: Path, data: npt.NDArray[Any], attributes: dict[str, Any]) -> None:
    """Write (or replace) a Zarr v3 array of one uncompressed chunk, then rename it into place.

    An existing array at ``path`` is replaced; POSIX cannot rename over a non-empty
    directory, so there is a brief moment with neither.

    Parameters
    ----------
    path : pathlib.Path
        Target directory; its parent must exist.
    data : numpy.ndarray
        The values (their dtype is the array's; the fill value is 0).
    attributes : dict
        JSON attributes of the array.
    """
    # not tempfile.mkdtemp: its 0o700 would stay on the renamed array, unreadable to others
    staging = new_sibling_dir(path)
    try:
        array = zarr.create_array(
            str(staging),
            shape=data.shape,
            chunks=data.shape,
            dtype=data.dtype,
            compressors=None,
            fill_value=0,
            attributes=attributes,
            zarr_format=3,
            overwrite=True,
        )
        array[...] = data
        if path.exists():
            retired = new_sibling_dir(path, ".old")
            path.replace(retired / path.name)
            staging.replace(path)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.replace(path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
