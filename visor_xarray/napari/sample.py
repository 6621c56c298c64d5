"""``layer_data``: napari layers for the images of a ``.vsr`` sample."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import xarray as xr

from visor_xarray.api import list_image
from visor_xarray.errors import UnknownImageError
from visor_xarray.napari.layers import LayerDataTuple, image_layers, open_levels, raw_placement

__all__ = ["layer_data"]


def layer_data(
    source: str | os.PathLike[str],
    *,
    image_type: str | None = None,
    name: str | None = None,
    space: str | None = None,
    version: str | None = None,
    stacks: Sequence[str] | None = None,
    channels: Sequence[str] | None = None,
) -> list[LayerDataTuple]:
    """napari layer-data tuples for the images of a sample, lazily, one layer per channel.

    Each layer holds an image's resolution levels as a multiscale list of dask arrays
    (nothing is read to open them but the coarsest level, for the contrast limits), is
    named ``{image} · {stack} · {wavelength} nm``, coloured by wavelength, scaled and
    translated in µm from the coordinates, with axis labels.

    Parameters
    ----------
    source : str or os.PathLike
        The ``.vsr`` sample.
    image_type : str, optional
        Only images of this type (default: every type; ``"raw"`` when ``space`` is given).
    name : str, optional
        Only this image.
    space : str, optional
        Place each raw stack in this space (``"ortho"``, ``"slice"``, ...) by its stored
        transforms: one layer per stack and channel whose ``affine`` is the affine chain
        ``raw -> space``, so stacks appear deskewed and tiled, with nothing resampled.
        Default: stacks as recorded, along a ``vs`` slider.
    version : str, optional
        Transform version for ``space`` (default: the image's ``transform_version``, or
        the sample's only version for that slice).
    stacks, channels : sequence of str, optional
        Only these stack / channel labels; images holding none of them are left out.

    Returns
    -------
    list of tuple
        ``(data, kwargs, "image")`` each, for ``viewer.add_image(data, **kwargs)``.

    Raises
    ------
    UnknownImageError
        If no image matches (the message lists the images).
    UnsupportedTransformError
        If the chain to ``space`` holds a transform that is not affine (a displacement
        field): such a space needs ``.visor.resample``.
    UnknownTransformError
        If ``space`` cannot be reached from raw, or the version is ambiguous.

    Examples
    --------
    >>> from napari.components import ViewerModel                     # doctest: +SKIP
    >>> viewer = ViewerModel()                                        # doctest: +SKIP
    >>> for data, kwargs, _ in layer_data("demo.vsr", space="ortho"):  # doctest: +SKIP
    ...     viewer.add_image(data, **kwargs)
    """
    if space is not None and space != "raw":
        if image_type not in (None, "raw"):
            raise ValueError(
                f"space={space!r} places raw stacks; image_type={image_type!r} is not raw"
            )
        image_type = "raw"
    else:
        space = None
    records = list_image(Path(source), type=image_type)
    every = [f"{r.type}/{r.name}" for r in records]
    if name is not None:
        records = [r for r in records if r.name == name]
    layers: list[LayerDataTuple] = []
    for record in records:
        levels = open_levels(source, record.type, record.name, record.levels)
        selected = [_select(level, stacks, channels) for level in levels]
        if selected[0] is None:
            continue
        chosen = [s for s in selected if s is not None]
        placement = (
            raw_placement(levels[0], levels[0], space=space, version=version)
            if space is not None
            else None
        )
        layers += image_layers(chosen, placement=placement, contrast=chosen[-1])
    if not layers:
        wanted = ", ".join(
            f"{k}={v!r}"
            for k, v in (
                ("image_type", image_type),
                ("name", name),
                ("stacks", stacks),
                ("channels", channels),
            )
            if v is not None
        )
        raise UnknownImageError(Path(source), f"image with {wanted or 'pixels'}", None, every)
    return layers


def _select(
    image: xr.DataArray, stacks: Sequence[str] | None, channels: Sequence[str] | None
) -> xr.DataArray | None:
    """The image restricted to the wanted labels it holds; None if it holds none of them."""
    for dim, wanted in (("vs", stacks), ("ch", channels)):
        if wanted is None or dim not in image.dims:
            continue
        present = {str(v) for v in image.coords[dim].values}
        keep = [label for label in wanted if label in present]
        if not keep:
            return None
        image = image.sel({dim: keep})
    return image
