"""Whole directory trees to and from a remote store, with the guarantees of local writes.

Object stores have atomic PUTs (a large file goes up as a multipart upload that appears
only once complete) but no rename, so a tree cannot be swapped into place. An upload keeps
the reliability rules of local writes (docs/reliability.md) this way:

1. an in-progress marker (``.visor-write.json``, state ``"writing"``) is put first at the
   tree's root: readers opening the sample meanwhile are warned it is incomplete;
2. with ``overwrite``, the objects already under the prefix are deleted;
3. data objects (shards, chunks, transform files) go up before the metadata documents
   that make them visible, deepest documents first, the sample's ``selected.json`` and
   ``info.json`` last;
4. the marker is deleted; a failure leaves it, in state ``"failed"``.

Every object is complete or absent; what differs from local writes is that a failed
upload leaves the objects already put (under the marker), not an untouched old tree.
"""

from __future__ import annotations

import json
import posixpath
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from visor_xarray.errors import RemoteUnsupportedError, TargetExistsError
from visor_xarray.zarr_io.lock import LOCK_FILE
from visor_xarray.zarr_io.markers import (
    WRITE_MARKER,
    WriteInProgressError,
    marker_is_stale,
    new_marker,
    read_write_marker,
)
from visor_xarray.zarr_io.remote_path import RemotePath

__all__ = [
    "SAMPLE_DOCUMENTS",
    "download_tree",
    "remote_exists",
    "require_writable_store",
    "staged_edit",
    "upload_changes",
    "upload_tree",
]

#: Documents written last, in this order (the sample's entry points).
_LAST = ("visor_raw_images/selected.json", "info.json")
#: The sample-level documents a staged change starts from.
SAMPLE_DOCUMENTS = ("info.json", "visor_raw_images/selected.json")
T = TypeVar("T")
_METADATA_SUFFIXES = (".json", ".zarray", ".zattrs", ".zgroup")


def _upload_order(relative: str) -> tuple[int, int, str]:
    """Data before metadata, deeper documents before shallower, the entry points last."""
    if relative in _LAST:
        return (2, _LAST.index(relative), relative)
    if relative.endswith(_METADATA_SUFFIXES):
        return (1, -relative.count("/"), relative)
    return (0, 0, relative)


def require_writable_store(remote: RemotePath) -> None:
    """Refuse, before any work, to write where the store cannot take writes (plain HTTP).

    Parameters
    ----------
    remote : RemotePath

    Raises
    ------
    RemoteUnsupportedError
        For a web server: HTTP samples are read-only.
    """
    if not remote.listable:
        raise RemoteUnsupportedError(remote, "write (a sample served over HTTP is read-only)")


def remote_exists(remote: RemotePath) -> bool:
    """True if any object lies under ``remote`` (or it is itself an object).

    Parameters
    ----------
    remote : RemotePath

    Returns
    -------
    bool
    """
    return remote.is_file() or (remote.listable and remote.is_dir())


def upload_tree(
    local: Path,
    remote: RemotePath,
    *,
    operation: str,
    overwrite: bool = False,
    details: dict[str, Any] | None = None,
) -> int:
    """Upload every file under ``local`` to ``remote`` (see the module documentation).

    Parameters
    ----------
    local : pathlib.Path
        A local directory.
    remote : RemotePath
        The prefix to upload to (an object store: S3).
    operation : str
        What the upload is, recorded in the marker (``"copy"``, ``"write"``).
    overwrite : bool, default False
        Delete what is under ``remote`` first; otherwise an existing tree is refused.
    details : dict, optional
        JSON-serialisable facts recorded in the marker.

    Returns
    -------
    int
        Bytes uploaded.

    Raises
    ------
    TargetExistsError
        If objects lie under ``remote`` and ``overwrite`` is False.
    """
    if remote_exists(remote) and not overwrite:
        raise TargetExistsError(remote, "remote tree", "pass overwrite=True to replace it")
    files = [p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()]
    return upload_changes(
        local, remote, files, operation=operation, replace_all=overwrite, details=details
    )


