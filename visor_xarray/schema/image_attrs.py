"""Parse the ``attributes`` of an image group (``{image}.zarr/zarr.json``): the OME
``multiscales`` (axes, levels, coordinate transformations) and the ``visor`` block
(stacks, channels, sources, transform version).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from visor_xarray.schema.fields import (
    _array,
    _check_indices,
    _check_unique,
    _fail,
    _integer,
    _items,
    _join,
    _kind,
    _numbers,
    _object,
    _optional_string,
    _required,
    _rest,
    _string,
    _strings,
)
from visor_xarray.schema.models import (
    Axis,
    Channel,
    ImageAttrs,
    Level,
    Multiscale,
    OmeAttrs,
    Source,
    VisorAttrs,
    VisorStack,
)

__all__ = ["parse_image_attrs"]


def _axis(value: Any, path: str) -> Axis:
    obj = _object(value, path)
    return Axis(
        name=_string(_required(obj, "name", path), _join(path, "name")),
        type=_optional_string(obj, "type", path),
        unit=_optional_string(obj, "unit", path),
        extra=_rest(obj, {"name", "type", "unit"}),
    )


def _transforms(
    value: Any, path: str, ndim: int
) -> tuple[tuple[float, ...] | None, tuple[float, ...] | None, tuple[Mapping[str, Any], ...]]:
    scale: tuple[float, ...] | None = None
    translation: tuple[float, ...] | None = None
    others: list[Mapping[str, Any]] = []
    for i, item in enumerate(_array(value, path)):
        item_path = _join(path, i)
        obj = _object(item, item_path)
        kind = obj.get("type")
        if kind == "scale" and scale is None:
            scale = _numbers(_required(obj, "scale", item_path), _join(item_path, "scale"))
            if len(scale) != ndim:
                raise _fail(
                    _join(item_path, "scale"),
                    f"has {len(scale)} values for {ndim} axes (one scale per axis is required)",
                )
            if any(s <= 0 for s in scale):
                raise _fail(_join(item_path, "scale"), f"scales must be positive, got {scale}")
        elif kind == "translation" and translation is None:
            translation = _numbers(
                _required(obj, "translation", item_path), _join(item_path, "translation")
            )
            if len(translation) != ndim:
                raise _fail(
                    _join(item_path, "translation"),
                    f"has {len(translation)} values for {ndim} axes",
                )
        else:
            others.append(dict(obj))
    return scale, translation, tuple(others)


def _level(value: Any, path: str, ndim: int) -> Level:
    obj = _object(value, path)
    level_path = _required(obj, "path", path)
    if isinstance(level_path, int) and not isinstance(level_path, bool):
        level_path = str(level_path)
    level_path = _string(level_path, _join(path, "path"))
    transforms_path = _join(path, "coordinateTransformations")
    scale, translation, others = _transforms(
        _required(obj, "coordinateTransformations", path), transforms_path, ndim
    )
    if scale is None:
        raise _fail(transforms_path, "a 'scale' transformation is required")
    return Level(
        path=level_path,
        scale=scale,
        translation=translation,
        extra=_rest(obj, {"path", "coordinateTransformations"}),
        transform_extra=others,
    )


def _multiscale(value: Any, path: str) -> Multiscale:
    obj = _object(value, path)
    axes = _items(_required(obj, "axes", path), _join(path, "axes"), _axis)
    if not axes:
        raise _fail(_join(path, "axes"), "at least one axis is required")
    dims = [axis.dim for axis in axes]
    if len(set(dims)) != len(dims):
        raise _fail(_join(path, "axes"), f"axis names must be unique, got {dims}")
    ndim = len(axes)
    levels_path = _join(path, "datasets")
    levels = tuple(
        _level(item, _join(levels_path, i), ndim)
        for i, item in enumerate(_array(_required(obj, "datasets", path), levels_path))
    )
    if not levels:
        raise _fail(levels_path, "at least one resolution level is required")
    paths = [level.path for level in levels]
    if len(set(paths)) != len(paths):
        raise _fail(levels_path, f"level paths must be unique, got {paths}")
    scale, translation, others = _transforms(
        obj.get("coordinateTransformations", []), _join(path, "coordinateTransformations"), ndim
    )
    metadata = obj.get("metadata")
    return Multiscale(
        name=_optional_string(obj, "name", path),
        axes=axes,
        levels=levels,
        scale=scale,
        translation=translation,
        type=_optional_string(obj, "type", path),
        metadata=dict(_object(metadata, _join(path, "metadata")))
        if metadata is not None
        else None,
        extra=_rest(
            obj, {"name", "axes", "datasets", "coordinateTransformations", "type", "metadata"}
        ),
        transform_extra=others,
    )


def _ome(value: Any, path: str) -> OmeAttrs:
    obj = _object(value, path)
    multiscales = _items(
        _required(obj, "multiscales", path), _join(path, "multiscales"), _multiscale
    )
    if not multiscales:
        raise _fail(_join(path, "multiscales"), "at least one multiscale is required")
    version = obj.get("version", "0.5")
    return OmeAttrs(
        version=_string(version, _join(path, "version")),
        multiscales=multiscales,
        extra=_rest(obj, {"version", "multiscales"}),
    )


def _stack(value: Any, path: str) -> VisorStack:
    obj = _object(value, path)
    position = obj.get("position")
    return VisorStack(
        index=_integer(_required(obj, "index", path), _join(path, "index")),
        label=_string(_required(obj, "label", path), _join(path, "label")),
        position=_numbers(position, _join(path, "position")) if position is not None else None,
        extra=_rest(obj, {"index", "label", "position"}),
    )


def _channel(value: Any, path: str) -> Channel:
    obj = _object(value, path)
    wavelength = _required(obj, "wavelength", path)
    if not isinstance(wavelength, str):
        raise _fail(
            _join(path, "wavelength"),
            f'channel wavelengths are strings (the channel label, e.g. "488"), '
            f"got {_kind(wavelength)}",
        )
    return Channel(
        index=_integer(_required(obj, "index", path), _join(path, "index")),
        wavelength=wavelength,
        acquisition=_rest(obj, {"index", "wavelength"}),
    )


def _source(value: Any, path: str) -> Source:
    obj = _object(value, path)
    return Source(
        path=_string(_required(obj, "path", path), _join(path, "path")),
        channels=_strings(obj.get("channels", []), _join(path, "channels")),
        extra=_rest(obj, {"path", "channels"}),
    )


def _visor(value: Any, path: str) -> VisorAttrs:
    obj = _object(value, path)
    stacks = None
    if obj.get("visor_stacks") is not None:
        stacks_path = _join(path, "visor_stacks")
        stacks = _items(obj["visor_stacks"], stacks_path, _stack)
        _check_indices([s.index for s in stacks], stacks_path, "visor_stacks")
        _check_unique([s.label for s in stacks], stacks_path, "stack")
    channels_path = _join(path, "channels")
    channels = _items(obj.get("channels", []), channels_path, _channel)
    _check_indices([c.index for c in channels], channels_path, "channel")
    _check_unique([c.wavelength for c in channels], channels_path, "channel")
    sources = None
    if obj.get("sources") is not None:
        sources = _items(obj["sources"], _join(path, "sources"), _source)
    return VisorAttrs(
        visor_stacks=stacks,
        channels=channels,
        sources=sources,
        transform_version=_optional_string(obj, "transform_version", path),
        extra=_rest(obj, {"visor_stacks", "channels", "sources", "transform_version"}),
    )


def parse_image_attrs(value: Any) -> ImageAttrs:
    """Parse the ``attributes`` of an image group (``{image}.zarr/zarr.json``).

    Parameters
    ----------
    value : Any
        The decoded ``attributes`` object.

    Returns
    -------
    ImageAttrs

    Raises
    ------
    MetadataError
        With the JSON path (relative to ``attributes``) of the first problem: missing
        ``ome``/``multiscales``, scales whose length differs from the axis count,
        non-contiguous stack or channel indices, non-string wavelengths, stack/channel
        counts that differ from the ``vs``/``ch`` axes, ...
    """
    obj = _object(value, "attributes")
    if "ome" not in obj and "multiscales" in obj:
        raise _fail(
            "attributes.multiscales",
            "flat OME 0.4 attributes (Zarr v2 layout, schema <= v2024.11.3) are not supported; "
            "convert the sample to Zarr v3 first",
        )
    ome = _ome(_required(obj, "ome", "attributes"), "attributes.ome")
    visor = _visor(obj["visor"], "attributes.visor") if obj.get("visor") is not None else None
    return ImageAttrs(ome=ome, visor=visor, extra=_rest(obj, {"ome", "visor"}))
