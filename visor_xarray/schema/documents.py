"""Parse the sample-level documents: ``info.json``, ``selected.json``, a version's
``recon.json`` and a slice's ``transforms.json``.

``selected.json`` and ``recon.json`` accept the legacy ``path`` instead of ``name``;
``selected.json`` and ``transforms.json`` accept visor-py's placeholder object.
"""

from __future__ import annotations

from typing import Any

from visor_xarray.schema.fields import (
    _fail,
    _items,
    _join,
    _named_list,
    _object,
    _optional_string,
    _required,
    _rest,
    _string,
    _strings,
)
from visor_xarray.schema.models import (
    ReconInfo,
    ReconSlice,
    SampleInfo,
    SelectedImage,
    Selection,
    TransformEntry,
    TransformList,
)

__all__ = [
    "parse_recon",
    "parse_sample_info",
    "parse_selection",
    "parse_transform_list",
]


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
