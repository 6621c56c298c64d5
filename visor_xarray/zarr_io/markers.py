"""The per-image in-progress marker: who is writing an image, and what a killed write left.

A write holds ``{image}.zarr/.visor-write.json`` (:func:`image_write`) for as long as it
runs; a second live writer of the same image is refused (:class:`WriteInProgressError`),
and a marker left by a killed or failed write reads as stale (:func:`marker_is_stale`).
The scratch directories of atomic shard commits that such a write left behind are listed
and removed here too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from visor_xarray.errors import VisorError, where
from visor_xarray.layout import SamplePath
from visor_xarray.zarr_io.atomic_files import read_json, write_json_atomic
from visor_xarray.zarr_io.lock import sample_lock

__all__ = [
    "SCRATCH_INFIX",
    "WRITE_MARKER",
    "WriteInProgressError",
    "foreign_write_marker",
    "give_up_write",
    "image_write",
    "marker_is_stale",
    "new_marker",
    "process_start",
    "read_write_marker",
    "remove_scratch",
    "scratch_dirs",
]

#: Name of the in-progress marker inside an image directory (``{image}.zarr/``).
WRITE_MARKER = ".visor-write.json"
#: Scratch directories of atomic shard commits are ``.{array}{SCRATCH_INFIX}{token}``.
SCRATCH_INFIX = ".partial-"

# Tokens of the markers this process holds (an own marker not listed here is stale).
_ACTIVE_TOKENS: set[str] = set()


class WriteInProgressError(VisorError, BlockingIOError):
    """Another live process (or thread) is writing the image; writes to one image are
    refused rather than interleaved.

    Parameters
    ----------
    image : str, pathlib.Path or RemotePath
        The image directory (or the remote prefix being uploaded).
    marker : dict
        The in-progress marker of the running write.
    """

    def __init__(self, image: object, marker: dict[str, Any]) -> None:
        self.path = where(image)
        self.marker = marker
        super().__init__(
            f"{self.path}: another write is in progress ({marker.get('operation', '?')} by pid "
            f"{marker.get('pid', '?')} on host {marker.get('host', '?')}, started "
            f"{marker.get('started', '?')}); writes to one image are refused, not interleaved. "
            f"Wait for it to finish; if that process is gone, delete {self.path}/{WRITE_MARKER} "
            "and rewrite the image."
        )


def _process_stat_field(pid: int, field: int) -> str | None:
    """One field of ``/proc/{pid}/stat`` after the command name (0 is the state), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    return fields[field] if len(fields) > field else None


def process_start(pid: int) -> str | None:
    """Start time of a process (Linux ``/proc``), to tell a reused pid from the writer.

    Parameters
    ----------
    pid : int
        The process id.

    Returns
    -------
    str or None
        The start time in clock ticks since boot, or None if the process (or ``/proc``)
        does not exist.
    """
    return _process_stat_field(pid, 19)


def _process_state(pid: int) -> str | None:
    return _process_stat_field(pid, 0)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError):
        return False
    return _process_state(pid) not in ("Z", "X")


def read_write_marker(image: SamplePath) -> dict[str, Any] | None:
    """Return the in-progress marker of an image directory, or None if there is none.

    Parameters
    ----------
    image : pathlib.Path
        The image directory (``{name}.zarr``).

    Returns
    -------
    dict or None
        The marker's JSON object (``operation``, ``pid``, ``host``, ``started``,
        ``state``, ...); an unreadable marker gives ``{"state": "unreadable"}``.
    """
    file = image / WRITE_MARKER
    try:
        value = read_json(file)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"state": "unreadable"}
    return value if isinstance(value, dict) else {"state": "unreadable"}


def foreign_write_marker(image: SamplePath) -> dict[str, Any] | None:
    """Return the in-progress marker of a write that is not one of this process's own.

    Parameters
    ----------
    image : pathlib.Path
        The image (or sample) directory.

    Returns
    -------
    dict or None
        The marker, or None if there is none or a write of this process holds it.
    """
    marker = read_write_marker(image)
    if marker is None or marker.get("token") in _ACTIVE_TOKENS:
        return None
    return marker


