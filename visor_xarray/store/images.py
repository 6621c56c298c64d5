"""Image groups and their level arrays: reading the attributes, opening and creating levels.

Functions of an image directory and its parsed attributes; :class:`~visor_xarray.store.VsrStore`
finds the directory, guards writes and registers new raw images.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from visor_xarray import layout
from visor_xarray.errors import MetadataError, TargetExistsError, UnknownLevelError
from visor_xarray.schema import (
    ImageAttrs,
    check_array_matches,
    parse_image_attrs,
    parse_legacy_image_attrs,
)
from visor_xarray.store.document_files import group_attributes, load_document
from visor_xarray.zarr_io.arrays import SafeArray
from visor_xarray.zarr_io.levels import create_level_array, open_level_array
from visor_xarray.zarr_io.remote_path import Location

__all__ = ["create_level", "group_document", "open_level", "read_image_attrs"]


def read_image_attrs(directory: Location) -> ImageAttrs:
    """Return the parsed attributes (``ome`` + ``visor``) of an image group.

    Parameters
    ----------
    directory : pathlib.Path
        The image directory; one in the legacy layout (Zarr v2, flat ``.zattrs``) is parsed
        into the same model.

    Returns
    -------
    ImageAttrs

    Raises
    ------
    MetadataError
        If the group document is missing, not JSON, or breaks the schema.
    """
    if layout.is_legacy_image(directory):
        return load_document(directory / ".zattrs", parse_legacy_image_attrs)
    file = directory / "zarr.json"
    try:
        return parse_image_attrs(group_attributes(file))
    except MetadataError as error:
        raise error.located(file) if error.file is None else error from None


def group_document(attrs: ImageAttrs) -> dict[str, Any]:
    """The ``zarr.json`` of an image group holding ``attrs``.

    Parameters
    ----------
    attrs : ImageAttrs

    Returns
    -------
    dict
        The Zarr v3 group document.
    """
    return {"zarr_format": 3, "node_type": "group", "attributes": attrs.to_dict()}


def _listed_level(image: Location, attrs: ImageAttrs, level: str | int) -> str:
    level = str(level)
    if level not in attrs.multiscale.level_paths:
        raise UnknownLevelError(image, "resolution level", level, attrs.multiscale.level_paths)
    return level


def open_level(
    image: Location,
    attrs: ImageAttrs,
    level: str | int,
    *,
    writable: bool,
    pipeline: str | None,
) -> SafeArray:
    """Open one resolution level of an image, checked against the image's metadata.

    Parameters
    ----------
    image : pathlib.Path
        The image directory.
    attrs : ImageAttrs
        Its parsed attributes.
    level : str or int
        Level path.
    writable : bool
        Open for writing.
    pipeline : {"zarrs", "default"} or None
        Codec pipeline for this array (None: the ``codec_pipeline`` option).

    Returns
    -------
    SafeArray

    Raises
    ------
    UnknownLevelError
        If the level is not listed in the image's multiscales.
    MetadataError
        If the level's ``zarr.json`` is missing or disagrees with the metadata.
    """
    level = _listed_level(image, attrs, level)
    directory = layout.level_dir(image, level)
    document = layout.array_document(directory)
    if not document.is_file():
        raise MetadataError(document, "", f"level {level!r} is listed but its array is missing")
    try:
        array = open_level_array(directory, writable=writable, pipeline=pipeline)
    except (ValueError, KeyError, TypeError) as error:
        raise MetadataError(document, "", f"not a readable Zarr array: {error}") from None
    check_array_matches(attrs, array.shape, level, layout.group_document(image))
    return array


def create_level(
    image: Path,
    attrs: ImageAttrs,
    level: str | int,
    *,
    shape: Sequence[int],
    dtype: Any,
    chunk_shape: Sequence[int],
    shard_shape: Sequence[int] | None,
    compressors: Any,
    overwrite: bool,
    pipeline: str | None,
    fill_value: Any,
) -> SafeArray:
    """Create the array of one resolution level listed in the image's metadata.

    Parameters
    ----------
    image : pathlib.Path
        The image directory.
    attrs : ImageAttrs
        Its parsed attributes.
    level : str or int
        Level path.
    shape, dtype, chunk_shape, shard_shape, compressors, fill_value
        The array's geometry and encoding (see
        :func:`~visor_xarray.zarr_io.create_level_array`).
    overwrite : bool
        Replace an existing level array.
    pipeline : {"zarrs", "default"} or None
        Codec pipeline for this array (None: the ``codec_pipeline`` option).

    Returns
    -------
    SafeArray

    Raises
    ------
    UnknownLevelError
        If the level is not listed in the image's multiscales.
    TargetExistsError
        If the level array exists and ``overwrite`` is False.
    MetadataError
        If ``shape`` disagrees with the axes or the stack/channel lists.
    """
    level = _listed_level(image, attrs, level)
    check_array_matches(attrs, shape, level, image / "zarr.json")
    directory = layout.level_dir(image, level)
    if (directory / "zarr.json").exists() and not overwrite:
        raise TargetExistsError(
            directory, "resolution level array", "pass overwrite=True to replace it"
        )
    return create_level_array(
        directory,
        shape=shape,
        dtype=dtype,
        shard_shape=shard_shape,
        chunk_shape=chunk_shape,
        compressors=compressors,
        dimension_names=[axis.name for axis in attrs.multiscale.axes],
        fill_value=fill_value,
        pipeline=pipeline,
    )
