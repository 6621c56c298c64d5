"""Coordinates of an image level: labels along ``vs``/``ch``, physical positions along z/y/x.

Convention (OME-Zarr 0.5): the coordinate of voxel ``i`` of level ``k`` along a space axis
is ``g * (s_k * i + t_k) + t_g``, where ``s_k``/``t_k`` are the level's scale and
translation and ``g``/``t_g`` the multiscale's global scale and translation. It is the
position of the voxel *centre*. visor-py writes no translations, so its coarser levels
place voxel centres at ``g * s_k * i``; pyramids written by visor-xarray add the
translation ``(s_k - 1) / 2`` so that a block-mean voxel sits at the centre of the
voxels it averages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from visor_xarray.errors import UnknownLevelError
from visor_xarray.schema import CHANNEL_FIELD_UNITS, ImageAttrs, Multiscale

__all__ = [
    "channel_coords",
    "channel_field_long_name",
    "level_index",
    "level_spacing",
    "level_translation",
    "spatial_coords",
    "stack_coords",
]

UnitfulCoord = tuple[str, np.ndarray, dict[str, str]]


def level_index(multiscale: Multiscale, level: str | int) -> int:
    """Position of a level path in the multiscale's ``datasets``.

    Raises
    ------
    UnknownLevelError
        If the level is not listed.
    """
    paths = multiscale.level_paths
    try:
        return paths.index(str(level))
    except ValueError:
        raise UnknownLevelError(
            multiscale.name or "image", "resolution level", str(level), paths
        ) from None


def level_spacing(multiscale: Multiscale, level: str | int) -> tuple[float, ...]:
    """Physical voxel size of a level along every axis (1.0 on ``vs``/``ch``)."""
    scale = multiscale.levels[level_index(multiscale, level)].scale
    global_scale = multiscale.scale or (1.0,) * len(scale)
    return tuple(s * g for s, g in zip(scale, global_scale, strict=True))


def level_translation(multiscale: Multiscale, level: str | int) -> tuple[float, ...]:
    """Physical position of voxel 0 of a level along every axis."""
    entry = multiscale.levels[level_index(multiscale, level)]
    ndim = len(entry.scale)
    global_scale = multiscale.scale or (1.0,) * ndim
    local = entry.translation or (0.0,) * ndim
    offset = multiscale.translation or (0.0,) * ndim
    return tuple(g * t + o for g, t, o in zip(global_scale, local, offset, strict=True))


def spatial_coords(
    multiscale: Multiscale, level: str | int, shape: tuple[int, ...]
) -> dict[str, tuple[str, np.ndarray, dict[str, str]]]:
    """Physical coordinates of the space axes of one level.

    Parameters
    ----------
    multiscale : Multiscale
        The image's multiscale metadata.
    level : str or int
        Level path.
    shape : tuple of int
        Shape of the level array.

    Returns
    -------
    dict
        ``{dim: (dim, values, attrs)}`` for every axis that is neither ``vs`` nor ``ch``;
        ``attrs`` holds ``units`` (the axis unit, ``micrometer`` in VISoR) and
        ``long_name``.
    """
    spacing = level_spacing(multiscale, level)
    origin = level_translation(multiscale, level)
    out = {}
    for i, axis in enumerate(multiscale.axes):
        if axis.dim in ("vs", "ch"):
            continue
        values = origin[i] + spacing[i] * np.arange(shape[i], dtype=np.float64)
        attrs = {"long_name": f"{axis.dim} position of voxel centres"}
        if axis.unit:
            attrs["units"] = axis.unit
        out[axis.dim] = (axis.dim, values, attrs)
    return out


def _uniform_scalar_field(entries: Sequence[Mapping[str, Any]], key: str) -> np.ndarray | None:
    """Values of ``key`` across entries, if every entry has a scalar of one JSON kind."""
    values = [entry.get(key) for entry in entries]
    if any(v is None or isinstance(v, list | dict) for v in values):
        return None
    kinds = {bool if isinstance(v, bool) else str if isinstance(v, str) else float for v in values}
    if len(kinds) != 1:
        return None
    kind = kinds.pop()
    if kind is float and all(isinstance(v, int) for v in values):
        return np.asarray(values, dtype=np.int64)
    return np.asarray(values, dtype=object if kind is str else kind)


def channel_field_long_name(key: str) -> str:
    """The ``long_name`` of the coordinate holding channel acquisition field ``key``.

    It marks the coordinate as a channel field: after ``sel(ch="488")`` the field is a
    scalar coordinate, and the writer recognises it by this name to keep it in the
    channel's entry (``expand_dims("ch")`` does not give it back its ``ch`` dimension).
    """
    return f"channel {key}"


def channel_coords(attrs: ImageAttrs, reserved: set[str]) -> dict[str, UnitfulCoord]:
    """Coordinates along ``ch``: the wavelength labels and the acquisition fields.

    Scalar acquisition fields shared by every channel (``power``, ``exposure``,
    ``filter``, ...) become non-index coordinates along ``ch``, with a ``units`` attribute
    where the schema gives one. List-valued fields (``roi``) stay in the metadata only.

    Parameters
    ----------
    attrs : ImageAttrs
        The image's metadata.
    reserved : set of str
        Names that must not be used (dimension names).

    Returns
    -------
    dict
        ``{name: (dim, values, attrs)}``.
    """
    channels = attrs.visor.channels_by_index() if attrs.visor else ()
    coords: dict[str, UnitfulCoord] = {
        "ch": (
            "ch",
            np.asarray([c.wavelength for c in channels], dtype=object),
            {"long_name": "channel label (laser wavelength)"},
        )
    }
    try:
        wavelengths = np.asarray([float(c.wavelength) for c in channels], dtype=np.float64)
    except ValueError:
        pass
    else:
        coords["wavelength"] = (
            "ch",
            wavelengths,
            {"long_name": "laser wavelength", "units": "nanometer"},
        )
    entries = [dict(c.acquisition) for c in channels]
    keys = list(dict.fromkeys(key for entry in entries for key in entry))
    for key in keys:
        if key in reserved or key in coords:
            continue
        values = _uniform_scalar_field(entries, key)
        if values is None:
            continue
        field_attrs = {"long_name": channel_field_long_name(key)}
        if key in CHANNEL_FIELD_UNITS:
            field_attrs["units"] = CHANNEL_FIELD_UNITS[key]
        coords[key] = ("ch", values, field_attrs)
    return coords


def stack_coords(attrs: ImageAttrs) -> dict[str, UnitfulCoord]:
    """Coordinates along ``vs``: stack labels and stage positions (``position_x/_y``, mm)."""
    stacks = attrs.visor.stacks_by_index() if attrs.visor else ()
    coords: dict[str, UnitfulCoord] = {
        "vs": (
            "vs",
            np.asarray([s.label for s in stacks], dtype=object),
            {"long_name": "stack label"},
        )
    }
    positions = [s.position for s in stacks]
    if stacks and all(p is not None and len(p) == 2 for p in positions):
        for i, suffix in enumerate(("x", "y")):
            coords[f"position_{suffix}"] = (
                "vs",
                np.asarray([p[i] for p in positions if p is not None], dtype=np.float64),
                {
                    "long_name": f"stage {suffix} of the stack's top-left corner",
                    "units": "millimeter",
                },
            )
    return coords
