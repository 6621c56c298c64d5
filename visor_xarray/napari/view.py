"""``.visor.view()``: show a DataArray in a napari viewer, with its labels, units and space."""

from __future__ import annotations

from typing import Any

import xarray as xr

from visor_xarray.napari.layers import LayerDataTuple, image_layers, open_levels, raw_placement

__all__ = ["add_layers", "view", "view_layers"]


def view_layers(
    image: xr.DataArray, *, space: str | None = None, version: str | None = None
) -> list[LayerDataTuple]:
    """Layer-data tuples showing ``image`` as it is (one level), one layer per channel.

    Parameters
    ----------
    image : xarray.DataArray
        Dims ending with (some of) ``z, y, x``; ``ch`` splits layers, ``vs`` is a slider
        (or, with ``space``, splits layers too).
    space : str, optional
        Place each raw stack in this space by its stored transforms (raw images of a
        sample only; see :func:`layer_data`).
    version : str, optional
        Transform version for ``space``.

    Returns
    -------
    list of tuple
        ``(data, kwargs, "image")``.
    """
    stored = _stored_levels(image)
    placement = None
    if space is not None and space != "raw":
        if stored is None:
            raise ValueError(
                f"space={space!r} places the stacks of a raw image opened from a sample; "
                "this array has no source image (vsr_path, image_name attributes)"
            )
        placement = raw_placement(image, stored[0], space=space, version=version)
    return image_layers([image], placement=placement, contrast=_contrast(image, stored))


def add_layers(viewer: Any, layers: list[LayerDataTuple]) -> list[Any]:
    """Add layer-data tuples to a napari viewer (or headless ``ViewerModel``).

    Parameters
    ----------
    viewer : napari.Viewer or napari.components.ViewerModel
    layers : list of tuple
        ``(data, kwargs, layer_type)``.

    Returns
    -------
    list of napari layers
        In the order added.
    """
    added = []
    for data, kwargs, layer_type in layers:
        added.append(getattr(viewer, f"add_{layer_type}")(data, **kwargs))
    return added


def view(
    image: xr.DataArray,
    *,
    space: str | None = None,
    version: str | None = None,
    viewer: Any = None,
) -> Any:
    """Show ``image`` in napari; a new ``napari.Viewer`` unless ``viewer`` is given.

    Parameters
    ----------
    image : xarray.DataArray
    space, version : str, optional
        See :func:`view_layers`.
    viewer : napari.Viewer or napari.components.ViewerModel, optional
        Where to add the layers.

    Returns
    -------
    napari.Viewer or the viewer given
    """
    layers = view_layers(image, space=space, version=version)
    if viewer is None:
        import napari

        viewer = napari.Viewer()
    add_layers(viewer, layers)
    if space is not None and space != "raw":
        # a deskewed stack mixes z and y: only a 3-D view slices it the way it lies
        viewer.dims.ndisplay = 3
    return viewer


def _stored_levels(image: xr.DataArray) -> list[xr.DataArray] | None:
    """Level 0 and the coarsest level of the image ``image`` comes from, lazily."""
    attrs = image.attrs
    if not all(k in attrs for k in ("vsr_path", "image_type", "image_name")):
        return None
    levels = list(attrs.get("resolution_levels", ())) or ["0"]
    chosen = [levels[0], levels[-1]] if len(levels) > 1 else [levels[0]]
    return open_levels(attrs["vsr_path"], attrs["image_type"], attrs["image_name"], chosen)


def _contrast(image: xr.DataArray, stored: list[xr.DataArray] | None) -> xr.DataArray | None:
    """What to take contrast limits from without computing more than a small level."""
    if image.chunks is None:
        return image  # already in memory
    # the engine's record of what it opened survives indexing and is dropped by any
    # computation: only then does the stored coarsest level show these values
    if stored is None or "visor_source" not in image.encoding:
        return None  # napari samples the planes it shows
    coarsest = stored[-1]
    selection = {
        dim: image.coords[dim].values
        for dim in ("vs", "ch")
        if dim in image.coords and dim in coarsest.dims
    }
    return coarsest.sel(selection) if selection else coarsest