def upload_changes(
    local: Path,
    remote: RemotePath,
    files: Iterable[str],
    *,
    operation: str,
    deleted: Iterable[str] = (),
    replace_all: bool = False,
    details: dict[str, Any] | None = None,
) -> int:
    """Upload some files of ``local`` to ``remote`` and delete others there, marker first.

    Parameters
    ----------
    local : pathlib.Path
        A local directory.
    remote : RemotePath
        Its counterpart in an object store.
    files : iterable of str
        Paths relative to ``local`` to upload (data before metadata, entry points last).
    operation : str
        Recorded in the marker.
    deleted : iterable of str, optional
        Relative paths to delete remotely (after the marker, before the uploads).
    replace_all : bool, default False
        Delete every object under ``remote`` first.
    details : dict, optional
        JSON-serialisable facts recorded in the marker.

    Returns
    -------
    int
        Bytes uploaded.
    """
    require_writable_store(remote)
    existing = read_write_marker(remote)
    if existing is not None and not marker_is_stale(existing):
        raise WriteInProgressError(remote, existing)
    marker = new_marker(operation, details)
    marker_file = remote / WRITE_MARKER
    marker_file.write_text(json.dumps(marker))
    try:
        if replace_all and remote.listable:
            for stale in list(remote.rglob_files()):
                if stale != marker_file:
                    stale.unlink(missing_ok=True)
        for gone in deleted:
            (remote / gone).unlink(missing_ok=True)
        sent = 0
        local_only = (WRITE_MARKER, LOCK_FILE)  # this machine's marker and lock stay here
        for relative in sorted(
            (f for f in files if posixpath.basename(f) not in local_only), key=_upload_order
        ):
            (remote / relative).upload(local / relative)
            sent += (local / relative).stat().st_size
    except BaseException:
        marker_file.write_text(json.dumps({**marker, "state": "failed"}))
        raise
    marker_file.unlink(missing_ok=True)
    return sent


def download_tree(remote: RemotePath, local: Path) -> int:
    """Download every object under ``remote`` into the directory ``local``.

    Parameters
    ----------
    remote : RemotePath
        A prefix of an object store (listable).
    local : pathlib.Path
        Created if missing; files are written under it at their relative keys.

    Returns
    -------
    int
        Bytes downloaded.

    Raises
    ------
    ListingUnavailableError
        For a store that cannot list (plain HTTP).
    """
    return sum(
        source.download_file(local / source.relative_to(remote)) for source in remote.rglob_files()
    )


def _stamps(root: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


def staged_edit(
    sample: RemotePath,
    subtree: str,
    operation: str,
    edit: Callable[[Path], T],
    *,
    replace: bool = False,
) -> T:
    """Change part of a remote sample through a local copy of that part.

    The sample's documents (:data:`SAMPLE_DOCUMENTS`) and every object under ``subtree``
    (an image, a transform version) are downloaded into a local staging sample;
    ``edit(local_sample)`` changes it with the local code (region writes, new levels,
    saved transforms); then what changed under ``subtree`` is uploaded (and what
    disappeared deleted) with its marker first and metadata last, then the changed
    sample documents. The staging directory is removed whatever happens.

    Parameters
    ----------
    sample : RemotePath
        The remote sample (an object store).
    subtree : str
        The part changed, relative to the sample (``visor_raw_images/NAME.zarr``).
    operation : str
        Recorded in the marker.
    edit : callable
        ``edit(local_sample) -> T``.
    replace : bool, default False
        ``edit`` writes the subtree afresh (a whole image): it is not downloaded, and
        what lies under it remotely is replaced by what ``edit`` wrote.

    Returns
    -------
    T
        What ``edit`` returns.

    Raises
    ------
    RemoteUnsupportedError
        Over plain HTTP, which cannot be written.
    WriteInProgressError
        If a live writer's marker lies at the subtree.
    """
    require_writable_store(sample)
    with tempfile.TemporaryDirectory(prefix="visor-staging-") as scratch:
        local = Path(scratch) / sample.name
        for document in SAMPLE_DOCUMENTS:
            if (sample / document).is_file():
                (sample / document).download_file(local / document)
        if not replace:
            download_tree(sample / subtree, local / subtree)
        before = _stamps(local)
        result = edit(local)
        after = _stamps(local)
        changed = {name for name, stamp in after.items() if before.get(name) != stamp}
        prefix = subtree.strip("/") + "/"
        upload_changes(
            local / subtree,
            sample / subtree,
            [name.removeprefix(prefix) for name in changed if name.startswith(prefix)],
            deleted=[
                name.removeprefix(prefix)
                for name in before
                if name not in after and name.startswith(prefix)
            ],
            operation=operation,
            replace_all=replace,
        )
        for document in SAMPLE_DOCUMENTS:
            if document in changed:
                (sample / document).upload(local / document)
    return result
