""":func:`copy_sample`: copy a whole sample, or some of its images and levels, re-encoding
where asked and converting the legacy layout to the current one.

Everything that can be refused is checked before the destination is touched. The copy
then holds the destination's in-progress marker (``{dst}/.visor-write.json``, the same
mechanism as image writes, docs/reliability.md) from before its first byte to after its
last, so an interrupted copy leaves a sample that ``validate`` reports as incomplete and
that readers warn about, until the copy is repeated with ``overwrite=True``. Files are
copied into temporary siblings and renamed, and re-encoded shards are committed
atomically by the writer's arrays, so no file is ever left truncated.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
from dask.delayed import delayed

from visor_xarray import layout
from visor_xarray.convert.destination import (
    check_destination,
    clear_destination,
    refuse_overlap,
)
from visor_xarray.convert.encoding import (
    ShapeSpec,
    check_compressors,
    check_shape_spec,
)
from visor_xarray.convert.files import batches, copy_files
from visor_xarray.convert.plan import ImagePlan, plan_image, sample_files
from visor_xarray.convert.remote_copy import copy_through_staging
from visor_xarray.convert.report import CopyReport
from visor_xarray.convert.selection import ImageSpec, LevelSpec, resolve_images
from visor_xarray.errors import (
    IncompleteError,
    NotAVsrError,
    UnknownLevelError,
)
from visor_xarray.progress import progress_bar
from visor_xarray.schema import Selection
from visor_xarray.store import VsrStore
from visor_xarray.write.memory import block_budget, task_memory
from visor_xarray.write.stream import (
    StreamJob,
    block_shape,
    run_streams,
    stream_job,
    streamable_chunks,
)
from visor_xarray.zarr_io import (
    image_write,
    marker_is_stale,
    read_json,
    read_write_marker,
    write_json_atomic,
)
from visor_xarray.zarr_io.remote_path import RemotePath, is_url, sample_path

__all__ = ["CopyReport", "copy_sample"]


def _grid(shape: Sequence[int], shards: Sequence[int]) -> tuple[tuple[int, ...], ...]:
    grid = []
    for size, shard in zip(shape, shards, strict=True):
        pieces = [shard] * (size // shard) + ([size % shard] if size % shard else [])
        grid.append(tuple(pieces) or (0,))
    return tuple(grid)


def _selection(store: VsrStore, pairs: Iterable[tuple[str, str]], whole: bool) -> Selection | None:
    """``selected.json`` of the copy: None to copy the source's as it is (whole sample, no
    legacy ``path`` keys), else the entries of the raw images copied (``name`` keys)."""
    selection = store.selection()  # parsed (and checked) whether or not it is rewritten
    file = store.selection_file()
    if whole and file.is_file():
        entries = read_json(file)
        legacy = isinstance(entries, list) and any(
            isinstance(entry, dict) and "name" not in entry for entry in entries
        )
        if not legacy:
            return None
    raw = {name for kind, name in pairs if kind == layout.RAW} if not whole else None
    kept = tuple(image for image in selection.images if raw is None or image.name in raw)
    return Selection(images=kept, placeholder=selection.placeholder)


def _reencode(
    store: VsrStore, target: VsrStore, plan: ImagePlan, guard: tuple[Path, str]
) -> tuple[list[StreamJob], int]:
    """Create the plan's levels in the destination; return their streamed writes."""
    jobs, shards = [], 0
    budget = block_budget(task_memory())
    for level in plan.levels:
        source = store.level_array(plan.image_type, plan.name, level, attrs=plan.source_attrs)
        chosen = plan.encodings[level]
        array = target.create_level(
            plan.image_type,
            plan.name,
            level,
            shape=source.shape,
            dtype=source.dtype,
            chunk_shape=chosen.chunk_shape,
            shard_shape=chosen.shard_shape,
            compressors=chosen.compressors,
            attrs=plan.attrs,
            overwrite=True,
            fill_value=source.fill_value if source.fill_value is not None else 0,
        )
        # write blocks of whole destination chunks, each reading just its region of the
        # source: memory stays bounded by the blocks in flight, whatever the shard size
        itemsize = np.dtype(source.dtype).itemsize
        block = block_shape(
            source.shape, chosen.shard_shape, [chosen.chunk_shape], itemsize, budget
        )
        blocks = streamable_chunks([0] * source.ndim, source.shape, chosen.shard_shape, block)
        data = da.from_array(  # type: ignore[no-untyped-call]
            source, chunks=blocks, name=False, meta=np.empty((0,) * source.ndim, source.dtype)
        )
        jobs.append(stream_job(data, array, guard=guard))
        shards += math.prod(len(c) for c in _grid(source.shape, chosen.shard_shape))
    return jobs, shards


