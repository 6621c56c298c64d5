"""Small files read and replaced whole: JSON documents, and the atomic write under them.

A write goes to a temporary sibling, is fsynced and then renamed over the target, so a
reader (or a crash) sees either the old file or the complete new one.

Temporary siblings are created with the permissions a plain ``open()`` or ``mkdir`` would
give (``0o666`` / ``0o777`` less the umask), not with :mod:`tempfile`'s private ``0o600``
/ ``0o700``: the rename keeps the temporary's mode, and a sample is shared by a lab, so a
file only its writer can read would make every other user's open fail.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from visor_xarray.layout import SamplePath

__all__ = ["new_sibling_dir", "read_json", "write_atomic", "write_json_atomic"]

_ATTEMPTS = 100


def _sibling_name(path: Path, suffix: str) -> Path:
    """A hidden, random name beside ``path``: ``.{name}.{random}{suffix}``."""
    return path.parent / f".{path.name}.{secrets.token_hex(6)}{suffix}"


def _new_sibling_file(path: Path, suffix: str = ".tmp") -> tuple[int, Path]:
    """Create an empty file with a unique hidden name beside ``path``, open for writing.

    The mode is ``0o666`` less the umask, as ``open(name, "w")`` gives.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(_ATTEMPTS):
        candidate = _sibling_name(path, suffix)
        try:
            return os.open(candidate, flags, 0o666), candidate
        except FileExistsError:
            continue
    raise FileExistsError(f"{path.parent}: no free temporary name for {path.name}")


def new_sibling_dir(path: Path, suffix: str = ".tmp") -> Path:
    """Create an empty directory with a unique hidden name beside ``path``.

    Parameters
    ----------
    path : pathlib.Path
        The entry the directory is a sibling of (its parent must exist).
    suffix : str, default ".tmp"
        End of the name: ``.{path.name}.{random}{suffix}``.

    Returns
    -------
    pathlib.Path
        The new directory, with the mode ``mkdir`` gives (``0o777`` less the umask),
        unlike :func:`tempfile.mkdtemp`'s ``0o700``.
    """
    for _ in range(_ATTEMPTS):
        candidate = _sibling_name(path, suffix)
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"{path.parent}: no free temporary name for {path.name}")


def write_atomic(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write through ``write`` into a temporary sibling, fsync, then rename over ``path``.

    The file gets the mode a new file made by ``open()`` gets (``0o666`` less the
    umask), also when it replaces an existing one.

    Parameters
    ----------
    path : pathlib.Path
        The target file (its directory is created if missing).
    write : callable
        Called with the temporary file, opened for binary writing.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = _new_sibling_file(path)
    try:
        with os.fdopen(fd, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        tmp_name.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_name.unlink()
        raise


def read_json(path: SamplePath) -> Any:
    """Read a JSON file.

    Parameters
    ----------
    path : pathlib.Path or RemotePath
        The document.

    Returns
    -------
    object
        The parsed JSON value.

    Raises
    ------
    FileNotFoundError
        If the file is missing.
    json.JSONDecodeError
        If it is not valid JSON, including documents nested too deeply for the parser,
        integers with more digits than Python converts, and a directory (or other
        unreadable entry) where the file should be.
    UnicodeDecodeError
        If it is not UTF-8.
    """
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise
    except (IsADirectoryError, NotADirectoryError, PermissionError) as error:
        raise json.JSONDecodeError(f"cannot read the document ({error.strerror})", "", 0) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply to parse", text[:80], 0) from None
    except ValueError as error:  # e.g. an integer longer than sys.get_int_max_str_digits()
        raise json.JSONDecodeError(str(error), text[:80], 0) from None


def write_json_atomic(path: Path, value: Any) -> None:
    """Write ``value`` as JSON to ``path`` atomically (temporary file, fsync, rename).

    A reader (or a crash) sees either the old file or the complete new one, never a
    partial document.

    Parameters
    ----------
    path : pathlib.Path
        The document (its directory is created if missing).
    value : object
        A JSON-serialisable value.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    write_atomic(path, lambda stream: stream.write(data))
