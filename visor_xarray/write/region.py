"""Region writes: :func:`write_region` into part of level 0, then the levels above it.

A region is written in write blocks of whole inner chunks (the region widened to the
inner chunk grid; where a block is only partly inside the region, the stored chunks are
read and the new values placed into them). Each touched shard is then rebuilt from the
new chunks and the *encoded bytes* of the chunks the region does not touch, copied from
the stored shard without decoding (:mod:`~visor_xarray.zarr_io.shard_stream`): memory is
bounded by the blocks in flight and time follows the shard's stored bytes, whatever its
size. Each coarser level then recomputes just the part the region covers, from the level
below once that is committed.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import numpy.typing as npt
import xarray as xr
from dask.delayed import delayed

from visor_xarray import layout
from visor_xarray.errors import InvalidArrayError
from visor_xarray.store import VsrStore
from visor_xarray.write.memory import (
    block_budget,
    predicted_peak,
    source_cost,
    task_memory,
    write_workers,
)
from visor_xarray.write.metadata import canonical_order
from visor_xarray.write.pyramid import downsample
from visor_xarray.write.report import LevelReport, WriteReport
from visor_xarray.write.sources import from_array
from visor_xarray.write.stream import (
    block_shape,
    block_starts,
    run_streams,
    stream_job,
    streamable_chunks,
)
from visor_xarray.zarr_io import SafeArray, guard_writes, image_write, read_outer

__all__ = ["write_region"]


def _region_slices(
    region: Mapping[str, slice], dims: Sequence[str], shape: Sequence[int]
) -> tuple[slice, ...]:
    unknown = set(region) - set(dims)
    if unknown:
        raise ValueError(
            f"region names unknown dims {sorted(unknown)}; the image has {tuple(dims)}"
        )
    out = []
    for dim, size in zip(dims, shape, strict=True):
        selection = region.get(dim, slice(None))
        if not isinstance(selection, slice) or selection.step not in (None, 1):
            raise ValueError(f"region[{dim!r}] must be a unit-step slice, got {selection!r}")
        start, stop, _ = selection.indices(size)
        out.append(slice(start, stop))
    return tuple(out)


def write_region(
    array: xr.DataArray,
    path: str | os.PathLike[str],
    *,
    image_type: str,
    name: str,
    region: Mapping[str, slice],
    method: str = "mean",
) -> WriteReport:
    """Write ``array`` into a region of level 0 of an existing image; update coarser levels.

    Shards fully inside the region are written straight from the data; shards the region
    only touches are read, merged and rewritten whole (one shard in memory per task).

    Raises
    ------
    InvalidArrayError
        If the data's shape or dtype differs from the region / the image.
    """
    started = time.perf_counter()
    array = canonical_order(array)
    store = VsrStore(path, "r+")
    attrs = store.image_attrs(image_type, name)
    dims = attrs.multiscale.dims
    if tuple(array.dims) != dims:
        raise InvalidArrayError(
            f"{store.path}: data dims {tuple(array.dims)} differ from the image's {dims}"
        )
    target = store.level_array(
        image_type, name, attrs.multiscale.level_paths[0], writable=True, attrs=attrs
    )
    slices = _region_slices(region, dims, target.shape)
    expected = tuple(s.stop - s.start for s in slices)
    if tuple(array.shape) != expected:
        raise InvalidArrayError(
            f"{store.path}: data shape {tuple(array.shape)} differs from the region shape "
            f"{expected}"
        )
    if np.dtype(array.dtype) != np.dtype(target.dtype):
        raise InvalidArrayError(
            f"{store.path}: data dtype {array.dtype} differs from the image's {target.dtype}"
        )
    source: np.ndarray | da.Array = (
        array.data if isinstance(array.data, da.Array) else np.asarray(array.data)
    )
    details = {
        "image_type": image_type,
        "name": name,
        "region": {d: [s.start, s.stop] for d, s in zip(dims, slices, strict=True)},
    }
    store.image_dir(image_type, name)  # it must exist
    directory = layout.image_dir(store.local_path, image_type, name)
    memory = task_memory()
    with image_write(directory, store.local_path, operation="region", details=details) as marker:
        guard = (directory, marker["token"])
        reports, peak = [], 0
        previous: SafeArray | None = None
        scales = [np.asarray(level.scale) for level in attrs.multiscale.levels]
        for index, level in enumerate(attrs.multiscale.level_paths):
            array_k = guard_writes(
                store.level_array(image_type, name, level, writable=True, attrs=attrs), *guard
            )
            if previous is None:
                peak = _write_part(array_k, source, slices, guard, memory)
            else:
                # this level's part of the region, from the level below (committed)
                step = tuple(round(float(v)) for v in scales[index] / scales[index - 1])
                slices = tuple(
                    slice(s.start // f, -(-s.stop // f)) for s, f in zip(slices, step, strict=True)
                )
                level_peak = _write_from_below(array_k, previous, slices, step, method, guard)
                peak = max(peak, level_peak)
            reports.append(
                LevelReport(
                    level,
                    tuple(array_k.shape),
                    tuple(array_k.shards or array_k.chunks),
                    tuple(array_k.chunks),
                )
            )
            previous = array_k
    return WriteReport(
        store.local_path,
        image_type,
        name,
        tuple(reports),
        peak,
        time.perf_counter() - started,
        write_workers(),
    )


class _Window:
    """A box of a stored level, seen as an array (read through zarrs when sliced)."""

    def __init__(self, array: SafeArray, box: tuple[slice, ...]) -> None:
        self.array = array
        self.box = box
        self.shape = tuple(b.stop - b.start for b in box)
        self.dtype = np.dtype(array.dtype)
        self.ndim = len(box)

    def __getitem__(self, key: tuple[slice, ...]) -> npt.NDArray[Any]:
        shifted = tuple(
            slice(b.start + (k.start or 0), b.start + (n if k.stop is None else k.stop))
            for b, k, n in zip(self.box, key, self.shape, strict=True)
        )
        return read_outer(self.array, shifted)


def _write_from_below(
    array: SafeArray,
    below: SafeArray,
    region: tuple[slice, ...],
    step: Sequence[int],
    method: str,
    guard: tuple[Path, str],
) -> int:
    """Recompute ``region`` of a coarser level from the committed level below it.

    The region is widened to whole inner chunks and read from the level below in the
    footprints of this level's write blocks, so each block reduces into exactly one write
    block (no stored values to merge, no blocks regrouped). Returns the predicted peak.
    """
    chunks = array.chunks
    shards = array.shards or chunks
    itemsize = np.dtype(array.dtype).itemsize
    low = [(r.start // c) * c for r, c in zip(region, chunks, strict=True)]
    high = [
        min(-(-r.stop // c) * c, n) for r, c, n in zip(region, chunks, array.shape, strict=True)
    ]
    shape = [h - lo for lo, h in zip(low, high, strict=True)]
    # a task holds its block and the footprint it reduces (block_reduce sums in slabs)
    copies = 1 + math.prod(step)
    budget = block_budget(task_memory(), copies=copies)
    block = block_shape(shape, shards, [chunks], itemsize, budget)
    blocks = streamable_chunks(low, shape, shards, block)
    read = tuple(
        slice(lo * f, min(h * f, n))
        for lo, h, f, n in zip(low, high, step, below.shape, strict=True)
    )
    reads = tuple(
        tuple(min(int(b) * f, (r.stop - r.start) - start * f) for b, start in block_starts(sizes))
        for sizes, f, r in zip(blocks, step, read, strict=True)
    )
    window = _Window(below, read)
    data = da.from_array(  # type: ignore[no-untyped-call]
        window, chunks=reads, name=False, meta=np.empty((0,) * len(read), below.dtype)
    )
    # (downsample regularises irregular input blocks; the write needs exactly ``blocks``)
    reduced = downsample(data, step, method).rechunk(blocks)  # type: ignore[no-untyped-call]
    run_streams([stream_job(reduced, array, origin=low, guard=guard, keep_untouched=True)])
    largest = math.prod(max(c) for c in blocks) * itemsize
    return predicted_peak(blocks, itemsize) + write_workers() * largest * copies


@dataclass(frozen=True, eq=False)
class _Widening:
    """Where each write block of a widened region lies, and the region inside it."""

    array: SafeArray
    edges: tuple[npt.NDArray[np.int64], ...]
    region: tuple[slice, ...]

    def fill(self, part: npt.NDArray[Any], block_id: Sequence[int]) -> npt.NDArray[Any]:
        """The write block ``block_id``: stored values around the region's ``part``."""
        box = tuple(
            slice(int(e[i]), int(e[i + 1])) for e, i in zip(self.edges, block_id, strict=True)
        )
        inside = tuple(
            slice(max(b.start, r.start), min(b.stop, r.stop))
            for b, r in zip(box, self.region, strict=True)
        )
        if inside == box:
            return part
        block = read_outer(self.array, box)
        block[
            tuple(
                slice(i.start - b.start, i.stop - b.start)
                for i, b in zip(inside, box, strict=True)
            )
        ] = part
        return block