def _copy(
    store: VsrStore,
    destination: Path,
    token: str,
    plans: list[ImagePlan],
    others: list[tuple[Path, Path]],
    selection: Selection | None,
    progress: bool,
) -> tuple[int, int]:
    """Write the copy (the destination is empty and its marker ours)."""
    # info.json and selected.json first: they make the destination a sample that opens
    # (even when the copy is interrupted), and the store needs one to create levels
    early = [(s, t) for s, t in others if s == store.local_path / "info.json"]
    copy_files(early, destination, token)
    selected = layout.image_type_dir(destination, layout.RAW) / "selected.json"
    if selection is None:
        source_selected = layout.image_type_dir(store.local_path, layout.RAW) / "selected.json"
        copy_files([(source_selected, selected)], destination, token)
    else:
        write_json_atomic(selected, selection.to_json())
    target = VsrStore(destination, "r+", warn_legacy=False)
    jobs: list[StreamJob] = []
    shards = 0
    pairs = [pair for pair in others if pair not in early]
    for plan in plans:
        if plan.document is None:
            copy_files(
                [(plan.source / "zarr.json", plan.target / "zarr.json")], destination, token
            )
        else:
            write_json_atomic(plan.target / "zarr.json", plan.document)
        if plan.reencode:
            level_jobs, count = _reencode(store, target, plan, (destination, token))
            jobs.extend(level_jobs)
            shards += count
        pairs.extend(plan.files)
    copy = delayed(copy_files, pure=False)
    copies = [copy(batch, destination, token) for batch in batches(pairs)]
    with progress_bar(progress):
        results = run_streams(jobs, copies)
    copied = sum(int(r) for r in results if isinstance(r, int))
    return shards, copied


