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
from pathlib import Path
from typing import Any

from visor_xarray.errors import TargetExistsError
from visor_xarray.zarr_io.markers import WRITE_MARKER, new_marker
from visor_xarray.zarr_io.remote_path import RemotePath

__all__ = ["download_tree", "remote_exists", "upload_tree"]

#: Documents written last, in this order (the sample's entry points).
_LAST = ("visor_raw_images/selected.json", "info.json")
_METADATA_SUFFIXES = (".json", ".zarray", ".zattrs", ".zgroup")


def _upload_order(relative: str) -> tuple[int, int, str]:
    """Data before metadata, deeper documents before shallower, the entry points last."""
    if relative in _LAST:
        return (2, _LAST.index(relative), relative)
    if relative.endswith(_METADATA_SUFFIXES):
        return (1, -relative.count("/"), relative)
    return (0, 0, relative)


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
    marker = new_marker(operation, details)
    marker_file = remote / WRITE_MARKER
    marker_file.write_text(json.dumps(marker))
    try:
        if overwrite and remote.listable:
            for stale in list(remote.rglob_files()):
                if stale != marker_file:
                    stale.unlink(missing_ok=True)
        files = sorted(
            (p for p in local.rglob("*") if p.is_file() and p.name != WRITE_MARKER),
            key=lambda p: _upload_order(p.relative_to(local).as_posix()),
        )
        sent = 0
        for file in files:
            (remote / file.relative_to(local).as_posix()).upload(file)
            sent += file.stat().st_size
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
