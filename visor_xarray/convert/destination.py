"""The destination of a copy: what may be replaced, and clearing it for the copy.

A copy never writes into or over its source, replaces an existing destination only when
asked (``overwrite=True``) and only if it is a sample (or a copy that did not finish): a
directory that is not a sample is never deleted.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from visor_xarray import layout
from visor_xarray.errors import TargetExistsError
from visor_xarray.zarr_io import LOCK_FILE, WRITE_MARKER, read_write_marker

__all__ = ["check_destination", "clear_destination", "refuse_overlap"]


def refuse_overlap(source: Path, target: Path) -> None:
    """Refuse a destination that is the source, lies inside it, or contains it.

    Parameters
    ----------
    source, target : pathlib.Path
        The source sample and the destination (which may not exist yet).

    Raises
    ------
    TargetExistsError
        Whatever ``overwrite`` says: a copy never writes into, or over, its source.
    """
    a, b = source.resolve(), target.resolve()
    if a == b or a.is_relative_to(b) or b.is_relative_to(a):
        raise TargetExistsError(
            target,
            f"path overlapping the source sample {source}",
            "copy_sample never writes into, or over, its source; choose another destination",
        )


def check_destination(target: Path, overwrite: bool) -> None:
    """Refuse a destination the copy may not replace (nothing is touched).

    Parameters
    ----------
    target : pathlib.Path
        The destination.
    overwrite : bool
        Whether an existing sample may be replaced.

    Raises
    ------
    TargetExistsError
        For a file; for a non-empty directory without ``overwrite`` (saying when an
        earlier copy into it did not finish); with ``overwrite``, for a directory that is
        not a sample.
    """
    if not target.exists() and not target.is_symlink():
        return
    if not target.is_dir():
        raise TargetExistsError(
            target, "file", "copy_sample writes a directory; remove it or choose another path"
        )
    if not [e for e in target.iterdir() if e.name != LOCK_FILE]:
        return  # an empty directory
    marker = read_write_marker(target)
    if not overwrite:
        hint = "pass overwrite=True to replace it"
        if marker is not None:
            hint = "an earlier copy into it did not finish (it is incomplete); " + hint
        raise TargetExistsError(target, "sample", hint)
    if marker is None and not ((target / "info.json").exists() or layout.scan_image_types(target)):
        raise TargetExistsError(
            target,
            "directory that is not a .vsr sample",
            "overwrite=True replaces samples only; remove it yourself or choose another path",
        )


def clear_destination(target: Path) -> None:
    """Delete the destination's contents, keeping its marker and lock (we hold both).

    Parameters
    ----------
    target : pathlib.Path
        The destination, whose in-progress marker the copy holds.
    """
    for entry in target.iterdir():
        if entry.name in (WRITE_MARKER, LOCK_FILE):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
