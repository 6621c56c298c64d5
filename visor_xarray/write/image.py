"""Whole-image writes: :func:`write_dataarray`, with the choice of inner chunk and shard.

Level 0 is streamed from the source in write blocks sized by the memory budget, into
VISoR's standard shards (:mod:`~visor_xarray.write.layouts`) or the caller's; each coarser
level is computed from the level before it (:mod:`~visor_xarray.write.levels`). The image
carries its in-progress marker (``{image}.zarr/.visor-write.json``) from before its first
byte to after its last, so an interrupted write is detectably incomplete until it is
rewritten, and a second writer of the same image is refused.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import dask.array as da
import numpy as np
import xarray as xr

from visor_xarray import layout
from visor_xarray.chunking import TASK_BYTES_ENCODING
from visor_xarray.errors import InvalidArrayError, TargetExistsError
from visor_xarray.progress import progress_bar
from visor_xarray.store import VsrStore
from visor_xarray.write.layouts import default_chunks, standard_shards
from visor_xarray.write.levels import pyramid_compressors, write_pyramid
from visor_xarray.write.memory import predicted_peak, source_cost, task_memory, write_workers
from visor_xarray.write.metadata import canonical_order, image_attrs_from_dataarray
from visor_xarray.write.plan import WritePlan
from visor_xarray.write.pyramid import level_factors
from visor_xarray.write.report import LevelReport, WriteReport
from visor_xarray.write.sources import from_array
from visor_xarray.write.stream import stream_job
from visor_xarray.zarr_io import (
    WRITE_MARKER,
    guard_writes,
    image_write,
    read_write_marker,
    sample_lock,
)

__all__ = ["write_dataarray"]


def _inner_chunks(
    dims: Sequence[str], shape: Sequence[int], given: Sequence[int] | None
) -> tuple[int, ...]:
    if given is not None:
        chunks = tuple(int(c) for c in given)
        if len(chunks) != len(dims) or any(c <= 0 for c in chunks):
            raise InvalidArrayError(
                f"chunk_shape {given} must give one positive size per dim {tuple(dims)}"
            )
        return chunks
    return default_chunks(dims, shape)


def _shards(
    dims: Sequence[str],
    shape: Sequence[int],
    chunks: Sequence[int],
    given: Sequence[int] | None,
) -> tuple[int, ...]:
    if given is None:
        return standard_shards(dims, shape, chunks)
    shards = tuple(int(s) for s in given)
    if len(shards) != len(dims) or any(s % c for s, c in zip(shards, chunks, strict=True)):
        raise InvalidArrayError(
            f"shard_shape {given} must give one size per dim {tuple(dims)}, each a multiple "
            f"of the inner chunk {tuple(chunks)}"
        )
    return shards


def _check_target(store: VsrStore, image_type: str, name: str, mode: str) -> bool:
    directory = layout.image_dir(store.local_path, image_type, name)
    exists = (directory / "zarr.json").exists()
    if exists and mode == "w-":
        hint = "mode='w-' refuses to replace it; use mode='w'"
        if read_write_marker(directory) is not None:
            hint = (
                "an earlier write of it did not finish (it is incomplete); mode='w-' refuses "
                "to replace it; use mode='w' or mode='a' to rewrite it"
            )
        raise TargetExistsError(directory, "image", hint)
    return exists


def _clear_image(directory: Path) -> None:
    """Delete an image's contents, keeping the in-progress marker (rewrite in place)."""
    for entry in directory.iterdir():
        if entry.name == WRITE_MARKER:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def write_dataarray(
    array: xr.DataArray,
    path: str | os.PathLike[str],
    *,
    image_type: str,
    name: str,
    mode: str = "w-",
    levels: int | Sequence[Sequence[int] | Mapping[str, int]] | None = None,
    shard_shape: Sequence[int] | None = None,
    chunk_shape: Sequence[int] | None = None,
    compressors: Any = None,
    attrs: Mapping[str, Any] | None = None,
    progress: bool = False,
    method: str = "mean",
) -> WriteReport:
    """Write a DataArray as a ``.vsr`` image (see ``DataArray.visor.to_vsr``).

    Every shard is committed atomically and the image carries an in-progress marker
    until the last level and its metadata are written (see the module documentation).

    Parameters
    ----------
    array : xarray.DataArray
        The data, with VISoR dims and coordinates.
    path : str or os.PathLike
        The ``.vsr`` sample (created if missing).
    image_type, name : str
        The image.
    mode : {"w-", "w", "a"}, default "w-"
        ``"w-"`` refuses an existing image; ``"w"`` and ``"a"`` replace it (and repair an
        interrupted one).
    levels : int or sequence, optional
        As for ``DataArray.visor.to_vsr``.
    shard_shape, chunk_shape : sequence of int, optional
        As for ``DataArray.visor.to_vsr``.
    compressors : zarr codec or sequence of codecs, optional
        As for ``DataArray.visor.to_vsr``: all levels. Default: blosc zstd 5 with
        shuffle for level 0, zstd at the ``pyramid_clevel`` option (2) for the others.
    attrs : mapping, optional
        As for ``DataArray.visor.to_vsr``.
    progress : bool, default False
        Show a progress bar.
    method : {"mean", "max", "min"}, default "mean"
        Downsampling of the pyramid.

    Returns
    -------
    WriteReport

    Raises
    ------
    TargetExistsError
        With ``mode="w-"`` when the image exists.
    WriteInProgressError
        When another live writer is writing the image.
    """
    if mode not in ("w-", "w", "a"):
        raise ValueError(f"mode must be 'w-', 'w' or 'a' for a whole-image write, got {mode!r}")
    started = time.perf_counter()
    array = canonical_order(array)
    dims = tuple(str(d) for d in array.dims)
    dtype = np.dtype(array.dtype)
    if dtype.kind not in "uif" or dtype.byteorder == ">":
        raise InvalidArrayError(f"cannot write dtype {dtype} (use a native integer or float type)")
    factors = level_factors(dims, image_type, levels)
    image_attrs = image_attrs_from_dataarray(
        array, name=name, factors=factors, visor_overrides=attrs
    )
    chunks = _inner_chunks(dims, array.shape, chunk_shape)
    shards = _shards(dims, array.shape, chunks, shard_shape)
    store = VsrStore(path, "a")
    directory = layout.image_dir(store.local_path, image_type, name)
    details = {"image_type": image_type, "name": name, "mode": mode, "levels": len(factors) + 1}
    # The marker makes an interrupted write detectable and refuses a second writer; every
    # shard is committed atomically (zarr_io.shard_stream), so a kill never truncates one.
    source = array.data if isinstance(array.data, da.Array) else None
    with image_write(
        directory,
        store.local_path,
        operation="write",
        details=details,
        precheck=lambda: _check_target(store, image_type, name, mode),
    ) as marker:
        plan = WritePlan(
            store=store,
            image_type=image_type,
            name=name,
            attrs=image_attrs,
            chunks=chunks,
            shards=shards,
            compressors=compressors,
            pyramid_compressors=pyramid_compressors(compressors),
            factors=tuple(tuple(int(f) for f in step) for step in factors),
            method=method,
            guard=(directory, marker["token"]),
            memory=task_memory(),
            cost=source_cost(source, array.encoding.get(TASK_BYTES_ENCODING, 0)),
        )
        # "w" and "a" on an existing image replace its levels with this data (metadata
        # included); the directory is emptied here (keeping the marker), not deleted.
        _clear_image(directory)
        with sample_lock(store.local_path):  # selected.json is read, modified and written
            store.create_image(image_type, name, image_attrs, "a")
        target = guard_writes(
            store.create_level(
                image_type,
                name,
                "0",
                shape=array.shape,
                dtype=dtype,
                chunk_shape=chunks,
                shard_shape=shards,
                compressors=compressors,
                attrs=image_attrs,
            ),
            directory,
            marker["token"],
        )
        blocks = plan.blocks(
            array.shape,
            shards,
            chunks,
            dtype.itemsize,
            source=source,
            multiple=plan.pyramid_multiple(),
        )
        if source is None:
            level0 = from_array(np.asarray(array.data), chunks=blocks)
        else:
            level0 = cast(Any, source).astype(dtype, copy=False).rechunk(blocks)
        # Coarser levels come from level 0's blocks while they are in memory (no read-back
        # of level 0), each level from the one before it, in one graph.
        with progress_bar(progress):
            level_reports = write_pyramid(
                plan, level0, pending=[stream_job(level0, target, guard=plan.guard)], stored=target
            )
    return WriteReport(
        path=store.local_path,
        image_type=image_type,
        name=name,
        levels=(LevelReport("0", tuple(array.shape), shards, chunks), *level_reports),
        predicted_peak_bytes=predicted_peak(
            blocks, dtype.itemsize, source, cost=plan.cost, pyramid=plan.factors
        ),
        seconds=time.perf_counter() - started,
        workers=write_workers(),
    )
