"""A dock widget: pick a sample's image, space, stacks and channels, add the layers.

The choices and the adding are plain functions (:func:`sample_choices`,
:func:`add_sample_layers`), so they run headless; :func:`make_widget` only wires them to
magicgui widgets, which need a GUI backend (Qt) to exist (tested in a real window under
Xvfb: tests/napari/test_napari_qt.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visor_xarray.api import list_image, list_transform
from visor_xarray.napari.sample import layer_data
from visor_xarray.napari.view import add_layers
from visor_xarray.transforms.stored import Transform

__all__ = ["AS_RECORDED", "ImageChoices", "add_sample_layers", "make_widget", "sample_choices"]

#: The space choice that shows raw stacks as recorded (no layer affine).
AS_RECORDED = "as recorded"


@dataclass(frozen=True)
class ImageChoices:
    """What the widget offers for one image of a sample.

    Attributes
    ----------
    image : str
        ``type/name``.
    spaces : tuple of str
        :data:`AS_RECORDED`, then ``space@version`` for each space the stored transforms
        reach from raw (raw images only).
    stacks, channels : tuple of str
        Labels.
    """

    image: str
    spaces: tuple[str, ...]
    stacks: tuple[str, ...]
    channels: tuple[str, ...]


def sample_choices(path: str | os.PathLike[str]) -> list[ImageChoices]:
    """The images of a sample and, for each, the spaces, stacks and channels to pick from.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.vsr`` sample.

    Returns
    -------
    list of ImageChoices
    """
    import xarray as xr

    out = []
    path = Path(path)
    for record in list_image(path):
        image = xr.open_dataset(
            path, engine="visor", image_type=record.type, name=record.name, chunks={}
        )["image"]
        spaces = [AS_RECORDED]
        if record.type == "raw":
            versions = sorted({t.version for t in list_transform(path) if t.slice == record.name})
            for version in versions:
                stored = Transform(path, version=version, name=record.name, mode="r")
                spaces += [f"{s}@{version}" for s in stored.spaces if s != "raw"]
        out.append(
            ImageChoices(
                image=f"{record.type}/{record.name}",
                spaces=tuple(spaces),
                stacks=image.visor.stacks,
                channels=image.visor.channels,
            )
        )
    return out


def add_sample_layers(
    viewer: Any,
    path: str | os.PathLike[str],
    image: str,
    space: str = AS_RECORDED,
    stacks: list[str] | None = None,
    channels: list[str] | None = None,
) -> list[Any]:
    """Add one image's layers to ``viewer``, as the widget's button does.

    Parameters
    ----------
    viewer : napari.Viewer or napari.components.ViewerModel
    path : str or os.PathLike
        The ``.vsr`` sample.
    image : str
        ``type/name``.
    space : str, default :data:`AS_RECORDED`
        Or ``space@version`` (see :class:`ImageChoices`).
    stacks, channels : list of str, optional
        Labels to show (empty or None: all).

    Returns
    -------
    list of napari layers
    """
    image_type, _, name = image.partition("/")
    target, version = (None, None) if space == AS_RECORDED else space.split("@", 1)
    layers = layer_data(
        path,
        image_type=image_type,
        name=name,
        space=target,
        version=version,
        stacks=stacks or None,
        channels=channels or None,
    )
    added = add_layers(viewer, layers)
    if target is not None:
        # deskewed stacks mix z and y: only a 3-D view slices them the way they lie
        viewer.dims.ndisplay = 3
    return added


def make_widget(viewer: Any) -> Any:
    """The dock widget (magicgui ``Container``) for the napari window ``viewer``.

    Parameters
    ----------
    viewer : napari.Viewer

    Returns
    -------
    magicgui.widgets.Container
    """
    from magicgui import widgets
    from magicgui.types import FileDialogMode

    sample = widgets.FileEdit(label="sample", mode=FileDialogMode.EXISTING_DIRECTORY)
    image = widgets.ComboBox(label="image", choices=[])
    space = widgets.ComboBox(label="space", choices=[AS_RECORDED])
    stacks = widgets.Select(label="stacks", choices=[])
    channels = widgets.Select(label="channels", choices=[])
    button = widgets.PushButton(text="Add layers")
    found: dict[str, ImageChoices] = {}

    def sample_changed(value: Path) -> None:
        found.clear()
        if Path(value).suffix == ".vsr" and Path(value).is_dir():
            found.update({c.image: c for c in sample_choices(value)})
        image.choices = list(found)

    def image_changed(value: str | None) -> None:
        chosen = found.get(value or "")
        space.choices = list(chosen.spaces) if chosen else [AS_RECORDED]
        stacks.choices = list(chosen.stacks) if chosen else []
        channels.choices = list(chosen.channels) if chosen else []

    def clicked() -> None:
        if image.value and isinstance(sample.value, Path):
            add_sample_layers(
                viewer,
                sample.value,
                image.value,
                space.value,
                list(stacks.value),
                list(channels.value),
            )

    sample.changed.connect(sample_changed)
    image.changed.connect(image_changed)
    button.changed.connect(clicked)
    return widgets.Container(widgets=[sample, image, space, stacks, channels, button])
