"""Parse the sample-level documents: ``info.json``, ``selected.json``, a version's
``recon.json`` and a slice's ``transforms.json``.

``selected.json`` and ``recon.json`` accept the legacy ``path`` instead of ``name``;
``selected.json`` and ``transforms.json`` accept visor-py's placeholder object.
"""

from __future__ import annotations

from typing import Any

from visor_xarray.schema.fields import (
    field_error,
    join_path,
    read_items,
    read_named_list,
    read_object,
    read_optional_string,
    read_required,
    read_string,
    read_strings,
    unknown_fields,
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
    obj = read_object(value, "")
    known = {"animal_id", "project_name", "species", "subproject_name"}
    return SampleInfo(
        animal_id=read_optional_string(obj, "animal_id", ""),
        project_name=read_optional_string(obj, "project_name", ""),
        species=read_optional_string(obj, "species", ""),
        subproject_name=read_optional_string(obj, "subproject_name", ""),
        extra=unknown_fields(obj, known),
    )


# ------------------------------------------------------------------------ selected.json


def _selected_image(value: Any, path: str) -> SelectedImage:
    obj = read_object(value, path)
    if "name" in obj:
        name = read_string(obj["name"], join_path(path, "name"))
    elif "path" in obj:  # schema <= v2025.5.3 kept the directory name with ".zarr"
        name = read_string(obj["path"], join_path(path, "path")).removesuffix(".zarr")
    else:
        raise field_error(join_path(path, "name"), "required field is missing (nor legacy 'path')")
    channels = read_strings(obj.get("channels", []), join_path(path, "channels"))
    return SelectedImage(
        name=name, channels=channels, extra=unknown_fields(obj, {"name", "path", "channels"})
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
    images, placeholder = read_named_list(
        value, _selected_image, lambda image: image.name, "selected image"
    )
    return Selection(images=images, placeholder=placeholder)


# --------------------------------------------------------------------------- recon.json


def _recon_slice(value: Any, path: str) -> ReconSlice:
    obj = read_object(value, path)
    if "name" in obj:
        name = read_string(obj["name"], join_path(path, "name"))
    elif "path" in obj:  # schema v2025.5.3
        name = read_string(obj["path"], join_path(path, "path"))
    else:
        raise field_error(join_path(path, "name"), "required field is missing (nor legacy 'path')")
    return ReconSlice(
        name=name,
        transforms=read_strings(obj.get("transforms", []), join_path(path, "transforms")),
        extra=unknown_fields(obj, {"name", "path", "transforms"}),
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
    obj = read_object(value, "")
    return ReconInfo(
        personnel=read_optional_string(obj, "personnel", ""),
        create_time=read_optional_string(obj, "create_time", ""),
        spaces=read_strings(obj.get("spaces", []), "spaces"),
        keywords=read_strings(obj.get("keywords", []), "keywords"),
        slices=read_items(obj.get("slices", []), "slices", _recon_slice),
        extra=unknown_fields(obj, {"personnel", "create_time", "spaces", "keywords", "slices"}),
    )


# ----------------------------------------------------------------------- transforms.json


def _transform_entry(value: Any, path: str) -> TransformEntry:
    obj = read_object(value, path)
    name = read_string(read_required(obj, "name", path), join_path(path, "name"))
    if "_to_" not in name:
        raise field_error(join_path(path, "name"), f"expected '{{from}}_to_{{to}}', got {name!r}")
    direction = read_optional_string(obj, "direction", path)
    if direction is not None:
        source, _, target = name.partition("_to_")
        if direction not in (name, f"{target}_to_{source}"):
            raise field_error(
                join_path(path, "direction"),
                f"must be {name!r} or {target + '_to_' + source!r}, got {direction!r}",
            )
    return TransformEntry(
        name=name,
        type=read_string(read_required(obj, "type", path), join_path(path, "type")),
        format=read_string(read_required(obj, "format", path), join_path(path, "format")),
        direction=direction,
        extra=unknown_fields(obj, {"name", "type", "format", "direction"}),
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
    entries, placeholder = read_named_list(value, _transform_entry, lambda e: e.name, "transform")
    return TransformList(entries=entries, placeholder=placeholder)
