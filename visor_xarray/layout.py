"""Pure path rules of a ``.vsr`` sample: where images, levels and transforms live.

Nothing here touches the filesystem except :func:`scan_*` helpers that list directories.
Names given by users are checked so that no path can leave the sample directory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Protocol, Self, TypeVar

from visor_xarray.errors import MetadataError

__all__ = [
    "IMAGE_DIR_PATTERN",
    "LEGACY_GROUP_FILES",
    "RAW",
    "SamplePath",
    "array_document",
    "check_name",
    "group_document",
    "image_dir",
    "image_type_dir",
    "is_image_dir",
    "is_legacy_image",
    "level_dir",
    "scan_image_names",
    "scan_image_types",
    "scan_legacy_images",
    "transform_file",
    "transforms_root",
    "version_dir",
]

RAW = "raw"
IMAGE_DIR_PATTERN = re.compile(r"^visor_(?P<type>[A-Za-z0-9]+)_images$")
#: Zarr v2 group documents of an image in the legacy layout (visor-py 2024.12.x).
LEGACY_GROUP_FILES = (".zgroup", ".zattrs")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\- ]*$")


class SamplePath(Protocol):
    """What the package asks of a sample's files and directories.

    A local ``pathlib.Path``, or a
    :class:`~visor_xarray.zarr_io.remote_path.RemotePath` for a sample at a URL.
    """

    @property
    def name(self) -> str: ...

    @property
    def suffix(self) -> str: ...

    @property
    def parent(self) -> Self: ...

    def __truediv__(self, other: str) -> Self: ...

    def exists(self) -> bool: ...

    def is_file(self) -> bool: ...

    def is_dir(self) -> bool: ...

    def iterdir(self) -> Iterator[Self]: ...

    def read_bytes(self) -> bytes: ...


#: A sample path, local or remote, kept as the type it came in.
P = TypeVar("P", bound=SamplePath)


def check_name(name: object, what: str, where: SamplePath | str | None = None) -> str:
    """Return ``name`` if it is a safe single path component, else raise.

    Parameters
    ----------
    name : object
        An image type, image name, level, version or slice name given by a user or a file.
    what : str
        What the name is, for the message.
    where : pathlib.Path or str, optional
        The file or sample concerned, for the message.

    Returns
    -------
    str

    Raises
    ------
    MetadataError
        If ``name`` is not a string, is empty, contains a path separator, ``..``, or
        starts with something other than a letter or digit.
    """
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or ".." in name:
        raise MetadataError(
            where,
            what,
            f"{name!r} is not a valid {what}: use letters, digits, '_', '-', '.' and spaces, "
            "with no path separators or '..'",
        )
    return name


def image_type_dir(root: P, image_type: str) -> P:
    """``{root}/visor_{type}_images``."""
    return root / f"visor_{check_name(image_type, 'image type', root)}_images"


def image_dir(root: P, image_type: str, name: str) -> P:
    """``{root}/visor_{type}_images/{name}.zarr``."""
    return image_type_dir(root, image_type) / f"{check_name(name, 'image name', root)}.zarr"


def level_dir(image: P, level: str) -> P:
    """``{image}.zarr/{level}``."""
    return image / check_name(level, "resolution level", image)


def transforms_root(root: P) -> P:
    """``{root}/visor_recon_transforms``."""
    return root / "visor_recon_transforms"


def version_dir(root: P, version: str) -> P:
    """``{root}/visor_recon_transforms/{version}``."""
    return transforms_root(root) / check_name(version, "transform version", root)


def transform_file(
    slice_dir: P,
    name: str,
    kind: str,
    fmt: str,
    stack: int | None = None,
    channel: int | None = None,
) -> P:
    """Path of a stored transform file.

    ``{slice}/{from}_to_{to}/[{stack}/]{channel}/{type}.{format}`` (indices, not labels);
    slice-level transforms omit stack and channel, per-channel ones omit the stack.
    """
    base = slice_dir / check_name(name, "transform name", slice_dir)
    if stack is not None:
        if channel is None:
            raise ValueError("a per-stack transform needs a channel index too")
        base = base / str(int(stack))
    if channel is not None:
        base = base / str(int(channel))
    return (
        base / f"{check_name(kind, 'transform type', slice_dir)}."
        f"{check_name(fmt, 'transform format', slice_dir)}"
    )


def scan_image_types(root: SamplePath) -> list[str]:
    """Image types present under ``root`` (``visor_*_images`` directories), sorted, raw first."""
    types = []
    for entry in root.iterdir():
        match = IMAGE_DIR_PATTERN.match(entry.name)
        if match and entry.is_dir():
            types.append(match["type"])
    return sorted(types, key=lambda t: (t != RAW, t))


def scan_image_names(type_dir: SamplePath) -> list[str]:
    """Image names (``*.zarr`` directories, suffix removed) in an image type directory, sorted."""
    if not type_dir.is_dir():
        return []
    return sorted(
        entry.name.removesuffix(".zarr")
        for entry in type_dir.iterdir()
        if entry.name.endswith(".zarr") and entry.is_dir() and not entry.name.startswith(".")
    )


def is_legacy_image(image: SamplePath) -> bool:
    """True if an image directory holds a Zarr v2 group (legacy layout) and no ``zarr.json``."""
    return not (image / "zarr.json").exists() and any(
        (image / name).exists() for name in LEGACY_GROUP_FILES
    )


def is_image_dir(image: SamplePath) -> bool:
    """True if an image directory holds its group document (current or legacy layout)."""
    return (image / "zarr.json").is_file() or is_legacy_image(image)


def group_document(image: P) -> P:
    """The document holding an image's attributes: ``zarr.json``, or legacy ``.zattrs``."""
    return image / ".zattrs" if is_legacy_image(image) else image / "zarr.json"


def array_document(level: P) -> P:
    """The metadata document of a level array: ``zarr.json``, or a legacy ``.zarray``."""
    legacy = level / ".zarray"
    return (
        legacy if legacy.exists() and not (level / "zarr.json").exists() else level / "zarr.json"
    )


def scan_legacy_images(root: P) -> list[P]:
    """Image directories of a sample that are stored in the legacy (Zarr v2) layout.

    Parameters
    ----------
    root : pathlib.Path
        The ``.vsr`` sample directory.

    Returns
    -------
    list of pathlib.Path
        Sorted; empty for a sample in the current layout.
    """
    if not root.is_dir():
        return []
    found: list[P] = []
    for image_type in scan_image_types(root):
        type_dir = root / f"visor_{image_type}_images"
        found.extend(
            type_dir / f"{name}.zarr"
            for name in scan_image_names(type_dir)
            if is_legacy_image(type_dir / f"{name}.zarr")
        )
    return sorted(found, key=str)
