"""The sample lock: one read-modify-write of a sample's bookkeeping at a time."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["LOCK_FILE", "sample_lock"]

#: Name of the lock file in the sample root (see :func:`sample_lock`).
LOCK_FILE = ".visor-lock"

_LOCK_GUARD = threading.Lock()
_THREAD_LOCKS: dict[str, threading.Lock] = {}
_HELD = threading.local()


@contextlib.contextmanager
def sample_lock(root: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the sample's exclusive lock (``{root}/.visor-lock``) for a read-modify-write.

    Serialises, across threads and processes on hosts that share the filesystem's
    ``flock``, every read-modify-write of sample-level JSON (``selected.json``, ...) and
    the taking of in-progress markers. Re-entrant within a thread.

    Parameters
    ----------
    root : str or os.PathLike
        The ``.vsr`` sample directory (it must exist and be writable).

    Yields
    ------
    None
        While the lock is held.

    Examples
    --------
    >>> with sample_lock(store.path):  # doctest: +SKIP
    ...     selection = store.selection()
    ...     store.write_selection(...)
    """
    key = os.path.realpath(root)
    held: dict[str, int] = _HELD.__dict__.setdefault("depth", {})
    if held.get(key):
        held[key] += 1
        try:
            yield
        finally:
            held[key] -= 1
        return
    with _LOCK_GUARD:
        thread_lock = _THREAD_LOCKS.setdefault(key, threading.Lock())
    with thread_lock:
        fd = os.open(Path(key) / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            held[key] = 1
            try:
                yield
            finally:
                held.pop(key, None)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
