"""Exception hierarchy of visor-xarray.

Every error derives from :class:`VisorError` and, where one fits, from the builtin
exception a user would naturally catch (``FileNotFoundError`` for a missing sample,
``KeyError`` for an unknown label, ...), so both ``except VisorError`` and
``except KeyError`` work. Every message names the file and the field involved.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = [
    "CorruptDataError",
    "IncompleteError",
    "InvalidArrayError",
    "LegacyLayoutError",
    "LegacyLayoutWarning",
    "ListingUnavailableError",
    "MetadataError",
    "NotAVsrError",
    "ReadOnlyError",
    "RemoteAccessError",
    "RemoteUnsupportedError",
    "TargetExistsError",
    "UnknownImageError",
    "UnknownLabelError",
    "UnknownLevelError",
    "UnknownTransformError",
    "UnknownVersionError",
    "UnsupportedTransformError",
    "VisorError",
    "VisorWarning",
    "where",
]


def where(path: object) -> Any:
    """A location as errors keep it: a local path as a ``Path``, a URL or remote path as is.

    Parameters
    ----------
    path : str, os.PathLike or a remote path

    Returns
    -------
    pathlib.Path, str or the remote path
    """
    if isinstance(path, str) and "://" in path:
        return path
    if isinstance(path, (str, os.PathLike)):
        return Path(path)
    return path


def _choices(options: Iterable[object]) -> str:
    listed = [repr(o) for o in options]
    return ", ".join(listed) if listed else "(none)"


class VisorError(Exception):
    """Base class of every error raised by visor-xarray."""

    def __str__(self) -> str:
        # KeyError's default __str__ repr()s the message, which would print quotes.
        return str(self.args[0]) if self.args else ""


class VisorWarning(UserWarning):
    """Warning about tolerated, but irregular, content of a sample."""


#: The layout visor-py 2024.12.x wrote (vsr-format.md section 9), as messages name it.
LEGACY_LAYOUT = (
    "legacy layout of visor-py 2024.12.x (schema v2024.11.3: Zarr v2, flat OME-Zarr 0.4 "
    "attributes)"
)


class LegacyLayoutWarning(VisorWarning):
    """The sample has the legacy layout of visor-py 2024.12.x: readable here, read-only.

    Current visor-py cannot read that layout; :func:`visor_xarray.copy_sample` converts
    the sample to the current one.
    """


class NotAVsrError(VisorError, FileNotFoundError):
    """The path is missing, is not a directory, or is not a ``.vsr`` sample."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = where(path)
        super().__init__(f"{self.path}: {reason}")


class MetadataError(VisorError, ValueError):
    """A metadata document is missing, unreadable or breaks the schema.

    Attributes
    ----------
    file : pathlib.Path, remote path or None
        The JSON document (or array) at fault.
    field : str
        The JSON path of the offending field, e.g. ``attributes.visor.channels[1].wavelength``.
    """

    def __init__(self, file: object, field: str, problem: str) -> None:
        self.file = where(file) if file is not None else None
        self.field = field
        self.problem = problem
        document = f"{self.file}" if self.file is not None else "<document>"
        location = f"{document}: field '{field}'" if field else document
        super().__init__(f"{location}: {problem}")

    def located(self, file: object) -> MetadataError:
        """Return the same error attributed to ``file`` (parsers run before files are known)."""
        return type(self)(file, self.field, self.problem)


class UnknownImageError(VisorError, KeyError):
    """An image type or image name that the sample does not hold."""

    def __init__(self, where: object, what: str, value: object, valid: Iterable[object]):
        self.valid = list(valid)
        missing = what if value is None else f"no {what} {value!r}"
        super().__init__(f"{where}: {missing}; choose one of: {_choices(self.valid)}")


class UnknownLevelError(UnknownImageError):
    """A resolution level that the image does not hold."""


class UnknownVersionError(UnknownImageError):
    """A transform version (``visor_recon_transforms/{version}``) that does not exist."""


class UnknownTransformError(UnknownImageError):
    """A transform (name, stack, channel) that is not stored in a version."""


