""":class:`WritePlan`: everything a write decides before its first byte.

One object carries the target image, its storage geometry (inner chunk and shard of
level 0), the codecs, the pyramid and the memory budget of one write block, so that the
write steps (:mod:`~visor_xarray.write.levels`, :mod:`~visor_xarray.write.region`) take
the plan instead of a dozen arguments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np

from visor_xarray.schema import ImageAttrs
from visor_xarray.store import VsrStore
from visor_xarray.write.memory import SourceCost, block_budget
from visor_xarray.write.stream import block_shape, conforming_blocks, streamable_chunks

__all__ = ["WritePlan"]


def _fewest_whole(
    source_chunks: Sequence[Sequence[int]], chunks: Sequence[int], shards: Sequence[int]
) -> tuple[int, ...] | None:
    """The smallest write block made of whole source blocks smaller than an inner chunk.

    Blocks of a downsampled level are often a fraction of its inner chunk (a 64-voxel
    block halves to 32): a write block of one inner chunk then takes a few whole blocks,
    and holds nothing more. None when the blocks neither divide nor tile the chunk.
    """
    block = []
    for sizes, chunk, shard in zip(source_chunks, chunks, shards, strict=True):
        first = int(sizes[0])
        if len(sizes) > 1 and any(int(n) != first for n in sizes[:-1]):
            return None
        if len(sizes) == 1 or first % chunk == 0:
            if len(sizes) > 1 and shard % first:
                return None
            block.append(max(first, chunk) if len(sizes) == 1 else first)
        elif chunk % first == 0:
            block.append(chunk)
        else:
            return None
    return tuple(block)


def _cut_limits(source: da.Array, chunks: Sequence[int], shards: Sequence[int]) -> tuple[int, ...]:
    """Per axis, the largest write block that cuts (never regroups) the source's blocks.

    Along an axis where the source's blocks are whole inner chunks inside one shard, a
    write block stays within one source block; elsewhere only the shard limits it.
    """
    limits = []
    for sizes, chunk, shard in zip(source.chunks, chunks, shards, strict=True):
        first = int(sizes[0])
        regular = all(int(n) == first for n in sizes[:-1])
        whole = len(sizes) == 1 or (regular and first % chunk == 0 and shard % first == 0)
        limits.append(min(int(shard), max(int(chunk), first)) if whole else int(shard))
    return tuple(limits)


@dataclass(frozen=True)
class WritePlan:
    """What a write decided: where it goes, how it is stored, how much it holds at once.

    Parameters
    ----------
    store : VsrStore
        The sample (writable).
    image_type, name : str
        The image.
    attrs : ImageAttrs
        Its metadata (listing every level written).
    chunks, shards : tuple of int
        Inner chunk and shard of level 0.
    compressors : object
        Compressors of level 0 (None: the library default); coarser levels use
        ``pyramid_compressors``.
    pyramid_compressors : object
        Compressors of levels 1 and up.
    factors : tuple of tuple of int
        Relative downsampling factor of each level above level 0.
    method : str
        Downsampling method.
    guard : tuple of (pathlib.Path, str) or None
        ``(image directory, marker token)``: shards commit only while the marker names
        this write.
    memory : int
        Bytes one write task may hold (:func:`~visor_xarray.write.memory.task_memory`).
    cost : SourceCost
        What computing one block of the source takes
        (:func:`~visor_xarray.write.memory.source_cost`; nothing for data in memory).
    """

    store: VsrStore
    image_type: str
    name: str
    attrs: ImageAttrs
    chunks: tuple[int, ...]
    shards: tuple[int, ...]
    compressors: Any
    pyramid_compressors: Any
    factors: tuple[tuple[int, ...], ...]
    method: str
    guard: tuple[Path, str] | None
    memory: int
    cost: SourceCost = field(default_factory=SourceCost)

    def pyramid_multiple(self, first_level: int = 1) -> tuple[int, ...]:
        """Per axis, the product of the factors of levels ``first_level`` and up.

        A write block that many inner chunks long stays whole inner chunks at every
        coarser level, so no level regroups its blocks.
        """
        multiple = np.ones(len(self.chunks), dtype=np.int64)
        for step in self.factors[first_level - 1 :]:
            multiple *= np.asarray(step)
        return tuple(int(m) for m in multiple)

    def blocks(
        self,
        shape: Sequence[int],
        shards: Sequence[int],
        chunks: Sequence[int],
        itemsize: int,
        source: da.Array | None = None,
        multiple: Sequence[int] | None = None,
    ) -> tuple[tuple[int, ...], ...]:
        """Dask chunks of the write blocks of one level.

        Blocks are whole inner chunks inside one shard. A dask source whose blocks are
        already whole inner chunks inside a shard (a resampling, a stitch, an opened
        image, a level being downsampled) is written block by block as it is, whatever
        their size: the writer encodes a block batch by batch, so a task holds the
        source's block and one batch, and each source block is freed once written, also
        on a cluster (cutting it would copy it). Otherwise blocks grow from ``multiple``
        inner chunks (so that every coarser level's blocks stay whole inner chunks) while
        the plan's memory allows, else from one inner chunk (see
        :func:`~visor_xarray.write.stream.block_shape`); a dask source block they cut is
        held whole meanwhile, and the blocks shrink to leave room.
        """
        held = 0
        # the allocator keeps a freed block for the next one (see write.memory)
        copies = 1 + int(source is not None and self.cost.allocates)
        if source is not None:
            if conforming_blocks(source.chunks, chunks, shards) is not None:
                # the writer encodes a block batch by batch: a source block of any size
                # is written as it is, holding nothing more than itself and one batch
                return tuple(tuple(int(n) for n in sizes) for sizes in source.chunks)
            fits = block_budget(self.memory, cost=self.cost, copies=copies)
            merged = _fewest_whole(source.chunks, chunks, shards)
            if merged is not None and math.prod(merged) * itemsize <= fits:
                return streamable_chunks([0] * len(shape), shape, shards, merged)
            if self.cost.allocates:  # write blocks will cut source blocks, held meanwhile
                held = math.prod(max(int(n) for n in c) for c in source.chunks) * itemsize
        # write blocks cut the source's blocks where those are whole inner chunks, never
        # regroup them (a regrouped block is a new copy; a cut piece is a view)
        limits = _cut_limits(source, chunks, shards) if source is not None else shards
        bases: list[tuple[int, ...]] = []
        if multiple is not None:
            bases.append(tuple(int(c) * int(m) for c, m in zip(chunks, multiple, strict=True)))
        bases.append(tuple(int(c) for c in chunks))
        budget = block_budget(self.memory, held, self.cost, copies)
        block = block_shape(shape, limits, bases, itemsize, budget)
        return streamable_chunks([0] * len(shape), shape, shards, block)
