"""Looking things up by name within a sample.

:func:`label_to_index` maps a stack or channel label to its axis index; ``_only_image``
finds the one image of a type when no name is given.
"""

from __future__ import annotations

from pathlib import Path

from visor_xarray import layout
from visor_xarray.errors import UnknownImageError, UnknownLabelError
from visor_xarray.schema import ImageAttrs
from visor_xarray.store import VsrStore

__all__ = ["label_to_index"]


def label_to_index(attrs: ImageAttrs, kind: str, label: object, where: str | Path) -> int:
    """Return the axis index of a stack or channel label.

    Parameters
    ----------
    attrs : ImageAttrs
        The image's metadata.
    kind : {"stack", "channel"}
        ``"stack"`` looks ``label`` up among ``visor_stacks[].label``; ``"channel"`` among
        ``channels[].wavelength``.
    label : str
        The label, e.g. ``"stack_3"`` or ``"488"`` (a string: ``488`` is not ``"488"``).
    where : str or pathlib.Path
        The image, for the message.

    Returns
    -------
    int
        The ``index`` field of the entry (its position on the axis, never its list position).

    Raises
    ------
    UnknownLabelError
        If no entry has that label; the message lists the labels that exist.
    ValueError
        If ``kind`` is neither ``"stack"`` nor ``"channel"``.
    """
    visor = attrs.visor
    if kind == "stack":
        stacks = visor.stacks_by_index() if visor else ()
        for stack in stacks:
            if stack.label == label:
                return stack.index
        raise UnknownLabelError(where, "stack", label, [s.label for s in stacks])
    if kind == "channel":
        channels = visor.channels_by_index() if visor else ()
        for channel in channels:
            if channel.wavelength == label:
                return channel.index
        raise UnknownLabelError(where, "channel", label, [c.wavelength for c in channels])
    raise ValueError(f"label kind must be 'stack' or 'channel', got {kind!r}")


def _only_image(store: VsrStore, image_type: str) -> str:
    store._check_type(image_type)
    names = store.image_names(image_type)
    if len(names) != 1:
        raise UnknownImageError(
            layout.image_type_dir(store.path, image_type),
            f"name=None needs exactly one image of this type, found {len(names)}",
            None,
            names,
        )
    return names[0]