def copy_sample(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    images: ImageSpec | Iterable[ImageSpec] | None = None,
    levels: LevelSpec | None = None,
    shard_shape: ShapeSpec | None = None,
    chunk_shape: ShapeSpec | None = None,
    compressors: Any = None,
    overwrite: bool = False,
    progress: bool = False,
    storage_options: Mapping[str, Any] | None = None,
) -> CopyReport:
    """Copy a sample, or some of its images and levels, to a new ``.vsr`` directory.

    The copy carries ``info.json``, ``selected.json`` (limited to the raw images copied),
    every transform version with every file in it (``recon.json``, ``transforms.json``
    and transform files of any type and format, whether this library can interpret them
    or not) and every other file of the sample. Levels are copied byte for byte unless a
    new encoding is asked for; samples in the legacy layout of visor-py 2024.12.x are
    converted to the current one (schema v2025.6.1, sharded Zarr v3). The source is only
    read.

    Parameters
    ----------
    src : str or os.PathLike
        The source sample (either layout); a URL (``s3://...``) downloads it.
    dst : str or os.PathLike
        The new sample (a path ending in ``.vsr``; parent directories are created); a URL
        (``s3://...``) uploads the copy.
    images : str, (type, name) or iterable of them, optional
        Images to copy, as ``"TYPE/NAME"``, ``(type, name)``, or a name only one image type
        holds. Default: every image.
    levels : int or sequence of int or str, optional
        An int ``N`` copies the ``N`` finest levels of each image (all of an image that
        has fewer); a sequence copies those level paths, each image those it has. The OME
        ``datasets`` of each image list exactly the levels copied, with their paths and
        scales unchanged. Default: every level.
    shard_shape, chunk_shape : sequence of int or mapping, optional
        Re-encode with this shard / inner chunk shape: sizes of the last dims (``(z, y,
        x)`` fits raw and reconstructed images alike), or ``{"z": 64, ...}``. Dims not
        given keep the source's sizes; a shard is clipped to its level's extent.
    compressors : zarr codec or sequence of codecs, optional
        Re-encode with these compressors (every level of every image), e.g.
        ``zarr.codecs.BloscCodec(cname="zstd", clevel=3, shuffle="shuffle")``.
        Default: the source's.
    overwrite : bool, default False
        Replace ``dst`` if it exists (it must be a sample, or a copy that did not finish).
    progress : bool, default False
        Show dask's progress bar on stderr.
    storage_options : mapping, optional
        For a remote end: ``key``, ``secret``, ``token``, ``endpoint_url``, ``region``,
        ``anon``, ``client_kwargs`` (docs/remote.md). A copy with a remote end is staged
        in a local directory (:mod:`visor_xarray.convert.remote_copy`).

    Returns
    -------
    CopyReport

    Raises
    ------
    NotAVsrError
        If ``src`` is missing or not a sample, or ``dst`` does not end in ``.vsr``.
    TargetExistsError
        If ``dst`` exists and ``overwrite`` is False, is not a sample, or overlaps ``src``.
    UnknownImageError, UnknownLevelError
        For images the source does not have, a level path no image copied has, or an
        image that has none of the levels asked for (the message lists the choices).
    InvalidArrayError
        For malformed shapes or compressors, or a shard that is not a multiple of the
        inner chunk.
    IncompleteError
        If the source, or an image copied, holds the marker of an interrupted write.
    WriteInProgressError
        If another copy into ``dst`` is running.

    Notes
    -----
    Memory stays bounded: files are copied 1 MiB at a time, and a re-encoded level is
    written one destination shard per task (each reading only that region of the source),
    so the peak is about the dask workers times a shard. Hidden entries (this library's
    locks, markers, scratch directories and temporary files, and the Zarr v2 documents a
    conversion replaces) and level arrays an image does not list are not copied.

    Examples
    --------
    >>> import visor_xarray as vx
    >>> report = vx.copy_sample("OLD.vsr", "NEW.vsr")                  # doctest: +SKIP
    >>> vx.copy_sample("S.vsr", "S_zstd3.vsr", levels=[0],              # doctest: +SKIP
    ...                compressors=zarr.codecs.BloscCodec(cname="zstd", clevel=3))
    """
    # the options are those of the remote end(s)
    source_place = sample_path(src, storage_options if is_url(src) else None)
    target_place = sample_path(dst, storage_options if is_url(dst) else None)
    if isinstance(source_place, RemotePath) or isinstance(target_place, RemotePath):
        return copy_through_staging(
            source_place,
            target_place,
            functools.partial(
                copy_sample,
                images=images,
                levels=levels,
                shard_shape=shard_shape,
                chunk_shape=chunk_shape,
                compressors=compressors,
                overwrite=overwrite,
                progress=progress,
            ),
            overwrite=overwrite,
        )
    started = time.perf_counter()
    source, destination = Path(src), Path(dst)
    check_shape_spec(shard_shape, "shard_shape")
    check_shape_spec(chunk_shape, "chunk_shape")
    check_compressors(compressors)
    if destination.suffix != ".vsr":
        raise NotAVsrError(destination, "the destination must end in .vsr (a sample directory)")
    if source.is_dir() and read_write_marker(source) is not None:
        marker = read_write_marker(source) or {}
        state = "was interrupted" if marker_is_stale(marker) else "is in progress"
        raise IncompleteError(
            source,
            f"a copy into this sample ({marker.get('operation', '?')}) {state}, so it may be "
            "incomplete; repeat that copy with overwrite=True first",
        )
    store = VsrStore(source, "r", warn_legacy=False)
    refuse_overlap(store.local_path, destination)
    check_destination(destination, overwrite)
    chosen = resolve_images(store, images)
    plans = [
        plan_image(
            store,
            destination,
            kind,
            name,
            levels,
            shard_shape=shard_shape,
            chunk_shape=chunk_shape,
            compressors=compressors,
        )
        for kind, name in chosen
    ]
    if levels is not None and not isinstance(levels, int):
        have = sorted(
            {level for plan in plans for level in plan.source_attrs.multiscale.level_paths}
        )
        for level in (str(level) for level in levels):
            if plans and level not in have:
                raise UnknownLevelError(store.path, "resolution level", level, have)
    others = sample_files(store, destination)
    selection = _selection(store, chosen, images is None)
    notes = [
        f"{plan.label} level {level}: {encoding.note}"
        for plan in plans
        for level, encoding in plan.encodings.items()
        if encoding.note is not None
    ]

    created = not destination.exists()
    destination.mkdir(parents=True, exist_ok=True)
    begun = False
    try:
        with image_write(
            destination,
            destination,
            operation="copy_sample",
            details={"source": str(store.path)},
            precheck=lambda: check_destination(destination, overwrite),
        ) as marker:
            begun = True
            clear_destination(destination)
            shards, copied = _copy(
                store, destination, marker["token"], plans, others, selection, progress
            )
    except BaseException:
        if created and not begun:  # refused before anything was written: leave no trace
            shutil.rmtree(destination, ignore_errors=True)
        raise
    byte_levels = sum(len(p.levels) for p in plans if not p.reencode)
    files = len(others) + sum(len(p.files) + (p.document is None) for p in plans)
    return CopyReport(
        source=store.local_path,
        path=destination,
        images=tuple(p.label for p in plans),
        converted=tuple(p.label for p in plans if p.legacy),
        levels_copied=byte_levels,
        levels_reencoded=sum(len(p.levels) for p in plans if p.reencode),
        shards_written=shards,
        files_copied=files,
        bytes_copied=copied,
        seconds=time.perf_counter() - started,
        notes=tuple(notes),
    )
