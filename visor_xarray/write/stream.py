"""Writing dask arrays into level arrays, shard by shard, in bounded memory.

The data are cut into *write blocks*: boxes of whole inner chunks inside one shard, sized
by the write memory budget. Each block is encoded and appended to its shard's staging file
by one task, and each shard is then finished (index written, staging file renamed onto the
shard key) by one task that depends only on its own blocks' small records
(:mod:`visor_xarray.zarr_io.shard_stream`). Memory is bounded by the blocks in flight,
whatever the shard size: VISoR's standard 28 GB raw shards are written like small ones.

Building the graph does no per-block work (two ``map_blocks`` layers and a regrouping of
the per-block records by shard), and a pyramid's levels join the same graph, each level
computed from the blocks of the level before it while they are in memory.
"""

from __future__ import annotations

import itertools
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import numpy.typing as npt
from dask.base import compute
from dask.delayed import delayed

from visor_xarray.chunking import grow_chunks
from visor_xarray.write.memory import write_workers
from visor_xarray.zarr_io import SafeArray
from visor_xarray.zarr_io.markers import give_up_write
from visor_xarray.zarr_io.shard_stream import (
    ShardTarget,
    append_block,
    create_staging,
    finish_shard,
    remove_staging,
    shard_target,
)

__all__ = [
    "StreamJob",
    "block_shape",
    "block_starts",
    "conforming_blocks",
    "run_streams",
    "stream_job",
    "streamable_chunks",
]


def conforming_blocks(
    source_chunks: Sequence[Sequence[int]], inner: Sequence[int], shard: Sequence[int]
) -> tuple[int, ...] | None:
    """A dask source's block shape when its blocks are whole inner chunks within a shard.

    Parameters
    ----------
    source_chunks : sequence of sequence of int
        The source's dask chunks.
    inner, shard : sequence of int
        Inner chunk and shard shapes.

    Returns
    -------
    tuple of int or None
        The (regular) block shape, or None if the blocks are irregular or cut chunks.
    """
    found = []
    for sizes, chunk, outer in zip(source_chunks, inner, shard, strict=True):
        first = int(sizes[0])
        regular = all(int(n) == first for n in sizes[:-1])
        if len(sizes) == 1:
            if first > outer:
                return None
            found.append(first)  # one block along the axis: from the start to the end
            continue
        if not regular or first % chunk or outer % first:
            return None  # blocks cut inner chunks or straddle shards
        found.append(first)
    return tuple(found)


