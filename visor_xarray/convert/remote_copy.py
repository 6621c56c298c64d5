"""Copies to and from remote stores (upload a local sample, download a remote one).

A copy with a remote end goes through a local staging directory: a remote source is
downloaded first (object by object, streamed), the local copy does what
:func:`~visor_xarray.copy_sample` does (selection, re-encoding, legacy conversion), and a
remote destination is uploaded last with the marker-first, metadata-last order of
:func:`~visor_xarray.zarr_io.remote_transfer.upload_tree`. The staging directory needs
the disk space of the sample (twice for a download that re-encodes) and is removed
whatever happens.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from visor_xarray.convert.report import CopyReport
from visor_xarray.errors import ListingUnavailableError, NotAVsrError, TargetExistsError
from visor_xarray.zarr_io.remote_path import Location, RemotePath
from visor_xarray.zarr_io.remote_transfer import (
    download_tree,
    remote_exists,
    require_writable_store,
    upload_tree,
)

__all__ = ["copy_through_staging"]


def copy_through_staging(
    source: Location,
    target: Location,
    copy_local: Callable[[Path, Path], CopyReport],
    *,
    overwrite: bool,
) -> CopyReport:
    """Copy ``source`` to ``target`` when either is remote (see the module documentation).

    Parameters
    ----------
    source, target : pathlib.Path or RemotePath
        The sample and its copy; at least one is remote.
    copy_local : callable
        ``copy_local(local_source, local_target)``: the local copy with the caller's
        selection and encoding.
    overwrite : bool
        Replace a remote ``target`` that exists.

    Returns
    -------
    CopyReport
        With the remote ends as ``source`` / ``path``, and the time of the whole copy.

    Raises
    ------
    NotAVsrError
        If ``target`` does not end in ``.vsr``.
    TargetExistsError
        If the remote ``target`` exists and ``overwrite`` is False (nothing is read).
    ListingUnavailableError
        For a source over plain HTTP, which cannot be listed.
    """
    started = time.perf_counter()
    if target.suffix != ".vsr":
        raise NotAVsrError(target, "the destination must end in .vsr (a sample directory)")
    if isinstance(target, RemotePath):
        require_writable_store(target)
    if isinstance(target, RemotePath) and remote_exists(target) and not overwrite:
        raise TargetExistsError(target, "sample", "pass overwrite=True to replace it")
    if isinstance(source, RemotePath) and not source.listable:
        raise ListingUnavailableError(source.url)
    if isinstance(target, Path):  # a download: stage on the destination's filesystem
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch_root: Path | None = target.parent
    else:
        scratch_root = None
    with tempfile.TemporaryDirectory(prefix=".visor-staging-", dir=scratch_root) as scratch:
        staging = Path(scratch)
        local_source = source
        if isinstance(source, RemotePath):
            local_source = staging / "source" / source.name
            download_tree(source, local_source)
        local_target = target if isinstance(target, Path) else staging / "target" / target.name
        assert isinstance(local_source, Path)
        report = copy_local(local_source, local_target)
        if isinstance(target, RemotePath):
            upload_tree(
                local_target,
                target,
                operation="copy",
                overwrite=overwrite,
                details={"source": str(source)},
            )
    return dataclasses.replace(
        report, source=source, path=target, seconds=time.perf_counter() - started
    )
