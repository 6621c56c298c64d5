"""Pure path rules of a ``.vsr`` sample: where images, levels and transforms live.

Nothing here touches the filesystem except :func:`scan_*` helpers that list directories.
Names given by users are checked so that no path can leave the sample directory.
"""

from __future__ import annotations

import re
from pathlib import Path

from visor_xarray.errors import MetadataError

__all__ = [
    "IMAGE_DIR_PATTERN",
    "LEGACY_GROUP_FILES",
    "RAW",
    "array_document",
    "check_name",
    "group_document",
    "image_dir",
    "image_type_dir",
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


def check_name(name: object, what: str, where: Path | str | None = None) -> str:
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


def image_type_dir(root: Path, image_type: str) -> Path:
    """``{root}/visor_{type}_images``."""
    return root / f"visor_{check_name(image_type, 'image type', root)}_images"


def image_dir(root: Path, image_type: str, name: str) -> Path:
    """``{root}/visor_{type}_images/{name}.zarr``."""
    return image_type_dir(root, image_type) / f"{check_name(name, 'image name', root)}.zarr"


def level_dir(image: Path, level: str) -> Path:
    """``{image}.zarr/{level}``."""
    return image / check_name(level, "resolution level", image)


def transforms_root(root: Path) -> Path:
    """``{root}/visor_recon_transforms``."""
    return root / "visor_recon_transforms"


def version_dir(root: Path, version: str) -> Path:
    """``{root}/visor_recon_transforms/{version}``."""
    return transforms_root(root) / check_name(version, "transform version", root)


def transform_file(
    slice_dir: Path,
    name: str,
    kind: str,
    fmt: str,
    stack: int | None = None,
    channel: int | None = None,
) -> Path:
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


def scan_image_types(root: Path) -> list[str]:
    """Image types present under ``root`` (``visor_*_images`` directories), sorted, raw first."""
    types = []
    for entry in root.iterdir():
        match = IMAGE_DIR_PATTERN.match(entry.name)
        if match and entry.is_dir():
            types.append(match["type"])
    return sorted(types, key=lambda t: (t != RAW, t))


def scan_image_names(type_dir: Path) -> list[str]:
    """Image names (``*.zarr`` directories, suffix removed) in an image type directory, sorted."""
    if not type_dir.is_dir():
        return []
    return sorted(
        entry.name.removesuffix(".zarr")
        for entry in type_dir.iterdir()
        if entry.name.endswith(".zarr") and entry.is_dir() and not entry.name.startswith(".")
    )


def is_legacy_image(image: Path) -> bool:
    """True if an image directory holds a Zarr v2 group (legacy layout) and no ``zarr.json``."""
    return not (image / "zarr.json").exists() and any(
        (image / name).exists() for name in LEGACY_GROUP_FILES
    )


def group_document(image: Path) -> Path:
    """The document holding an image's attributes: ``zarr.json``, or legacy ``.zattrs``."""
    return image / ".zattrs" if is_legacy_image(image) else image / "zarr.json"


def array_document(level: Path) -> Path:
    """The metadata document of a level array: ``zarr.json``, or a legacy ``.zarray``."""
    legacy = level / ".zarray"
    return (
        legacy if legacy.exists() and not (level / "zarr.json").exists() else level / "zarr.json"
    )


def scan_legacy_images(root: Path) -> list[Path]:
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
    found: list[Path] = []
    for image_type in scan_image_types(root):
        type_dir = root / f"visor_{image_type}_images"
        found.extend(
            type_dir / f"{name}.zarr"
            for name in scan_image_names(type_dir)
            if is_legacy_image(type_dir / f"{name}.zarr")
        )
    return sorted(found)
