"""Parse untrusted JSON documents of a ``.vsr`` sample into :mod:`~visor_xarray.schema.models`.

Every ``parse_*`` function takes the decoded JSON value and raises
:class:`~visor_xarray.errors.MetadataError` with the JSON path of the offending field;
the caller attaches the file with :meth:`MetadataError.located`. Legacy forms listed in
the format specification are accepted: ``path`` instead of ``name`` (selected.json,
recon.json), ``s``/``c`` axis names, and ``{"_comment": ...}`` placeholder objects.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from visor_xarray.errors import MetadataError
from visor_xarray.schema.models import (
    Axis,
    Channel,
    ImageAttrs,
    Level,
    Multiscale,
    OmeAttrs,
    ReconInfo,
    ReconSlice,
    SampleInfo,
    SelectedImage,
    Selection,
    Source,
    TransformEntry,
    TransformList,
    VisorAttrs,
    VisorStack,
)

__all__ = [
    "parse_image_attrs",
    "parse_recon",
    "parse_sample_info",
    "parse_selection",
    "parse_transform_list",
]

T = TypeVar("T")


def _fail(path: str, problem: str) -> MetadataError:
    return MetadataError(None, path, problem)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(path, f"expected a JSON object, got {_kind(value)}")
    for key in value:
        if not isinstance(key, str):
            raise _fail(path, f"object keys must be strings, got {key!r}")
    return value


def _array(value: Any, path: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise _fail(path, f"expected a JSON array, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return type(value).__name__


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _fail(path, f"expected a string, got {_kind(value)}")
    return value


def _optional_string(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    return None if value is None else _string(value, _join(path, key))


def _integer(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, f"expected an integer, got {_kind(value)}")
    return value


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(path, f"expected a number, got {_kind(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise _fail(path, f"expected a finite number, got {value!r}")
    return number


def _numbers(value: Any, path: str) -> tuple[float, ...]:
    return tuple(_number(v, _join(path, i)) for i, v in enumerate(_array(value, path)))


def _strings(value: Any, path: str) -> tuple[str, ...]:
    return tuple(_string(v, _join(path, i)) for i, v in enumerate(_array(value, path)))


def _required(obj: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in obj:
        raise _fail(_join(path, key), "required field is missing")
    return obj[key]


def _items(value: Any, path: str, parse: Callable[[Any, str], T]) -> tuple[T, ...]:
    return tuple(parse(item, _join(path, i)) for i, item in enumerate(_array(value, path)))


def _rest(obj: Mapping[str, Any], known: set[str]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in known}


def _is_placeholder(value: Any) -> bool:
    """visor-py writes ``{"_comment": "..."}`` where an array belongs until data exists."""
    return isinstance(value, Mapping) and all(str(k).startswith("_") for k in value)


def _check_indices(indices: Sequence[int], path: str, what: str) -> None:
    if sorted(indices) != list(range(len(indices))):
        raise _fail(
            path,
            f"{what} indices must be 0-based, contiguous and unique, got {sorted(indices)}",
        )


def _check_unique(labels: Sequence[str], path: str, what: str) -> None:
    seen: set[str] = set()
    for label in labels:
        if label in seen:
            raise _fail(path, f"duplicate {what} label {label!r}")
        seen.add(label)


def _named_list(
    value: Any, parse: Callable[[Any, str], T], name: Callable[[T], str], what: str
) -> tuple[tuple[T, ...], dict[str, Any] | None]:
    """``(entries, None)`` of a top-level JSON array whose entries have unique names, or
    ``((), placeholder)`` for visor-py's placeholder object."""
    if _is_placeholder(value):
        return (), dict(value)
    entries = _items(value, "", parse)
    _check_unique([name(entry) for entry in entries], "", what)
    return entries, None


# --------------------------------------------------------------------------- info.json


def parse_sample_info(value: Any) -> SampleInfo:
    """Parse ``info.json``.

    Parameters
    ----------
    value : Any
        The decoded JSON value.

    Returns
    -------
    SampleInfo

    Raises
    ------
    MetadataError
        If the document is not an object or a known field is not a string.
    """
    obj = _object(value, "")
    known = {"animal_id", "project_name", "species", "subproject_name"}
    return SampleInfo(
        animal_id=_optional_string(obj, "animal_id", ""),
        project_name=_optional_string(obj, "project_name", ""),
        species=_optional_string(obj, "species", ""),
        subproject_name=_optional_string(obj, "subproject_name", ""),
        extra=_rest(obj, known),
    )


