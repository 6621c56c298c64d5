"""What a write holds in memory: the budget of a task, the size of its blocks, the peak.

A write runs ``workers`` tasks at once (dask's ``num_workers``, else the CPU count), and
shares the ``write_memory_budget`` option among them (:func:`task_memory`). A task holds:

* its write block, when the source computes it (a lazy source; numpy data are written
  from views), and once more in a region write (the stored values around the region);
* :data:`~visor_xarray.write.report.TASK_OVERHEAD` and one batch of inner chunks
  (:data:`~visor_xarray.zarr_io.shard_stream.BATCH_BYTES`, copied and encoded): the
  writer encodes a block batch by batch, so what it holds beyond the block does not grow
  with it; a computed block adds
  :data:`~visor_xarray.write.report.COMPUTED_OVERHEAD`;
* for a lazy source, what computing one of its blocks takes beyond the block itself
  (interpolation temporaries of a resampling, the blend of a stitch, ...), which
  :func:`source_cost` measures on a few sample blocks before the write; a thread computes
  a block and then writes it, so the larger of this and the writer's overhead counts;
* the source blocks its block needs when the write blocks cut or regroup the source's
  (:func:`held_source`).

:func:`predicted_peak` adds these up; the write blocks are sized so that it stays within
the budget (:func:`block_budget`).
"""

from __future__ import annotations

import itertools
import math
import os
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np
from dask.base import optimize
from dask.core import flatten
from dask.local import get_sync

from visor_xarray.options import OPTIONS
from visor_xarray.write.report import BATCH_FACTOR, COMPUTED_OVERHEAD, TASK_OVERHEAD
from visor_xarray.zarr_io.shard_stream import BATCH_BYTES

__all__ = [
    "SourceCost",
    "block_budget",
    "held_source",
    "predicted_peak",
    "source_cost",
    "task_memory",
    "write_workers",
]

#: Sample blocks computed to measure a lazy source's cost (the first warms caches up).
_SAMPLES = 3
#: Sources of fewer blocks have one block sampled, not three (see :func:`source_cost`).
_SAMPLED_FROM = 8

#: Largest block glibc may serve from a thread's arena (its mmap threshold's maximum).
_ARENA_BLOCKS = 32 * 2**20


def write_workers() -> int:
    """The write tasks that run at once: dask's ``num_workers``, else the CPU count.

    Returns
    -------
    int
    """
    configured = dask.config.get("num_workers", None)
    return int(configured) if configured else (os.cpu_count() or 1)


def _overhead(block: int, computed: bool = False) -> int:
    """What writing a block of ``block`` bytes holds besides the block itself."""
    return int(
        TASK_OVERHEAD + BATCH_FACTOR * min(block, BATCH_BYTES) + COMPUTED_OVERHEAD * computed
    )


def task_memory(workers: int | None = None) -> int:
    """Bytes one write task may hold: the write memory budget shared by the workers.

    Parameters
    ----------
    workers : int, optional
        Write tasks that run at once (default: dask's ``num_workers`` or the CPU count).

    Returns
    -------
    int
    """
    count = write_workers() if workers is None else workers
    return max(1, int(OPTIONS["write_memory_budget"] / count))


def block_budget(
    memory: int, held: int = 0, cost: SourceCost | None = None, copies: int = 1
) -> int:
    """Decoded bytes of a write block, when a task may hold ``memory`` bytes.

    Parameters
    ----------
    memory : int
        Bytes per task (:func:`task_memory`).
    held : int, default 0
        Source bytes the task holds besides its block.
    cost : SourceCost, optional
        :func:`source_cost` of the source.
    copies : int, default 1
        Copies of the block a task holds: 1 (numpy blocks are views, but blocks of that
        size keep the task count moderate), 2 in region writes.

    Returns
    -------
    int
    """
    cost = cost or SourceCost()
    writing = _overhead(BATCH_BYTES, cost.allocates)
    return max(1, int((memory - held - max(cost.peak, writing)) / copies))


def _edges(sizes: Sequence[int]) -> list[int]:
    edges = [0]
    for size in sizes:
        edges.append(edges[-1] + int(size))
    return edges


def held_source(source: da.Array | None, blocks: Sequence[Sequence[int]]) -> int:
    """Bytes of the source blocks one write block needs, when they are not the block itself.

    The write block at the centre of the array is taken; the source blocks it overlaps
    are held (whole) while it is written. 0 when the write blocks are the source's blocks
    (counted as the block) or the data are in memory (numpy).

    Parameters
    ----------
    source : dask.array.Array or None
    blocks : sequence of sequence of int
        The write blocks (dask chunks).

    Returns
    -------
    int
    """
    if source is None:
        return 0
    if tuple(tuple(int(n) for n in c) for c in source.chunks) == tuple(
        tuple(int(n) for n in c) for c in blocks
    ):
        return 0
    held = np.dtype(source.dtype).itemsize
    for mine, theirs in zip(blocks, source.chunks, strict=True):
        write_edges, source_edges = _edges(mine), _edges(theirs)
        middle = len(mine) // 2
        low, high = write_edges[middle], write_edges[middle + 1]
        overlapping = [
            int(b - a) for a, b in itertools.pairwise(source_edges) if a < high and b > low
        ]
        held *= sum(overlapping) if overlapping else 0
    return int(held)


