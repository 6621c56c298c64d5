"""Parse the ``attributes`` of an image group (``{image}.zarr/zarr.json``): the OME
``multiscales`` (axes, levels, coordinate transformations) and the ``visor`` block
(stacks, channels, sources, transform version).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from visor_xarray.schema.fields import (
    check_indices,
    check_unique,
    describe_kind,
    field_error,
    join_path,
    read_array,
    read_integer,
    read_items,
    read_numbers,
    read_object,
    read_optional_string,
    read_required,
    read_string,
    read_strings,
    unknown_fields,
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

__all__ = ["parse_image_attrs", "parse_multiscale", "parse_visor_block"]


def _axis(value: Any, path: str) -> Axis:
    obj = read_object(value, path)
    return Axis(
        name=read_string(read_required(obj, "name", path), join_path(path, "name")),
        type=read_optional_string(obj, "type", path),
        unit=read_optional_string(obj, "unit", path),
        extra=unknown_fields(obj, {"name", "type", "unit"}),
    )


def _transforms(
    value: Any, path: str, ndim: int
) -> tuple[tuple[float, ...] | None, tuple[float, ...] | None, tuple[Mapping[str, Any], ...]]:
    scale: tuple[float, ...] | None = None
    translation: tuple[float, ...] | None = None
    others: list[Mapping[str, Any]] = []
    for i, item in enumerate(read_array(value, path)):
        item_path = join_path(path, i)
        obj = read_object(item, item_path)
        kind = obj.get("type")
        if kind == "scale" and scale is None:
            scale = read_numbers(
                read_required(obj, "scale", item_path), join_path(item_path, "scale")
            )
            if len(scale) != ndim:
                raise field_error(
                    join_path(item_path, "scale"),
                    f"has {len(scale)} values for {ndim} axes (one scale per axis is required)",
                )
            if any(s <= 0 for s in scale):
                raise field_error(
                    join_path(item_path, "scale"), f"scales must be positive, got {scale}"
                )
        elif kind == "translation" and translation is None:
            translation = read_numbers(
                read_required(obj, "translation", item_path), join_path(item_path, "translation")
            )
            if len(translation) != ndim:
                raise field_error(
                    join_path(item_path, "translation"),
                    f"has {len(translation)} values for {ndim} axes",
                )
        else:
            others.append(dict(obj))
    return scale, translation, tuple(others)


def _level(value: Any, path: str, ndim: int) -> Level:
    obj = read_object(value, path)
    level_path = read_required(obj, "path", path)
    if isinstance(level_path, int) and not isinstance(level_path, bool):
        level_path = str(level_path)
    level_path = read_string(level_path, join_path(path, "path"))
    transforms_path = join_path(path, "coordinateTransformations")
    scale, translation, others = _transforms(
        read_required(obj, "coordinateTransformations", path), transforms_path, ndim
    )
    if scale is None:
        raise field_error(transforms_path, "a 'scale' transformation is required")
    return Level(
        path=level_path,
        scale=scale,
        translation=translation,
        extra=unknown_fields(obj, {"path", "coordinateTransformations"}),
        transform_extra=others,
    )


def parse_multiscale(value: Any, path: str) -> Multiscale:
    """Parse one entry of the OME ``multiscales`` array.

    Parameters
    ----------
    value : Any
        The decoded JSON value.
    path : str
        Its JSON path, for error messages.

    Returns
    -------
    Multiscale
        The axes and levels.

    Raises
    ------
    MetadataError
        If the entry is malformed.
    """
    obj = read_object(value, path)
    axes = read_items(read_required(obj, "axes", path), join_path(path, "axes"), _axis)
    if not axes:
        raise field_error(join_path(path, "axes"), "at least one axis is required")
    dims = [axis.dim for axis in axes]
    if len(set(dims)) != len(dims):
        raise field_error(join_path(path, "axes"), f"axis names must be unique, got {dims}")
    ndim = len(axes)
    levels_path = join_path(path, "datasets")
    levels = tuple(
        _level(item, join_path(levels_path, i), ndim)
        for i, item in enumerate(read_array(read_required(obj, "datasets", path), levels_path))
    )
    if not levels:
        raise field_error(levels_path, "at least one resolution level is required")
    paths = [level.path for level in levels]
    if len(set(paths)) != len(paths):
        raise field_error(levels_path, f"level paths must be unique, got {paths}")
    scale, translation, others = _transforms(
        obj.get("coordinateTransformations", []),
        join_path(path, "coordinateTransformations"),
        ndim,
    )
    metadata = obj.get("metadata")
    return Multiscale(
        name=read_optional_string(obj, "name", path),
        axes=axes,
        levels=levels,
        scale=scale,
        translation=translation,
        type=read_optional_string(obj, "type", path),
        metadata=dict(read_object(metadata, join_path(path, "metadata")))
        if metadata is not None
        else None,
        extra=unknown_fields(
            obj, {"name", "axes", "datasets", "coordinateTransformations", "type", "metadata"}
        ),
        transform_extra=others,
    )


def _ome(value: Any, path: str) -> OmeAttrs:
    obj = read_object(value, path)
    multiscales = read_items(
        read_required(obj, "multiscales", path), join_path(path, "multiscales"), parse_multiscale
    )
    if not multiscales:
        raise field_error(join_path(path, "multiscales"), "at least one multiscale is required")
    version = obj.get("version", "0.5")
    return OmeAttrs(
        version=read_string(version, join_path(path, "version")),
        multiscales=multiscales,
        extra=unknown_fields(obj, {"version", "multiscales"}),
    )


def _stack(value: Any, path: str) -> VisorStack:
    obj = read_object(value, path)
    position = obj.get("position")
    return VisorStack(
        index=read_integer(read_required(obj, "index", path), join_path(path, "index")),
        label=read_string(read_required(obj, "label", path), join_path(path, "label")),
        position=read_numbers(position, join_path(path, "position"))
        if position is not None
        else None,
        extra=unknown_fields(obj, {"index", "label", "position"}),
    )


def _channel(value: Any, path: str) -> Channel:
    obj = read_object(value, path)
    wavelength = read_required(obj, "wavelength", path)
    if not isinstance(wavelength, str):
        raise field_error(
            join_path(path, "wavelength"),
            f'channel wavelengths are strings (the channel label, e.g. "488"), '
            f"got {describe_kind(wavelength)}",
        )
    return Channel(
        index=read_integer(read_required(obj, "index", path), join_path(path, "index")),
        wavelength=wavelength,
        acquisition=unknown_fields(obj, {"index", "wavelength"}),
    )


def _source(value: Any, path: str) -> Source:
    obj = read_object(value, path)
    return Source(
        path=read_string(read_required(obj, "path", path), join_path(path, "path")),
        channels=read_strings(obj.get("channels", []), join_path(path, "channels")),
        extra=unknown_fields(obj, {"path", "channels"}),
    )


def parse_visor_block(value: Any, path: str) -> VisorAttrs:
    """Parse the ``visor`` block of an image group's attributes.

    Parameters
    ----------
    value : Any
        The decoded JSON value.
    path : str
        Its JSON path, for error messages.

    Returns
    -------
    VisorAttrs
        The stacks, channels, sources and transform version.

    Raises
    ------
    MetadataError
        If the block is malformed.
    """
    obj = read_object(value, path)
    stacks = None
    if obj.get("visor_stacks") is not None:
        stacks_path = join_path(path, "visor_stacks")
        stacks = read_items(obj["visor_stacks"], stacks_path, _stack)
        check_indices([s.index for s in stacks], stacks_path, "visor_stacks")
        check_unique([s.label for s in stacks], stacks_path, "stack")
    channels_path = join_path(path, "channels")
    channels = read_items(obj.get("channels", []), channels_path, _channel)
    check_indices([c.index for c in channels], channels_path, "channel")
    check_unique([c.wavelength for c in channels], channels_path, "channel")
    sources = None
    if obj.get("sources") is not None:
        sources = read_items(obj["sources"], join_path(path, "sources"), _source)
    return VisorAttrs(
        visor_stacks=stacks,
        channels=channels,
        sources=sources,
        transform_version=read_optional_string(obj, "transform_version", path),
        extra=unknown_fields(obj, {"visor_stacks", "channels", "sources", "transform_version"}),
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
    obj = read_object(value, "attributes")
    if "ome" not in obj and "multiscales" in obj:
        raise field_error(
            "attributes.multiscales",
            "flat OME 0.4 attributes (Zarr v2 layout, schema <= v2024.11.3) are not supported; "
            "convert the sample to Zarr v3 first",
        )
    ome = _ome(read_required(obj, "ome", "attributes"), "attributes.ome")
    visor = (
        parse_visor_block(obj["visor"], "attributes.visor")
        if obj.get("visor") is not None
        else None
    )
    return ImageAttrs(ome=ome, visor=visor, extra=unknown_fields(obj, {"ome", "visor"}))
