"""Small files read and replaced whole: JSON documents, and the atomic write under them.

A write goes to a temporary sibling, is fsynced and then renamed over the target, so a
reader (or a crash) sees either the old file or the complete new one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["read_json", "write_atomic", "write_json_atomic"]


def write_atomic(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write through ``write`` into a temporary sibling, fsync, then rename over ``path``.

    Parameters
    ----------
    path : pathlib.Path
        The target file (its directory is created if missing).
    write : callable
        Called with the temporary file, opened for binary writing.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        Path(tmp_name).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp_name).unlink()
        raise


def read_json(path: Path) -> Any:
    """Read a JSON file.

    Parameters
    ----------
    path : pathlib.Path
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
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
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
