""":class:`WritePlan`: everything a write decides before its first byte.

One object carries the target image, its storage geometry (inner chunk and shard of
level 0), the codecs, the pyramid and the memory budget of one write block, so that the
write steps (:mod:`~visor_xarray.write.levels`, :mod:`~visor_xarray.write.region`) take
the plan instead of a dozen arguments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np

from visor_xarray.options import OPTIONS
from visor_xarray.schema import ImageAttrs
from visor_xarray.store import VsrStore
from visor_xarray.write.report import STREAM_FACTOR, _workers
from visor_xarray.write.stream import block_shape, conforming_blocks, streamable_chunks

__all__ = ["WritePlan", "task_budget"]


def task_budget(workers: int | None = None) -> int:
    """Decoded bytes of one write block: the write memory budget shared by the workers.

    Each of ``workers`` tasks holds about ``STREAM_FACTOR`` times its block (see
    :data:`visor_xarray.write.report.STREAM_FACTOR`).

    Parameters
    ----------
    workers : int, optional
        Write tasks that run at once (default: dask's ``num_workers`` or the CPU count).

    Returns
    -------
    int
    """
    count = _workers() if workers is None else workers
    return max(1, int(OPTIONS["write_memory_budget"] / (count * STREAM_FACTOR)))


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
    budget : int
        Decoded bytes of one write block (:func:`task_budget`).
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
    budget: int

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

        Blocks are whole inner chunks inside one shard, at most the plan's budget. A dask
        source whose blocks are already whole inner chunks inside a shard (a resampling,
        a stitch, a level being downsampled) is written block by block as it is: each
        write task then depends on one source block, which is freed once written, also
        on a cluster. Otherwise blocks grow from ``multiple`` inner chunks (so that every
        coarser level's blocks stay whole inner chunks) while that fits, else from one
        inner chunk (see :func:`~visor_xarray.write.stream.block_shape`).
        """
        if source is not None:
            own = conforming_blocks(source.chunks, chunks, shards)
            if own is not None and math.prod(own) * itemsize <= self.budget:
                return tuple(tuple(int(n) for n in sizes) for sizes in source.chunks)
            merged = _fewest_whole(source.chunks, chunks, shards)
            if merged is not None and math.prod(merged) * itemsize <= self.budget:
                return streamable_chunks([0] * len(shape), shape, shards, merged)
        bases: list[tuple[int, ...]] = []
        if multiple is not None:
            bases.append(tuple(int(c) * int(m) for c, m in zip(chunks, multiple, strict=True)))
        bases.append(tuple(int(c) for c in chunks))
        block = block_shape(shape, shards, bases, itemsize, self.budget)
        return streamable_chunks([0] * len(shape), shape, shards, block)