# ------------------------------------------------------------------------ selected.json


def _selected_image(value: Any, path: str) -> SelectedImage:
    obj = _object(value, path)
    if "name" in obj:
        name = _string(obj["name"], _join(path, "name"))
    elif "path" in obj:  # schema <= v2025.5.3 kept the directory name with ".zarr"
        name = _string(obj["path"], _join(path, "path")).removesuffix(".zarr")
    else:
        raise _fail(_join(path, "name"), "required field is missing (nor legacy 'path')")
    channels = _strings(obj.get("channels", []), _join(path, "channels"))
    return SelectedImage(
        name=name, channels=channels, extra=_rest(obj, {"name", "path", "channels"})
    )


def parse_selection(value: Any) -> Selection:
    """Parse ``visor_raw_images/selected.json`` (an array; visor-py's placeholder is accepted).

    Parameters
    ----------
    value : Any
        The decoded JSON value.

    Returns
    -------
    Selection

    Raises
    ------
    MetadataError
        On a malformed entry or a name selected twice.
    """
    images, placeholder = _named_list(
        value, _selected_image, lambda image: image.name, "selected image"
    )
    return Selection(images=images, placeholder=placeholder)


# ------------------------------------------------------------------- image group attrs


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


# --------------------------------------------------------------------------- recon.json


def _recon_slice(value: Any, path: str) -> ReconSlice:
    obj = _object(value, path)
    if "name" in obj:
        name = _string(obj["name"], _join(path, "name"))
    elif "path" in obj:  # schema v2025.5.3
        name = _string(obj["path"], _join(path, "path"))
    else:
        raise _fail(_join(path, "name"), "required field is missing (nor legacy 'path')")
    return ReconSlice(
        name=name,
        transforms=_strings(obj.get("transforms", []), _join(path, "transforms")),
        extra=_rest(obj, {"name", "path", "transforms"}),
    )


def parse_recon(value: Any) -> ReconInfo:
    """Parse ``visor_recon_transforms/{version}/recon.json``.

    Parameters
    ----------
    value : Any
        The decoded JSON value.

    Returns
    -------
    ReconInfo

    Raises
    ------
    MetadataError
        On a field of the wrong type.
    """
    obj = _object(value, "")
    return ReconInfo(
        personnel=_optional_string(obj, "personnel", ""),
        create_time=_optional_string(obj, "create_time", ""),
        spaces=_strings(obj.get("spaces", []), "spaces"),
        keywords=_strings(obj.get("keywords", []), "keywords"),
        slices=_items(obj.get("slices", []), "slices", _recon_slice),
        extra=_rest(obj, {"personnel", "create_time", "spaces", "keywords", "slices"}),
    )


# ----------------------------------------------------------------------- transforms.json


def _transform_entry(value: Any, path: str) -> TransformEntry:
    obj = _object(value, path)
    name = _string(_required(obj, "name", path), _join(path, "name"))
    if "_to_" not in name:
        raise _fail(_join(path, "name"), f"expected '{{from}}_to_{{to}}', got {name!r}")
    direction = _optional_string(obj, "direction", path)
    if direction is not None:
        source, _, target = name.partition("_to_")
        if direction not in (name, f"{target}_to_{source}"):
            raise _fail(
                _join(path, "direction"),
                f"must be {name!r} or {target + '_to_' + source!r}, got {direction!r}",
            )
    return TransformEntry(
        name=name,
        type=_string(_required(obj, "type", path), _join(path, "type")),
        format=_string(_required(obj, "format", path), _join(path, "format")),
        direction=direction,
        extra=_rest(obj, {"name", "type", "format", "direction"}),
    )


def parse_transform_list(value: Any) -> TransformList:
    """Parse a slice's ``transforms.json`` (an array; visor-py's placeholder is accepted).

    Parameters
    ----------
    value : Any
        The decoded JSON value.

    Returns
    -------
    TransformList

    Raises
    ------
    MetadataError
        On a malformed entry or a transform listed twice.
    """
    entries, placeholder = _named_list(value, _transform_entry, lambda e: e.name, "transform")
    return TransformList(entries=entries, placeholder=placeholder)
