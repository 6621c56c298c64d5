"""Pyramid levels: coarser levels computed from the level before them, and ``add_levels``.

During a whole-image write the coarser levels come from level 0's shard-sized blocks
while they are in memory (one dask graph for all levels, so level 0 is never read back).
:func:`add_levels` reads the coarsest stored level in pieces of one output shard's
footprint, writes the new levels first and lists them in the metadata last, so an
interrupted run leaves the image as it was.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import zarr

from visor_xarray.options import OPTIONS
from visor_xarray.schema import ImageAttrs
from visor_xarray.store import VsrStore
from visor_xarray.write.pyramid import downsample, level_factors
from visor_xarray.write.report import LevelReport, WriteReport, _workers, predicted_peak
from visor_xarray.write.shards import _from_array, _store_shards
from visor_xarray.zarr_io import default_compressor, guard_writes, image_write

__all__ = ["add_levels"]


def _level_shards(
    shard0: Sequence[int], cumulative: Sequence[int], chunks: Sequence[int], shape: Sequence[int]
) -> tuple[int, ...]:
    """Shard shape of a coarser level: the level-0 shard's footprint, in inner chunks."""
    out = []
    for s, f, c, n in zip(shard0, cumulative, chunks, shape, strict=True):
        size = max(c, -(-max(1, s // f) // c) * c)
        out.append(min(size, -(-n // c) * c) if n else size)
    return tuple(out)


def _pyramid_compressors(compressors: Any) -> Any:
    """The compressors of levels 1.. : the caller's, else zstd at ``pyramid_clevel``."""
    clevel = OPTIONS["pyramid_clevel"]
    if compressors is not None or clevel is None:
        return compressors
    return default_compressor(clevel)


def _streams(data: da.Array, step: Sequence[int], shards: Sequence[int]) -> bool:
    """Whether the level computed from ``data``'s blocks fills its shards block by block.

    It does when, along every axis cut into several blocks, the blocks are a multiple
    of the factor and the reduced blocks either tile the shards or are tiled by them.
    Otherwise a shard needs parts of two blocks, dask keeps the blocks alive until their
    last part is written, and memory grows with the number of shards.
    """
    for chunks, factor, shard in zip(data.chunks, step, shards, strict=True):
        if len(chunks) <= 1:
            continue
        if chunks[0] % factor:
            return False
        reduced = chunks[0] // factor
        if shard % reduced and reduced % shard:
            return False
    return True


def _write_pyramid(
    store: VsrStore,
    image_type: str,
    name: str,
    image_attrs: ImageAttrs,
    base: da.Array | zarr.Array[Any],
    pending: Sequence[tuple[da.Array, zarr.Array[Any]]],
    factors: Sequence[Sequence[int]],
    shard0: Sequence[int],
    chunks: Sequence[int],
    compressors: Any,
    method: str,
    first_level: int = 1,
    guard: tuple[Path, str] | None = None,
) -> list[LevelReport]:
    """Create and write the coarser levels, each computed from the level before it.

    ``base`` is level ``first_level - 1``: lazy data (the level-0 source being written,
    whose own ``pending`` write joins the first batch) or a stored level, read back in
    pieces of one new shard's footprint. A level is computed from the previous level's
    blocks in memory, in the same dask graph, while its shard grid nests with those
    blocks (:func:`_streams`); otherwise the levels so far are written first and the
    level is computed from the stored previous level, so memory stays bounded by the
    shards in flight either way. ``guard`` (image directory, marker token) stops shard
    commits once the write fails. Returns the level reports.
    """
    batch = list(pending)
    reports = []
    compressors = _pyramid_compressors(compressors)
    cumulative = np.ones(len(shard0), dtype=np.int64)
    for offset in range(first_level - 1):
        cumulative *= np.asarray(factors[offset])
    previous: Any = base
    # where the previous level is stored, to read it back when its blocks do not nest
    stored: zarr.Array[Any] | None = (
        base if not isinstance(base, da.Array) else (batch[-1][1] if batch else None)
    )
    for level in range(first_level, len(factors) + 1):
        step = factors[level - 1]
        cumulative = cumulative * np.asarray(step)
        shape = tuple(-(-n // f) for n, f in zip(previous.shape, step, strict=True))
        shards = _level_shards(shard0, cumulative.tolist(), chunks, shape)
        level_chunks = tuple(min(c, s) for c, s in zip(chunks, shards, strict=True))
        reread = not isinstance(previous, da.Array) or not _streams(previous, step, shards)
        if reread and stored is not None:
            if batch:
                _store_shards(batch)
            batch = []
            footprint = tuple(s * f for s, f in zip(shards, step, strict=True))
            previous = _from_array(stored, chunks=footprint)
        target = store.create_level(
            image_type,
            name,
            str(level),
            shape=shape,
            dtype=previous.dtype,
            chunk_shape=level_chunks,
            shard_shape=shards,
            compressors=compressors,
            attrs=image_attrs,
            overwrite=True,
        )
        if guard is not None:
            target = guard_writes(target, *guard)
        previous = downsample(previous, step, method)
        batch.append((previous, target))
        stored = target
        reports.append(LevelReport(str(level), shape, shards, level_chunks))
    if batch:
        _store_shards(batch)
    return reports


def add_levels(
    path: str | os.PathLike[str],
    *,
    image_type: str,
    name: str,
    levels: int | Sequence[Sequence[int] | Mapping[str, int]],
    method: str = "mean",
    compressors: Any = None,
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

    Returns
    -------
    WriteReport
        The levels added.
    """
    started = time.perf_counter()
    store = VsrStore(Path(path), "r+")
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
            store.path, image_type, name, (), 0, time.perf_counter() - started, _workers()
        )
    old_scales = [np.asarray(level.scale) for level in multiscale.levels]
    relative = [
        tuple(round(float(v)) for v in old_scales[i] / old_scales[i - 1])
        for i in range(1, existing)
    ]
    all_factors = [*relative, *new]
    from dataclasses import replace

    from visor_xarray.schema import Level

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
    directory = store.image_dir(image_type, name)
    details = {"image_type": image_type, "name": name, "levels": existing + len(new)}
    with image_write(directory, store.path, operation="add_levels", details=details) as marker:
        last = store.level_array(
            image_type, name, multiscale.level_paths[-1], writable=True, attrs=attrs
        )
        level0 = store.level_array(image_type, name, multiscale.level_paths[0], attrs=attrs)
        shard0 = level0.shards or level0.chunks
        # New levels first, metadata last: a killed run leaves the image as it was (plus
        # unlisted level arrays that the next run overwrites). The first new level reads
        # the coarsest stored one in pieces of one new shard's footprint.
        reports = _write_pyramid(
            store,
            image_type,
            name,
            updated,
            last,
            [],
            all_factors,
            shard0,
            level0.chunks,
            compressors,
            method,
            first_level=existing,
            guard=(directory, marker["token"]),
        )
        store.write_image_attrs(image_type, name, updated)
    itemsize = np.dtype(level0.dtype).itemsize
    return WriteReport(
        store.path,
        image_type,
        name,
        tuple(reports),
        predicted_peak(shard0, itemsize, _workers()),
        time.perf_counter() - started,
        _workers(),
    )