def _widen(
    array: SafeArray,
    source: np.ndarray | da.Array,
    region: tuple[slice, ...],
    block: Sequence[int],
) -> tuple[da.Array, tuple[int, ...]]:
    """The region widened to whole inner chunks, in write blocks; and where it starts."""
    chunks = array.chunks
    shards = array.shards or chunks
    low = tuple((r.start // c) * c for r, c in zip(region, chunks, strict=True))
    high = tuple(
        min(-(-r.stop // c) * c, n) for r, c, n in zip(region, chunks, array.shape, strict=True)
    )
    widened = streamable_chunks(
        low, [h - lo for lo, h in zip(low, high, strict=True)], shards, block
    )
    edges = tuple(
        np.concatenate([[lo], lo + np.cumsum(c)]).astype(np.int64)
        for lo, c in zip(low, widened, strict=True)
    )
    # the region's part of each write block: every block meets the region (the widening is
    # less than one inner chunk a side)
    parts = tuple(
        tuple(int(min(e[i + 1], r.stop) - max(e[i], r.start)) for i in range(len(e) - 1))
        for e, r in zip(edges, region, strict=True)
    )
    if isinstance(source, da.Array):
        pieces = source.astype(array.dtype).rechunk(parts)  # type: ignore[no-untyped-call]
    else:
        pieces = from_array(np.asarray(source, dtype=array.dtype), chunks=parts)  # views
    widening = delayed(_Widening(array, edges, region), traverse=False)
    data = pieces.map_blocks(
        _fill_block, widening, chunks=widened, dtype=array.dtype, meta=pieces._meta
    )
    return data, low


def _fill_block(
    part: npt.NDArray[Any], widening: _Widening, block_id: Sequence[int] | None = None
) -> npt.NDArray[Any]:
    assert block_id is not None
    return widening.fill(part, block_id)


def _write_part(
    array: SafeArray,
    source: np.ndarray | da.Array,
    region: tuple[slice, ...],
    guard: tuple[Path, str],
    memory: int,
) -> int:
    """Write ``source`` at ``region`` of one level; return the predicted peak memory."""
    shards = array.shards or array.chunks
    itemsize = np.dtype(array.dtype).itemsize
    lazy = source if isinstance(source, da.Array) else None
    cost = source_cost(lazy)
    held = 0
    if lazy is not None and cost.allocates:
        held = math.prod(max(c) for c in lazy.chunks) * itemsize
    shape = [r.stop - r.start for r in region]
    budget = block_budget(memory, held, cost, copies=2 + int(cost.allocates))
    block = block_shape(shape, shards, [array.chunks], itemsize, budget)
    data, origin = _widen(array, source, region, block)
    run_streams([stream_job(data, array, origin=origin, guard=guard, keep_untouched=True)])
    return predicted_peak(data.chunks, itemsize, lazy, cost=cost, region=True)
