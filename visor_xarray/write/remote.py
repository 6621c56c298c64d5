"""Writing an image into a sample on object storage (``to_vsr("s3://...")``).

The image is written into a local staging sample with the sample's current documents
(``info.json``, ``selected.json``), so that it gets the same metadata and selection as a
local write, then uploaded: the image's objects with
:func:`~visor_xarray.zarr_io.remote_transfer.upload_tree` (its marker first, shards
before the metadata that lists them), then ``selected.json`` and, for a new sample,
``info.json``. Memory is bounded as for a local write; the staging directory needs the
disk space of the image (compressed) and is removed whatever happens.

Region writes and new levels of an existing remote image (:func:`edit_remote_image`)
download the image into the staging sample, change it there and upload what changed.

A second writer of one image is refused while the first one's marker is there; but object
stores have no locks: two writers of the same sample at once may lose one's entry
in ``selected.json`` (each image's own objects are safe).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from visor_xarray import layout
from visor_xarray.errors import LegacyLayoutError, NotAVsrError, TargetExistsError
from visor_xarray.store import VsrStore
from visor_xarray.write.report import WriteReport
from visor_xarray.zarr_io.remote_path import RemotePath, relative_key
from visor_xarray.zarr_io.remote_transfer import (
    require_writable_store,
    staged_edit,
)

__all__ = ["edit_remote_image", "write_to_remote"]


def edit_remote_image(
    target: RemotePath,
    image_type: str,
    name: str,
    operation: str,
    edit: Callable[[Path], WriteReport],
) -> WriteReport:
    """Change an existing remote image (region write, new levels) through a local copy.

    The image is downloaded into a staging sample, changed there by ``edit``, and what
    changed is uploaded (:func:`~visor_xarray.zarr_io.remote_transfer.staged_edit`):
    the staging directory needs the image's compressed size.

    Parameters
    ----------
    target : RemotePath
        The remote sample.
    image_type, name : str
        The image.
    operation : str
        ``"region"``, ``"add_levels"``: recorded in the marker.
    edit : callable
        ``edit(local_sample)`` makes the change and returns its report.

    Returns
    -------
    WriteReport
        With ``target`` as its path and the time of the whole change.

    Raises
    ------
    UnknownImageError
        If the image does not exist.
    """
    started = time.perf_counter()
    require_writable_store(target)
    store = VsrStore(target, warn_legacy=False)
    if store.legacy:
        raise LegacyLayoutError(target, f"{operation} into it")
    store.image_dir(image_type, name)  # it must exist (the error lists those that do)
    subtree = relative_key(layout.image_dir(target, image_type, name), target)
    report = staged_edit(target, subtree, operation, edit)
    return dataclasses.replace(report, path=target, seconds=time.perf_counter() - started)


def write_to_remote(
    target: RemotePath,
    image_type: str,
    name: str,
    mode: str,
    write_local: Callable[[Path], WriteReport],
) -> WriteReport:
    """Write an image into the remote sample ``target`` through a local staging sample.

    Parameters
    ----------
    target : RemotePath
        The remote ``.vsr`` sample (created if missing).
    image_type, name : str
        The image.
    mode : {"w-", "w", "a"}
        As for ``to_vsr``: ``"w-"`` refuses an existing image (nothing is touched).
    write_local : callable
        ``write_local(local_sample)`` writes the image into the staging sample.

    Returns
    -------
    WriteReport
        With ``target`` as its path and the time of the whole write.

    Raises
    ------
    NotAVsrError
        If ``target`` does not end in ``.vsr``.
    TargetExistsError
        With ``mode="w-"`` when the image exists.
    """
    started = time.perf_counter()
    if mode not in ("w-", "w", "a"):
        raise ValueError(f"mode must be 'w-', 'w' or 'a' for a whole-image write, got {mode!r}")
    if target.suffix != ".vsr":
        raise NotAVsrError(target, "not a .vsr sample (the directory name must end in .vsr)")
    require_writable_store(target)
    if (target / "info.json").is_file() or (target / "visor_raw_images").is_dir():
        if VsrStore(target, warn_legacy=False).legacy:
            raise LegacyLayoutError(target, "write an image into it")
    image = layout.image_dir(target, image_type, name)
    exists = layout.is_image_dir(image)
    if exists and mode == "w-":
        raise TargetExistsError(
            image, "image", "mode='w-' refuses to replace it; use mode='w' to overwrite it"
        )
    subtree = relative_key(image, target)
    report = staged_edit(target, subtree, "write", write_local, replace=True)
    return dataclasses.replace(report, path=target, seconds=time.perf_counter() - started)
