"""What a copy takes from its source: which images, and which resolution levels of each.

Checked before anything is written: unknown image names list the images that exist,
unknown levels the levels the image has.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from visor_xarray.errors import UnknownImageError, UnknownLevelError
from visor_xarray.schema import ImageAttrs
from visor_xarray.store import VsrStore

__all__ = ["ImageSpec", "LevelSpec", "resolve_images", "resolve_levels", "trim_levels"]

#: An image to copy: ``"TYPE/NAME"``, a name unique across types, or ``(type, name)``.
ImageSpec = str | tuple[str, str]
#: Levels to copy: a count of the finest levels, or level paths (``0``, ``"2"``, ...).
LevelSpec = int | Sequence[int | str]


def resolve_images(
    store: VsrStore, images: ImageSpec | Iterable[ImageSpec] | None
) -> list[tuple[str, str]]:
    """The ``(type, name)`` pairs a copy takes, in the sample's order.

    Parameters
    ----------
    store : VsrStore
        The source sample.
    images : str, tuple or iterable of them, optional
        None takes every image; otherwise each item is ``"TYPE/NAME"`` (``"raw/slice_1_10x"``),
        ``(type, name)``, or a bare name that only one image type holds.

    Returns
    -------
    list of (str, str)

    Raises
    ------
    UnknownImageError
        For an item naming no image (or a bare name several types hold); the message lists
        every image as ``TYPE/NAME``.
    """
    everything = [(kind, name) for kind in store.image_types() for name in store.image_names(kind)]
    if images is None:
        return everything
    items: list[ImageSpec] = (
        [images] if isinstance(images, str) or isinstance(images, tuple) else list(images)
    )
    choices = [f"{kind}/{name}" for kind, name in everything]
    chosen: set[tuple[str, str]] = set()
    for item in items:
        if isinstance(item, tuple) and len(item) == 2:
            pair = (str(item[0]), str(item[1]))
        elif isinstance(item, str) and "/" in item:
            kind, _, name = item.partition("/")
            pair = (kind, name)
        elif isinstance(item, str):
            matches = [entry for entry in everything if entry[1] == item]
            if len(matches) != 1:
                what = "image" if not matches else f"image name held by {len(matches)} types,"
                raise UnknownImageError(store.path, what, item, choices)
            pair = matches[0]
        else:
            raise UnknownImageError(store.path, "image", item, choices)
        if pair not in everything:
            raise UnknownImageError(store.path, "image", item, choices)
        chosen.add(pair)
    return [entry for entry in everything if entry in chosen]


def resolve_levels(attrs: ImageAttrs, levels: LevelSpec | None, where: Path) -> tuple[str, ...]:
    """The level paths of one image a copy takes, finest first.

    Parameters
    ----------
    attrs : ImageAttrs
        The image's metadata.
    levels : int or sequence of int or str, optional
        None: every level; an int ``N``: the ``N`` finest levels (all of them if the image
        has fewer); a sequence: those of the level paths that the image has.
    where : pathlib.Path
        The image directory, for messages.

    Returns
    -------
    tuple of str

    Raises
    ------
    UnknownLevelError
        If the image has none of the level paths asked for (the message lists those it
        has).
    ValueError
        For a count below 1 or an empty sequence.
    """
    paths = attrs.multiscale.level_paths
    if levels is None:
        return paths
    if isinstance(levels, bool):
        raise ValueError(f"levels={levels}: give a count or level paths, not a boolean")
    if isinstance(levels, int):
        if levels < 1:
            raise ValueError(f"levels={levels}: copy at least one resolution level")
        return paths[:levels]
    wanted = [str(level) for level in levels]
    if not wanted:
        raise ValueError("levels=[]: copy at least one resolution level")
    kept = tuple(path for path in paths if path in wanted)
    if not kept:  # images of one sample may differ in levels: each takes those it has
        raise UnknownLevelError(where, "resolution level", wanted[0], paths)
    return kept


def trim_levels(attrs: ImageAttrs, keep: Sequence[str]) -> ImageAttrs:
    """``attrs`` listing only the levels in ``keep`` (OME ``datasets`` trimmed, in order).

    The kept levels keep their paths and scales, so physical coordinates are unchanged.
    """
    multiscale = attrs.multiscale
    trimmed = replace(
        multiscale, levels=tuple(level for level in multiscale.levels if level.path in keep)
    )
    return replace(
        attrs, ome=replace(attrs.ome, multiscales=(trimmed, *attrs.ome.multiscales[1:]))
    )
