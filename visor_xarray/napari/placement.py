"""Where a raw stack goes in a target space: its stored transform as a napari layer affine.

napari maps a layer's data index ``i`` to the world as ``A (s * i + t)`` (``s`` scale,
``t`` translate, ``A`` the affine). The layers here set ``s`` and ``t`` from the image's
coordinates (µm), so ``s * i + t`` is a voxel's coordinate ``c``; the stored
``raw_to_{space}`` transform takes the *level-0 raw voxel index* ``(c - t0) / g0``
(``g0``, ``t0``: step and origin of the level-0 coordinates), so the affine is the
transform composed with that change of units. It depends on nothing but level 0, so
every level and subset of a stack shares it.
"""

from __future__ import annotations

import os

import numpy as np
import numpy.typing as npt
import xarray as xr

from visor_xarray.errors import UnsupportedTransformError
from visor_xarray.transforms import Affine
from visor_xarray.transforms.stored import Transform

__all__ = ["SPATIAL_DIMS", "level0_grid", "space_affine"]

SPATIAL_DIMS = ("z", "y", "x")


def level0_grid(level0: xr.DataArray) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Step and origin (µm, ``z, y, x``) of the level-0 coordinates of a raw image.

    Parameters
    ----------
    level0 : xarray.DataArray
        Level 0 of the image, whole along z/y/x (as the engine opens it).

    Returns
    -------
    tuple of numpy.ndarray
        ``(g0, t0)``: the level-0 raw index of coordinate ``c`` is ``(c - t0) / g0``.
    """
    spacing = level0.visor.spacing
    step = np.array([float(spacing[d].to("micrometer").magnitude) for d in SPATIAL_DIMS])
    origin = np.array([float(level0.coords[d].values[0]) for d in SPATIAL_DIMS])
    return step, origin


def space_affine(
    path: str | os.PathLike[str],
    *,
    image_name: str,
    version: str,
    space: str,
    stack: str,
    channel: str,
    grid: tuple[npt.ArrayLike, npt.ArrayLike],
) -> npt.NDArray[np.float64]:
    """The 4x4 napari affine placing one raw stack and channel in ``space``.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.vsr`` sample.
    image_name : str
        The raw image (slice) whose transforms are used.
    version : str
        Transform version.
    space : str
        Target space (``"ortho"``, ``"slice"``, ...).
    stack, channel : str
        Labels of the stack and channel.
    grid : pair of sequences
        ``(g0, t0)`` from :func:`level0_grid`.

    Returns
    -------
    numpy.ndarray
        ``(4, 4)``, acting on ``(z, y, x, 1)`` coordinates in µm.

    Raises
    ------
    UnsupportedTransformError
        If a transform on the way is not affine (a displacement field, a model): a layer
        affine cannot express it, the stack must be resampled.
    UnknownVersionError, UnknownTransformError
        If the version or a chain of transforms to ``space`` is missing.
    """
    stored = Transform(path, version=version, name=image_name, mode="r")
    try:
        transform = stored.chain("raw", space, stack=stack, channel=channel)
    except UnsupportedTransformError as error:
        raise UnsupportedTransformError(
            f"{path}: raw -> {space} of {image_name} (version {version}) is not an affine "
            f"chain ({error}); napari can place a stack only by an affine: resample it "
            f"instead, e.g. image.visor.resample(to_space={space!r}, version={version!r})"
        ) from error
    step, origin = (np.asarray(v, dtype=np.float64) for v in grid)
    to_index = Affine(np.diag(1.0 / step), -origin / step)
    return np.asarray(transform.compose(to_index).homogeneous, dtype=np.float64)
