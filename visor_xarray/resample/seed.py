"""The seed API's ``Transform``: the stored transforms of one slice, and resampling of a raw ROI.

The format core (:class:`visor_xarray.transforms.stored.Transform`) saves, loads and chains
the stored transforms and reads no image. Resampling needs the image and this package, so
the user-facing class (``vx.Transform``) adds :meth:`Transform.resample` here, on top of it:
the format core never imports the resampler.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import xarray as xr

from visor_xarray.resample.spaces import resample_dataarray
from visor_xarray.transforms.stored import Transform as StoredTransform

__all__ = ["Transform", "resample_roi"]


def resample_roi(
    transform: StoredTransform,
    roi: Sequence[slice | int],
    from_space: str = "raw",
    to_space: str = "ortho",
    **kwargs: Any,
) -> npt.NDArray[Any]:
    """Resample a region of a raw image into another space (the seed API's ``resample``).

    Parameters
    ----------
    transform : visor_xarray.Transform
        The stored transforms of one slice (``vx.Transform(path, version, name)``); the
        raw image of the same name is read.
    roi : sequence of slice or int
        One entry per raw dim (``vs, ch, z, y, x``) in level-0 **source** voxel indices;
        ints are kept as length-1 dims.
    from_space : {"raw"}, default "raw"
        The ROI is in raw indices, so only ``"raw"`` is accepted.
    to_space : str, default "ortho"
    **kwargs
        Passed to :func:`~visor_xarray.resample.resample_dataarray` (``spacing``,
        ``bounds``, ``order``, ``fill_value``, ``level``, ``chunks``, ...).

    Returns
    -------
    numpy.ndarray
        The resampled region, dims ``(vs, ch, z, y, x)`` (the raw image's leading dims are
        kept), on the grid :func:`~visor_xarray.resample.resample_dataarray` chooses.

    Raises
    ------
    ValueError
        If ``from_space`` is not ``"raw"`` or ``roi`` does not match the raw dims.
    UnknownImageError
        If the sample has no raw image of the slice's name.

    Examples
    --------
    >>> xfm = vx.Transform(path, version="v1", name="slice_1_10x")  # doctest: +SKIP
    >>> roi = (slice(0, 1), slice(0, 1), slice(0, 20), slice(0, 30), slice(0, 40))
    >>> resample_roi(xfm, roi, to_space="ortho")  # doctest: +SKIP
    """
    if from_space != "raw":
        raise ValueError(
            f"resample(roi) takes a ROI in raw voxel indices, so from_space must be 'raw', got "
            f"{from_space!r}; use DataArray.visor.resample for images in other spaces"
        )
    # The seed object knows its sample through its store; the image of a slice is the raw
    # image of the same name.
    sample = transform._store.path
    image = xr.open_dataset(
        cast(Any, sample), engine="visor", image_type="raw", name=transform.name
    )["image"]
    if len(roi) != image.ndim:
        raise ValueError(
            f"roi must give one slice per raw dim {image.dims}, got {len(roi)} entries"
        )
    selection = {
        dim: slice(item, item + 1) if isinstance(item, int | np.integer) else item
        for dim, item in zip(image.dims, roi, strict=True)
    }
    region = image.isel(selection)
    if any(n == 0 for n in region.shape):
        raise ValueError(f"roi {tuple(roi)} selects nothing from an image of shape {image.shape}")
    result = resample_dataarray(
        region,
        to_space=to_space,
        version=transform.version,
        from_space="raw",
        slice_name=transform.name,
        **kwargs,
    )
    values: npt.NDArray[Any] = np.asarray(result.data.compute())
    return values


class Transform(StoredTransform):
    """The stored transforms of one slice in one version, visor-py style (``vx.Transform``).

    Everything of :class:`visor_xarray.transforms.stored.Transform` (the same parameters,
    ``save``, ``load``, ``chain``), plus ``resample``: :func:`resample_roi` as a method.

    Examples
    --------
    >>> xfm = vx.Transform(sample_path, version="v1", name="slice_1_10x")   # doctest: +SKIP
    >>> roi = (slice(0, 1), slice(0, 1), slice(0, 20), slice(0, 30), slice(0, 40))
    >>> xfm.resample(roi, to_space="ortho")                                  # doctest: +SKIP
    """

    resample = resample_roi