def block_shape(
    shape: Sequence[int],
    shard: Sequence[int],
    bases: Sequence[Sequence[int]],
    itemsize: int,
    budget: int,
) -> tuple[int, ...]:
    """The write block: whole inner chunks, inside one shard, at most ``budget`` bytes.

    The block grows from the first of ``bases`` that fits the budget (the last base,
    the inner chunk, is used in any case), in multiples of it, last axis first, never
    across a shard.

    Parameters
    ----------
    shape, shard : sequence of int
        Array and shard shapes.
    bases : sequence of sequence of int
        Smallest blocks, in order of preference (multiples of the inner chunk).
    itemsize : int
        Bytes per element.
    budget : int
        Decoded bytes of one write block.

    Returns
    -------
    tuple of int
    """
    chosen = [int(c) for c in bases[-1]]
    for base in bases:
        clipped = [min(int(b), int(n)) for b, n in zip(base, shape, strict=True)]
        fits_shard = all(int(b) <= int(s) for b, s in zip(base, shard, strict=True))
        if fits_shard and math.prod(clipped) * itemsize <= budget:
            chosen = [int(b) for b in base]
            break
    # sizes grow in whole inner chunks up to the shard: a block cut at the data's end is
    # cut by the block edges (streamable_chunks), not by its shape
    inner = bases[-1]
    whole = [-(-int(n) // int(c)) * int(c) for n, c in zip(shape, inner, strict=True)]
    return grow_chunks(chosen, shard, whole, itemsize, budget)


def _boundaries(start: int, size: int, shard: int, block: int) -> list[int]:
    """Block edges of ``[start, start + size)``: every ``block`` within each shard."""
    edges = [start]
    end = start + size
    position = start
    while position < end:
        shard_start = (position // shard) * shard
        step = ((position - shard_start) // block + 1) * block
        position = min(shard_start + step, shard_start + shard, end)
        edges.append(position)
    return edges


def block_starts(sizes: Sequence[int]) -> list[tuple[int, int]]:
    """``(size, start)`` of consecutive blocks of sizes ``sizes``.

    Parameters
    ----------
    sizes : sequence of int

    Returns
    -------
    list of (int, int)
    """
    out, start = [], 0
    for size in sizes:
        out.append((int(size), start))
        start += int(size)
    return out


def streamable_chunks(
    origin: Sequence[int], shape: Sequence[int], shard: Sequence[int], block: Sequence[int]
) -> tuple[tuple[int, ...], ...]:
    """Dask chunks for data placed at ``origin`` that cut it into write blocks.

    Parameters
    ----------
    origin : sequence of int
        Where the data start in the array (on the inner chunk grid).
    shape : sequence of int
        The data's shape.
    shard, block : sequence of int
        Shard and write block shapes.

    Returns
    -------
    tuple of tuple of int
    """
    return tuple(
        tuple(int(b - a) for a, b in itertools.pairwise(edges)) or (0,)
        for edges in (
            _boundaries(int(o), int(n), int(s), int(b))
            for o, n, s, b in zip(origin, shape, shard, block, strict=True)
        )
    )


@dataclass(frozen=True, eq=False)
class _Placement:
    """Where a block of the streamed data starts in the array (one graph node)."""

    target: ShardTarget
    edges: tuple[npt.NDArray[np.int64], ...]
    keep_untouched: bool
    encoders: int

    def start(self, block_id: Sequence[int]) -> tuple[int, ...]:
        return tuple(int(self.edges[a][i]) for a, i in enumerate(block_id))


def _append(
    block: npt.NDArray[Any], placement: _Placement, block_id: Sequence[int] | None = None
) -> npt.NDArray[Any]:
    assert block_id is not None
    shard, records = append_block(
        placement.target, placement.start(block_id), block, placement.encoders
    )
    out = np.empty((1,) * block.ndim, dtype=object)
    out.flat[0] = (shard, records)
    return out


def _finish(group: npt.NDArray[Any], placement: _Placement) -> npt.NDArray[np.int64]:
    shards = {entry[0] for entry in group.flat}
    assert len(shards) == 1, "a group of write blocks spans several shards"
    records = [record for entry in group.flat for record in entry[1]]
    written = finish_shard(
        placement.target,
        shards.pop(),
        records,
        keep_untouched=placement.keep_untouched,
    )
    return np.full((1,) * group.ndim, written, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class StreamJob:
    """One streamed write: its lazy result (bytes per shard) and its staging target."""

    result: da.Array
    target: ShardTarget


def stream_job(
    data: da.Array,
    array: SafeArray,
    *,
    origin: Sequence[int] | None = None,
    guard: tuple[Path, str] | None = None,
    keep_untouched: bool = False,
) -> StreamJob:
    """Lazily stream ``data`` into ``array`` (or a region of it starting at ``origin``).

    Parameters
    ----------
    data : dask.array.Array
        Chunked by :func:`streamable_chunks`; ``origin`` on the inner chunk grid.
    array : SafeArray
        A sharded level array on a local store.
    origin : sequence of int, optional
        Where ``data`` starts (default: the array's origin).
    guard : tuple, optional
        ``(image directory, marker token)``: shards are committed only while the marker
        still names this write.
    keep_untouched : bool, default False
        Keep the stored chunks the data do not cover (region writes).

    Returns
    -------
    StreamJob
    """
    directory = array.store_path.store.root / array.store_path.path  # type: ignore[attr-defined]
    target = shard_target(
        Path(directory),
        array.metadata,
        f"{uuid.uuid4().hex[:12]}",
        guard,
    )
    first = [0] * data.ndim if origin is None else [int(o) for o in origin]
    edges = tuple(
        np.concatenate([[o], o + np.cumsum(c)]).astype(np.int64)
        for o, c in zip(first, data.chunks, strict=True)
    )
    placement = delayed(
        _Placement(target, edges, keep_untouched, write_workers()),
        name=f"write-placement-{target.token}",
        traverse=False,
    )
    meta = np.empty((0,) * data.ndim, dtype=object)
    records = da.map_blocks(  # type: ignore[no-untyped-call]
        _append,
        data,
        placement,
        name=f"write-blocks-{target.token}",
        dtype=object,
        meta=meta,
        chunks=tuple((1,) * len(c) for c in data.chunks),
    )
    shard = [int(s) for s in target.geometry.shard_shape]
    groups = []
    for axis, axis_edges in enumerate(edges):
        owners = axis_edges[:-1] // shard[axis]
        _, counts = np.unique(owners, return_counts=True)
        groups.append(tuple(int(n) for n in counts) or (0,))
    per_shard = records.rechunk(tuple(groups))
    result = da.map_blocks(  # type: ignore[no-untyped-call]
        _finish,
        per_shard,
        placement,
        name=f"write-shards-{target.token}",
        dtype=np.int64,
        meta=np.empty((0,) * data.ndim, dtype=np.int64),
        chunks=tuple((1,) * len(c) for c in per_shard.chunks),
    )
    return StreamJob(result, target)


def run_streams(jobs: Sequence[StreamJob], others: Sequence[Any] = ()) -> tuple[Any, ...]:
    """Compute streamed writes together, with ``others`` in the same graph.

    Staging files are removed whether the writes succeed or fail.

    Parameters
    ----------
    jobs : sequence of StreamJob
    others : sequence of dask collections
        Computed with the writes (e.g. file copies of the same operation).

    Returns
    -------
    tuple
        The results of ``others``.
    """
    for job in jobs:
        create_staging(job.target)
    try:
        results = compute(  # type: ignore[no-untyped-call]
            *(job.result for job in jobs), *others
        )
    except BaseException:
        # tasks of this write may still be running: none may commit from here on
        for job in jobs:
            if job.target.guard is not None:
                give_up_write(Path(job.target.guard[0]), job.target.guard[1])
        raise
    finally:
        for job in jobs:
            remove_staging(job.target)
    return tuple(results[len(jobs) :])