@dataclass(frozen=True)
class SourceCost:
    """What computing one block of a lazy source takes (see :func:`source_cost`).

    Attributes
    ----------
    peak : int
        Bytes allocated at the peak of computing a block, the block included.
    allocates : bool
        Whether the block is new memory (False for views of data already in memory, such
        as ``dask.array.from_array`` of a numpy array).
    """

    peak: int = 0
    allocates: bool = False


def _compute_block(source: da.Array, index: tuple[int, ...]) -> Any:
    """Compute one block of ``source`` on this thread, without dask's final concatenation."""
    (single,) = optimize(source.blocks[index])  # type: ignore[no-untyped-call]
    graph = dict(single.__dask_graph__())
    (key,) = flatten(single.__dask_keys__())  # type: ignore[no-untyped-call]
    return get_sync(graph, key)


def source_cost(source: da.Array | None, declared: int = 0) -> SourceCost:
    """What computing one block of a lazy source takes, measured on a few sample blocks.

    Blocks at a quarter, half and three quarters of the block grid are computed on this
    thread under :mod:`tracemalloc`; the largest peak after the first (which pays one-time
    costs: opened arrays, caches) is taken. A source of fewer than eight blocks has its
    middle block sampled; one of a single block is not sampled (that would compute it
    twice) and is assumed to allocate its block. Sources that declare what their costliest
    block takes (resampling and stitching, in their encoding's ``visor_task_bytes``:
    samples may miss the blocks two stacks reach) give at least that.

    Parameters
    ----------
    source : dask.array.Array or None
    declared : int, default 0
        Bytes the source's costliest block task holds, block included, if declared.

    Returns
    -------
    SourceCost
        Zero for None or an empty array.
    """
    if source is None or source.size == 0:
        return SourceCost()
    count = math.prod(source.numblocks)
    if count == 1:
        # sampling would compute the whole source twice: assume the worst, a source that
        # allocates its block
        largest = math.prod(max(int(n) for n in sizes) for sizes in source.chunks)
        return SourceCost(max(int(declared), largest * source.dtype.itemsize), True)
    if count < _SAMPLED_FROM:  # one block of a few: a good part of the source otherwise
        picks = [count // 2]
    else:
        picks = sorted({count // 4, count // 2, (3 * count) // 4})[:_SAMPLES]
    peaks, allocates = [], False
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        for flat in picks:
            index = tuple(int(i) for i in np.unravel_index(flat, source.numblocks))
            tracemalloc.reset_peak()
            start = tracemalloc.get_traced_memory()[0]
            values = np.asarray(_compute_block(source, index))
            peaks.append(tracemalloc.get_traced_memory()[1] - start)
            allocates = allocates or peaks[-1] >= values.nbytes // 2
            del values
    finally:
        if not was_tracing:
            tracemalloc.stop()
    peak = max(int(declared), *(peaks[1:] or peaks))
    return SourceCost(int(peak), allocates or declared > 0)


def predicted_peak(
    blocks: Sequence[Sequence[int]],
    itemsize: int,
    source: da.Array | None = None,
    *,
    cost: SourceCost | None = None,
    workers: int | None = None,
    region: bool = False,
    pyramid: Sequence[Sequence[int]] = (),
) -> int:
    """Predicted peak memory of writing in write blocks ``blocks``.

    Per task: the larger of computing a source block (:func:`source_cost`) and writing
    (``TASK_OVERHEAD``, a batch of chunks, and the block when the source allocates it,
    or the source blocks it is cut from, :func:`held_source`), since a thread does one
    after the other; a freed block the allocator keeps for the next (blocks under 32 MiB);
    the stored values read around a region.

    Parameters
    ----------
    blocks : sequence of sequence of int
        The write blocks (dask chunks).
    itemsize : int
        Bytes per element.
    source : dask.array.Array, optional
        The data written, if lazy.
    cost : SourceCost, optional
        :func:`source_cost` of the source.
    workers : int, optional
        Write tasks at once (default: dask's ``num_workers`` or the CPU count).
    region : bool, default False
        A region write (the stored values around the region are read).
    pyramid : sequence of sequence of int, default ()
        The relative factors of the coarser levels computed from the blocks in the same
        graph: a task also holds the reduced blocks of each level.

    Returns
    -------
    int
        Bytes.
    """
    cost = cost or SourceCost()
    count = write_workers() if workers is None else workers
    block = math.prod(max(int(n) for n in sizes) if sizes else 0 for sizes in blocks) * itemsize
    held = held_source(source, blocks) if cost.allocates else 0
    # the block written is a view of the source blocks held, or the source's own block
    writing = _overhead(block, cost.allocates) + max(held, block * cost.allocates)
    # glibc serves blocks below its dynamic mmap threshold (at most 32 MiB) from per-thread
    # arenas, which keep a freed block for the next one: a thread's peak holds one more
    slack = block * cost.allocates if block < _ARENA_BLOCKS else 0
    reduced, scale = 0.0, 1
    for step in pyramid:
        scale *= math.prod(int(f) for f in step)
        reduced += block / scale
    per_task = max(cost.peak, writing) + slack + block * region + reduced
    return int(count * per_task)
