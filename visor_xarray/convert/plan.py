"""The plan of a copy, made before anything is written: per image, what is written how.

Each image is planned from its source: the levels kept, the metadata written (legacy
attributes converted to the current layout, the OME ``datasets`` trimmed to the kept
levels) and whether its levels are copied byte for byte or re-encoded. The files that
are not images (``info.json``, every transform version with every file in it, anything
else in the sample) are carried as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visor_xarray import layout
from visor_xarray.convert.encoding import LevelEncoding, ShapeSpec, level_encoding
from visor_xarray.convert.files import list_files
from visor_xarray.convert.selection import LevelSpec, resolve_levels, trim_levels
from visor_xarray.errors import IncompleteError
from visor_xarray.schema import ImageAttrs, current_image_attrs
from visor_xarray.store import VsrStore
from visor_xarray.zarr_io import marker_is_stale, read_json, read_write_marker

__all__ = ["ImagePlan", "plan_image", "sample_files"]

FilePairs = list[tuple[Path, Path]]


@dataclass(frozen=True)
class ImagePlan:
    """How one image is copied.

    Parameters
    ----------
    image_type, name : str
        The image.
    source, target : pathlib.Path
        Its directory in the source and in the destination.
    legacy : bool
        Stored in the legacy layout (converted to the current one).
    source_attrs, attrs : ImageAttrs
        Its metadata as read, and as written.
    levels : tuple of str
        The levels copied.
    reencode : bool
        Levels are re-encoded (legacy, or a new encoding asked for) instead of being
        copied byte for byte.
    document : dict or None
        The group document (``zarr.json``) to write; None copies it byte for byte.
    files : list of (pathlib.Path, pathlib.Path)
        Files copied as they are: the levels copied byte for byte and any other entry of
        the image directory (``slide.tar``, ...).
    encodings : dict
        The encoding of each re-encoded level (empty when copied byte for byte).
    """

    image_type: str
    name: str
    source: Path
    target: Path
    legacy: bool
    source_attrs: ImageAttrs
    attrs: ImageAttrs
    levels: tuple[str, ...]
    reencode: bool
    document: dict[str, Any] | None
    files: FilePairs
    encodings: dict[str, LevelEncoding]

    @property
    def label(self) -> str:
        """``TYPE/NAME``."""
        return f"{self.image_type}/{self.name}"


def _refuse_incomplete(directory: Path, what: str) -> None:
    marker = read_write_marker(directory)
    if marker is None:
        return
    state = "was interrupted" if marker_is_stale(marker) else "is in progress"
    raise IncompleteError(
        directory,
        f"{what}: a write ({marker.get('operation', '?')}, pid {marker.get('pid', '?')}, "
        f"started {marker.get('started', '?')}) {state}, so it may be incomplete; "
        "repair it first (repeat that write), or leave it out of the copy with images=",
    )


def plan_image(
    store: VsrStore,
    destination: Path,
    image_type: str,
    name: str,
    levels: LevelSpec | None,
    *,
    shard_shape: ShapeSpec | None = None,
    chunk_shape: ShapeSpec | None = None,
    compressors: Any = None,
) -> ImagePlan:
    """Plan the copy of one image (reads its metadata and opens its kept levels).

    The image is re-encoded when it is in the legacy layout or when any of
    ``shard_shape``, ``chunk_shape`` and ``compressors`` is given (see
    :func:`~visor_xarray.convert.encoding.level_encoding`); otherwise its levels are
    copied byte for byte.

    Raises
    ------
    IncompleteError
        If the image holds an in-progress marker (its last write was interrupted).
    UnknownLevelError, MetadataError
        For a level it does not list, or metadata and arrays that cannot be read.
    InvalidArrayError
        For an encoding that does not fit a level.
    """
    store.image_dir(image_type, name)  # it must exist
    source = layout.image_dir(store.local_path, image_type, name)
    _refuse_incomplete(source, f"image {image_type}/{name}")
    legacy = layout.is_legacy_image(source)
    source_attrs = store.image_attrs(image_type, name)
    keep = resolve_levels(source_attrs, levels, source)
    reencode = legacy or any(v is not None for v in (shard_shape, chunk_shape, compressors))
    encodings: dict[str, LevelEncoding] = {}
    for level in keep:  # checks each array's metadata against the image's, and symlinks
        array = store.level_array(image_type, name, level, attrs=source_attrs)
        if reencode:
            encodings[level] = level_encoding(
                array,
                source_attrs.multiscale.dims,
                source / level,
                shard_shape=shard_shape,
                chunk_shape=chunk_shape,
                compressors=compressors,
            )
    trimmed = source_attrs if keep == source_attrs.multiscale.level_paths else None
    attrs = trim_levels(source_attrs, keep) if trimmed is None else source_attrs
    document: dict[str, Any] | None = None
    if legacy:
        attrs = current_image_attrs(attrs)
        document = {"zarr_format": 3, "node_type": "group", "attributes": attrs.to_dict()}
    elif trimmed is None:
        document = dict(read_json(source / "zarr.json"))
        document["attributes"] = attrs.to_dict()
    target = layout.image_dir(destination, image_type, name)
    listed = source_attrs.multiscale.level_paths
    files: FilePairs = []
    for entry in sorted(source.iterdir()):
        if entry.name.startswith(".") or entry.name == "zarr.json":
            continue  # bookkeeping, legacy documents, and the group document (written first)
        if entry.name in listed:
            if entry.name in keep and not reencode:
                files.extend(
                    (f, target / f.relative_to(source))
                    for f in list_files(entry, store.local_path)
                )
            continue
        if entry.is_dir() and layout.array_document(entry).is_file():
            continue  # a level array the image does not list (left by an interrupted write)
        files.extend(
            (f, target / f.relative_to(source)) for f in list_files(entry, store.local_path)
        )
    return ImagePlan(
        image_type=image_type,
        name=name,
        source=source,
        target=target,
        legacy=legacy,
        source_attrs=source_attrs,
        attrs=attrs,
        levels=keep,
        reencode=reencode,
        document=document,
        files=files,
        encodings=encodings,
    )


def sample_files(store: VsrStore, destination: Path) -> FilePairs:
    """The files of the sample that belong to no image, to copy as they are.

    ``info.json``, every transform version with every file in it (types and formats this
    library cannot interpret included), and anything else in the sample or its image type
    directories, except images (planned one by one) and ``selected.json`` (rewritten).
    Hidden entries are bookkeeping and are left out.
    """
    root = store.local_path
    pairs: FilePairs = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if layout.IMAGE_DIR_PATTERN.match(entry.name) and entry.is_dir():
            for item in sorted(entry.iterdir()):
                if item.name.startswith(".") or (item.name.endswith(".zarr") and item.is_dir()):
                    continue
                if item.name == "selected.json" and entry.name == "visor_raw_images":
                    continue
                pairs.extend(
                    (f, destination / f.relative_to(root)) for f in list_files(item, root)
                )
            continue
        pairs.extend((f, destination / f.relative_to(root)) for f in list_files(entry, root))
    return pairs
