"""Pyramid levels: coarser levels computed from the level before them, and ``add_levels``.

During a whole-image write the coarser levels come from level 0's write blocks while they
are in memory (one dask graph for all levels, so level 0 is never read back); each level
is streamed into its shards block by block (:mod:`~visor_xarray.write.stream`).
:func:`add_levels` reads the coarsest stored level block by block, writes the new levels
first and lists them in the metadata last, so an interrupted run leaves the image as it
was.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import dask.array as da
import numpy as np

from visor_xarray import layout
from visor_xarray.options import OPTIONS
from visor_xarray.schema import Level
from visor_xarray.store import VsrStore
from visor_xarray.write.layouts import clip_shard
from visor_xarray.write.memory import SourceCost, predicted_peak, task_memory, write_workers
from visor_xarray.write.plan import WritePlan
from visor_xarray.write.pyramid import downsample, level_factors
from visor_xarray.write.remote import edit_remote_image
from visor_xarray.write.report import LevelReport, WriteReport
from visor_xarray.write.sources import from_array
from visor_xarray.write.stream import StreamJob, block_starts, run_streams, stream_job
from visor_xarray.zarr_io import SafeArray, default_compressor, guard_writes, image_write
from visor_xarray.zarr_io.remote_path import RemotePath, is_url, sample_path

__all__ = ["add_levels", "pyramid_compressors", "write_pyramid"]


def _level_shards(
    shard0: Sequence[int], cumulative: Sequence[int], chunks: Sequence[int], shape: Sequence[int]
) -> tuple[int, ...]:
    """Shard shape of a coarser level: the level-0 shard's footprint, in inner chunks."""
    out = []
    for s, f, c, n in zip(shard0, cumulative, chunks, shape, strict=True):
        size = max(c, -(-max(1, s // f) // c) * c)
        out.append(clip_shard(size, n, c) if n else size)
    return tuple(out)


def pyramid_compressors(compressors: Any) -> Any:
    """The compressors of levels 1.. : the caller's, else zstd at ``pyramid_clevel``."""
    clevel = OPTIONS["pyramid_clevel"]
    if compressors is not None or clevel is None:
        return compressors
    return default_compressor(clevel)


def _reduces_cleanly(
    data: da.Array, step: Sequence[int], chunks: Sequence[int], shards: Sequence[int]
) -> bool:
    """Whether ``data``'s blocks reduce by ``step`` into blocks the coarser level can write
    whole: multiples of its inner chunk that tile its shards, or divisors of the chunk
    (then a few whole reduced blocks make one write block).

    Otherwise reduced blocks straddle the coarser level's write blocks and dask keeps
    neighbours alive until all their parts are written.
    """
    for sizes, factor, chunk, shard in zip(data.chunks, step, chunks, shards, strict=True):
        if len(sizes) <= 1:
            continue
        first = int(sizes[0])
        if first % factor:
            return False
        reduced = first // factor
        whole = reduced % chunk == 0 and shard % reduced == 0
        if not whole and chunk % reduced:
            return False
    return True


def write_pyramid(
    plan: WritePlan,
    previous: da.Array,
    *,
    first_level: int = 1,
    pending: Sequence[StreamJob] = (),
    stored: SafeArray | None = None,
) -> list[LevelReport]:
    """Create and write the levels from ``first_level`` up, each from the one before it.

    ``previous`` is level ``first_level - 1``: the lazy data being written (whose own
    writes, ``pending``, join the same graph) or a stored level read block by block. A
    level is computed from the previous level's blocks in memory while they reduce into
    whole inner chunks of it (:func:`_reduces_cleanly`); otherwise the levels so far are
    written first and the level is computed from the stored previous level, read in
    blocks that do. Memory stays bounded by the blocks in flight either way.

    Parameters
    ----------
    plan : WritePlan
    previous : dask.array.Array
        Level ``first_level - 1``.
    first_level : int, default 1
    pending : sequence of StreamJob
        Writes to run with the first levels (e.g. level 0's).
    stored : SafeArray, optional
        Where level ``first_level - 1`` is stored (default: the target of the last
        pending write).

    Returns
    -------
    list of LevelReport
    """
    jobs = list(pending)
    reports = []
    cumulative = np.ones(len(plan.shards), dtype=np.int64)
    for step in plan.factors[: first_level - 1]:
        cumulative *= np.asarray(step)
    itemsize = np.dtype(previous.dtype).itemsize
    for level in range(first_level, len(plan.factors) + 1):
        step = plan.factors[level - 1]
        cumulative = cumulative * np.asarray(step)
        shape = tuple(-(-n // f) for n, f in zip(previous.shape, step, strict=True))
        shards = _level_shards(plan.shards, cumulative.tolist(), plan.chunks, shape)
        chunks = tuple(min(c, s) for c, s in zip(plan.chunks, shards, strict=True))
        if not _reduces_cleanly(previous, step, chunks, shards) and stored is not None:
            # read the stored level back in the footprints of this level's write blocks
            run_streams(jobs)
            jobs = []
            # sized by their footprints, the blocks read (a block of this level reads
            # prod(step) times its size from the level before)
            wanted = plan.blocks(shape, shards, chunks, itemsize * int(np.prod(step)))
            footprints = tuple(
                tuple(min(int(n) * f, size - start * f) for n, start in block_starts(sizes))
                for sizes, f, size in zip(wanted, step, stored.shape, strict=True)
            )
            previous = from_array(stored, chunks=footprints)
        target = plan.store.create_level(
            plan.image_type,
            plan.name,
            str(level),
            shape=shape,
            dtype=previous.dtype,
            chunk_shape=chunks,
            shard_shape=shards,
            compressors=plan.pyramid_compressors,
            attrs=plan.attrs,
            overwrite=True,
        )
        if plan.guard is not None:
            target = guard_writes(target, *plan.guard)
        reduced = downsample(previous, step, plan.method)
        blocks = plan.blocks(shape, shards, chunks, itemsize, source=reduced)
        previous = reduced.rechunk(blocks)  # type: ignore[no-untyped-call]
        jobs.append(stream_job(previous, target, guard=plan.guard))
        stored = target
        reports.append(LevelReport(str(level), shape, shards, chunks))
    run_streams(jobs)
    return reports


def add_levels(
    path: str | os.PathLike[str],
    *,
    image_type: str,
    name: str,
    levels: int | Sequence[Sequence[int] | Mapping[str, int]],
    method: str = "mean",
    compressors: Any = None,
    storage_options: Mapping[str, Any] | None = None,
) -> WriteReport:
    """Add coarser levels to an existing image without rewriting the levels it has.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.vsr`` sample.
    image_type, name : str
        The image.
    levels : int or sequence
        An int ``N``: make the image have ``N`` levels in total (default factors);
        a sequence: the relative factors of each *new* level.
    method : {"mean", "max", "min"}
    compressors : zarr codec, optional
        Default: blosc zstd with shuffle at the ``pyramid_clevel`` option (2).
    storage_options : mapping, optional
        For a sample at a URL (``s3://``), whose image is changed through a local copy
        (:func:`~visor_xarray.write.remote.edit_remote_image`; docs/remote.md).

    Returns
    -------
    WriteReport
        The levels added.
    """
    target = sample_path(path, storage_options if is_url(path) else None)
    if isinstance(target, RemotePath):
        add = functools.partial(
            add_levels,
            image_type=image_type,
            name=name,
            levels=levels,
            method=method,
            compressors=compressors,
        )
        return edit_remote_image(target, image_type, name, "add_levels", add)
    started = time.perf_counter()
    store = VsrStore(target, "r+")
    attrs = store.image_attrs(image_type, name)
    multiscale = attrs.multiscale
    existing = len(multiscale.levels)
    dims = multiscale.dims
    if isinstance(levels, int) and not isinstance(levels, bool):
        new = level_factors(dims, image_type, levels)[existing - 1 :] if levels > existing else []
    else:
        new = level_factors(dims, image_type, levels)
    if not new:
        return WriteReport(
            store.local_path,
            image_type,
            name,
            (),
            0,
            time.perf_counter() - started,
            write_workers(),
        )
    old_scales = [np.asarray(level.scale) for level in multiscale.levels]
    relative = [
        tuple(round(float(v)) for v in old_scales[i] / old_scales[i - 1])
        for i in range(1, existing)
    ]
    all_factors = [*relative, *new]
    cumulative = old_scales[-1].copy()
    added = []
    for index, step in enumerate(new, start=existing):
        cumulative = cumulative * np.asarray(step)
        added.append(
            Level(
                path=str(index),
                scale=tuple(float(v) for v in cumulative),
                translation=tuple(float(v) for v in (cumulative - 1) / 2),
            )
        )
    updated = replace(
        attrs,
        ome=replace(
            attrs.ome,
            multiscales=(
                replace(multiscale, levels=(*multiscale.levels, *added)),
                *attrs.ome.multiscales[1:],
            ),
        ),
    )
    store.image_dir(image_type, name)  # it must exist
    directory = layout.image_dir(store.local_path, image_type, name)
    details = {"image_type": image_type, "name": name, "levels": existing + len(new)}
    with image_write(
        directory, store.local_path, operation="add_levels", details=details
    ) as marker:
        last = store.level_array(image_type, name, multiscale.level_paths[-1], attrs=attrs)
        level0 = store.level_array(image_type, name, multiscale.level_paths[0], attrs=attrs)
        shard0 = tuple(int(s) for s in (level0.shards or level0.chunks))
        plan = WritePlan(
            store=store,
            image_type=image_type,
            name=name,
            attrs=updated,
            chunks=tuple(int(c) for c in level0.chunks),
            shards=shard0,
            compressors=compressors,
            pyramid_compressors=pyramid_compressors(compressors),
            factors=tuple(tuple(int(f) for f in step) for step in all_factors),
            method=method,
            guard=(directory, marker["token"]),
            memory=task_memory(),
            # the stored level is read block by block: every block read is new memory
            cost=SourceCost(allocates=True),
        )
        itemsize = np.dtype(last.dtype).itemsize
        last_shards = tuple(int(s) for s in (last.shards or last.chunks))
        blocks = plan.blocks(
            last.shape,
            last_shards,
            last.chunks,
            itemsize,
            multiple=plan.pyramid_multiple(existing),
        )
        # New levels first, metadata last: a killed run leaves the image as it was (plus
        # unlisted level arrays that the next run overwrites). The first new level reads
        # the coarsest stored one block by block.
        reports = write_pyramid(
            plan, from_array(last, chunks=blocks), first_level=existing, stored=last
        )
        store.write_image_attrs(image_type, name, updated)
    return WriteReport(
        store.local_path,
        image_type,
        name,
        tuple(reports),
        predicted_peak(blocks, itemsize, cost=plan.cost, pyramid=new),
        time.perf_counter() - started,
        write_workers(),
    )