def marker_is_stale(marker: dict[str, Any]) -> bool:
    """True if the write that left ``marker`` cannot still be running.

    A marker is stale when its write failed, when it names this host and a process that
    no longer exists (or a reused pid), or when it names this process but no write of
    this process holds it. Markers of other hosts are never stale (the pid cannot be
    checked): delete them by hand once the writer is known to be gone.

    Parameters
    ----------
    marker : dict

    Returns
    -------
    bool
    """
    if marker.get("state") in ("failed", "unreadable"):
        return True
    pid = marker.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool):
        return True
    if marker.get("host") != socket.gethostname():
        return False
    if pid == os.getpid():
        return marker.get("token") not in _ACTIVE_TOKENS
    if not _pid_alive(pid):
        return True
    recorded = marker.get("pid_start")
    return recorded is not None and process_start(pid) not in (None, recorded)


def give_up_write(image: Path, token: str) -> None:
    """Mark the write holding ``token`` as failed, so that none of its shards commits.

    Called as soon as a write fails, before its staging files are removed: dask reports
    the first failed task while others still run, and those check the marker before they
    commit (:func:`visor_xarray.zarr_io.commit.check_guard`). A marker that another
    write holds is left alone.

    Parameters
    ----------
    image : pathlib.Path
        The image directory.
    token : str
        The write's marker token.
    """
    marker = read_write_marker(image)
    if marker is not None and marker.get("token") == token:
        with contextlib.suppress(OSError):
            write_json_atomic(image / WRITE_MARKER, {**marker, "state": "failed"})


def scratch_dirs(image: Path) -> list[Path]:
    """Scratch directories of atomic shard commits left in an image directory.

    Parameters
    ----------
    image : pathlib.Path

    Returns
    -------
    list of pathlib.Path
    """
    if not image.is_dir():
        return []
    return sorted(
        entry
        for entry in image.iterdir()
        if entry.name.startswith(".") and SCRATCH_INFIX in entry.name
    )


def remove_scratch(image: Path) -> None:
    """Delete scratch directories that killed writes left in ``image`` (hold its marker).

    Parameters
    ----------
    image : pathlib.Path
        The image directory.
    """
    for entry in scratch_dirs(image):
        shutil.rmtree(entry, ignore_errors=True)


def new_marker(operation: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The in-progress marker of a new write by this process (state ``"writing"``).

    Parameters
    ----------
    operation : str
        What is written, for messages.
    details : dict, optional
        JSON-serialisable facts to record.

    Returns
    -------
    dict
        ``operation``, ``state``, ``pid``, ``pid_start``, ``host``, ``started``, ``token``
        and the details.
    """
    return {
        "operation": operation,
        "state": "writing",
        "pid": os.getpid(),
        "pid_start": process_start(os.getpid()),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "token": uuid.uuid4().hex,
        **(details or {}),
    }


@contextlib.contextmanager
def image_write(
    image: Path,
    root: Path,
    *,
    operation: str,
    details: dict[str, Any] | None = None,
    precheck: Callable[[], Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """Hold an image's in-progress marker (``{image}/.visor-write.json``) during a write.

    Taking the marker refuses a second live writer of the same image and takes over a
    stale marker (left by a killed or failed write). It is removed when the block ends
    normally; on an exception it stays, marked ``"failed"``, so the image reads as
    incomplete until it is rewritten (if the image directory holds nothing but the marker,
    the directory is removed instead).

    Parameters
    ----------
    image : pathlib.Path
        The image directory (created if missing).
    root : pathlib.Path
        The sample directory (for :func:`sample_lock`).
    operation : str
        What is written (``"write"``, ``"region"``, ``"add_levels"``), for messages.
    details : dict, optional
        JSON-serialisable facts to record (levels, region, ...).
    precheck : callable, optional
        Called under the sample lock before the marker is taken (e.g. the ``mode='w-'``
        existence check).

    Yields
    ------
    dict
        The marker.

    Raises
    ------
    WriteInProgressError
        If a live writer holds the marker.
    """
    marker = new_marker(operation, details)
    token = marker["token"]
    file = image / WRITE_MARKER
    with sample_lock(root):
        if precheck is not None:
            precheck()
        existing = read_write_marker(image)
        if existing is not None and not marker_is_stale(existing):
            raise WriteInProgressError(image, existing)
        created = not image.exists()
        image.mkdir(parents=True, exist_ok=True)
        remove_scratch(image)
        write_json_atomic(file, marker)
        _ACTIVE_TOKENS.add(token)
    try:
        yield marker
    except BaseException:
        with contextlib.suppress(OSError):
            if created and {e.name for e in image.iterdir()} <= {WRITE_MARKER}:
                shutil.rmtree(image)
            else:
                write_json_atomic(file, {**marker, "state": "failed"})
        raise
    else:
        file.unlink(missing_ok=True)
    finally:
        _ACTIVE_TOKENS.discard(token)