class UnknownLabelError(VisorError, KeyError, ValueError):
    """A stack or channel label that the image does not define.

    Also a ``ValueError``, which is what visor-py raises for an unknown label.
    """

    def __init__(self, where: object, kind: str, label: object, valid: Iterable[object]):
        self.valid = list(valid)
        hint = ""
        if not isinstance(label, str) and str(label) in [str(v) for v in self.valid]:
            hint = f" (labels are strings: use {str(label)!r})"
        noun = "labels" if isinstance(label, list) else "label"
        super().__init__(
            f"{where}: unknown {kind} {noun} {label!r}{hint}; "
            f"labels that exist: {_choices(self.valid)}"
        )


class ReadOnlyError(VisorError, PermissionError):
    """A write was attempted on an image or array opened with ``mode='r'``."""

    def __init__(self, path: object, action: str = "write") -> None:
        self.path = where(path)
        super().__init__(
            f"{self.path}: opened read-only (mode='r'); cannot {action}. "
            "Open it with mode='r+' or mode='a' to modify it."
        )


class LegacyLayoutError(ReadOnlyError):
    """A write to a sample (or image) stored in the legacy layout of visor-py 2024.12.x.

    That layout is read-only here: convert the sample first with
    :func:`visor_xarray.copy_sample`, which writes the current layout.
    """

    def __init__(self, path: object, action: str = "write") -> None:
        self.path = where(path)
        VisorError.__init__(
            self,
            f"{self.path}: the sample has the {LEGACY_LAYOUT}, which is read-only; cannot "
            f"{action}. Convert it first with visor_xarray.copy_sample(src, dst) (or "
            "`visor-xarray copy SRC DST`), which writes the current layout (schema "
            "v2025.6.1, sharded Zarr v3), and write to the copy.",
        )


class IncompleteError(VisorError, OSError):
    """An image or sample whose last write was interrupted, or is still running."""

    def __init__(self, path: object, detail: str) -> None:
        self.path = where(path)
        super().__init__(f"{self.path}: {detail}")


class TargetExistsError(VisorError, FileExistsError):
    """The target exists and the call (``mode='w-'``, ``overwrite=False``) forbids replacing it."""

    def __init__(
        self,
        path: object,
        what: str = "image",
        hint: str = "use mode='w' to overwrite it, or mode='a' / 'r+' to modify it",
    ) -> None:
        self.path = where(path)
        super().__init__(f"{self.path}: {what} already exists; {hint}")


class InvalidArrayError(VisorError, ValueError):
    """An array's shape, dtype or chunking does not fit the image it is written to."""


class UnsupportedTransformError(VisorError, NotImplementedError):
    """A transform type/format combination (or operation) that is not supported."""


class CorruptDataError(VisorError, OSError):
    """A stored chunk or shard could not be decoded (truncated, bit-flipped, bad checksum)."""

    def __init__(self, path: object, detail: str) -> None:
        self.path = where(path)
        super().__init__(f"{self.path}: stored data is corrupt or truncated: {detail}")


class RemoteAccessError(VisorError, OSError):
    """A remote store refused a request or could not be reached.

    The message names the URL and the likely cause (missing bucket, credentials,
    unreachable endpoint); secrets never appear in it.
    """

    def __init__(self, url: str, reason: str, detail: str = "") -> None:
        self.url = url
        super().__init__(f"{url}: {reason}" + (f" ({detail.splitlines()[0]})" if detail else ""))


class RemoteUnsupportedError(VisorError, NotImplementedError):
    """An operation that works on local samples only was asked of a remote one."""

    def __init__(self, path: object, action: str) -> None:
        self.path = where(path)
        super().__init__(
            f"{self.path}: cannot {action} on a remote sample; copy it to a local directory "
            "first with visor_xarray.copy_sample(url, 'local.vsr', storage_options=...)"
        )


class ListingUnavailableError(VisorError, NotImplementedError):
    """The store cannot list a directory (plain HTTP): name the image or version."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(
            f"{url}: this store cannot list directories (plain HTTP); images named in "
            "selected.json are found, others need their name (name=..., image_type=...), "
            "transform versions their version=..."
        )
