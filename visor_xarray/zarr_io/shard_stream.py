"""Streaming shard writes: a shard assembled from its inner chunks as they arrive.

A shard (zarr's ``sharding_indexed`` codec) is its inner chunks' encoded bytes, in any
order, followed (or preceded) by an index of ``(offset, length)`` per inner chunk. zarrs
and zarr-python encode a whole shard in memory, so their memory grows with the shard
(28 GB for VISoR's standard raw shard). Here a shard is built in two steps, each a dask
task, so that memory is bounded by the blocks in flight:

1. :func:`append_block` encodes the inner chunks of one block (with the array's own codec
   chain, skipping chunks that are all fill value as zarr does) and appends their bytes to
   the shard's staging file (``.{array}.partial-{token}/{key}``), under an exclusive file
   lock; it returns where each chunk landed. Many blocks of one shard may append in any
   order, from any thread or process on the machine.
2. :func:`finish_shard` writes the index (at the end, or in the space reserved at the
   start), optionally copying the encoded bytes of chunks the write did not touch from the
   old shard (region writes: no decode, no re-encode), and renames the staging file onto
   the shard's key: a killed write leaves the old shard intact, as every commit here does.

Everything a task needs travels as a :class:`ShardTarget` (paths, the array's
``zarr.json`` and a token): plain data that pickles for ``dask.distributed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import json
import os
import shutil
import threading
import time
from collections.abc import Coroutine, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from zarr.codecs.sharding import ShardingCodec
from zarr.core.array_spec import ArrayConfig, ArraySpec
from zarr.core.buffer import default_buffer_prototype
from zarr.core.buffer.cpu import Buffer, NDBuffer
from zarr.core.codec_pipeline import BatchedCodecPipeline
from zarr.core.dtype.npy.int import UInt64
from zarr.core.metadata import ArrayV3Metadata
from zarr.core.sync import sync

from visor_xarray.zarr_io.commit import check_guard
from visor_xarray.zarr_io.markers import SCRATCH_INFIX

__all__ = [
    "BATCH_BYTES",
    "ChunkRecord",
    "ShardTarget",
    "append_block",
    "create_staging",
    "finish_shard",
    "remove_staging",
    "shard_target",
]

#: Index entry of an empty inner chunk (the sharding codec's convention).
_EMPTY = 2**64 - 1

#: Decoded bytes of inner chunks encoded at once: a block is encoded in batches, so a
#: write task holds its block and one batch (and its encoding), not a copy of the block.
BATCH_BYTES = 2 * 2**20

#: ``(chunk coordinates within the shard, offset in the staging file, length)``.
ChunkRecord = tuple[tuple[int, ...], int, int]


@dataclass(frozen=True)
class ShardTarget:
    """Where and how the shards of one write to one level array are assembled.

    Parameters
    ----------
    directory : str
        The level array's directory.
    metadata : str
        Its ``zarr.json`` (the codec chains are rebuilt from it in each process).
    token : str
        Names this write's staging directory, ``.{array}.partial-{token}``.
    guard : tuple of (str, str) or None
        ``(image directory, marker token)``: shards are committed only while the image's
        in-progress marker still names this write.
    """

    directory: str
    metadata: str
    token: str
    guard: tuple[str, str] | None = None

    @property
    def staging(self) -> Path:
        """The staging directory of this write."""
        level = Path(self.directory)
        return level.parent / f".{level.name}{SCRATCH_INFIX}{self.token}"

    @property
    def geometry(self) -> _Geometry:
        """Shard and chunk shapes and codec pipelines (built once per process)."""
        return _geometry(self.metadata)

    def shard_file(self, shard: Sequence[int]) -> Path:
        """The stored file of shard ``shard`` (grid coordinates)."""
        key = self.geometry.metadata.encode_chunk_key(tuple(int(c) for c in shard))
        return Path(self.directory) / key

    def staging_file(self, shard: Sequence[int]) -> Path:
        """The staging file of shard ``shard``."""
        return self.staging / ("c." + ".".join(str(int(c)) for c in shard))


def shard_target(
    directory: Path, metadata: Any, token: str, guard: tuple[Path, str] | None
) -> ShardTarget:
    """A :class:`ShardTarget` for a level array.

    Parameters
    ----------
    directory : pathlib.Path
        The level array's directory.
    metadata : zarr.core.metadata.ArrayV3Metadata
        Its metadata; must be Zarr v3 and sharded.
    token : str
        Unique per write.
    guard : tuple or None
        ``(image directory, marker token)``.

    Returns
    -------
    ShardTarget

    Raises
    ------
    ValueError
        If the array is not sharded.
    """
    if not isinstance(metadata, ArrayV3Metadata):
        raise ValueError("streaming shard writes need a Zarr v3 array")
    text = json.dumps(metadata.to_dict())
    _geometry(text)  # refuse unsharded arrays here, not in a task
    return ShardTarget(
        str(directory), text, token, None if guard is None else (str(guard[0]), str(guard[1]))
    )


@dataclass(frozen=True, eq=False)
class _Geometry:
    metadata: ArrayV3Metadata
    sharding: ShardingCodec
    shard_shape: tuple[int, ...]
    chunk_shape: tuple[int, ...]
    chunks_per_shard: tuple[int, ...]
    chunk_spec: ArraySpec
    index_spec: ArraySpec
    inner: BatchedCodecPipeline
    index: BatchedCodecPipeline
    index_size: int
    index_at_start: bool
    fill_value: Any


@functools.lru_cache(maxsize=32)
def _geometry(text: str) -> _Geometry:
    metadata = ArrayV3Metadata.from_dict(json.loads(text))
    codecs = metadata.codecs
    if len(codecs) != 1 or not isinstance(codecs[0], ShardingCodec):
        raise ValueError("streaming shard writes need a sharded array (one sharding codec)")
    sharding = codecs[0]
    shard_shape = tuple(int(s) for s in metadata.chunk_grid.chunk_shape)  # type: ignore[attr-defined]
    chunk_shape = tuple(int(c) for c in sharding.chunk_shape)
    per_shard = tuple(s // c for s, c in zip(shard_shape, chunk_shape, strict=True))
    prototype = default_buffer_prototype()
    config = ArrayConfig(order="C", write_empty_chunks=False)
    chunk_spec = ArraySpec(
        shape=chunk_shape,
        dtype=metadata.data_type,
        fill_value=metadata.fill_value,
        config=config,
        prototype=prototype,
    )
    index_spec = ArraySpec(
        shape=(*per_shard, 2),
        dtype=UInt64(endianness="little"),
        fill_value=_EMPTY,
        config=config,
        prototype=prototype,
    )
    # zarr-python's own pipeline, whatever zarr's configured default: zarrs encodes only
    # into stores, not single chunks in memory.
    inner = BatchedCodecPipeline.from_codecs(sharding.codecs)
    index = BatchedCodecPipeline.from_codecs(sharding.index_codecs)
    index_size = index.compute_encoded_size(16 * int(np.prod(per_shard)), index_spec)
    location = getattr(sharding.index_location, "value", sharding.index_location)
    return _Geometry(
        metadata=metadata,
        sharding=sharding,
        shard_shape=shard_shape,
        chunk_shape=chunk_shape,
        chunks_per_shard=per_shard,
        chunk_spec=chunk_spec,
        index_spec=index_spec,
        inner=inner,
        index=index,
        index_size=int(index_size),
        index_at_start=location == "start",
        fill_value=metadata.fill_value,
    )


def _is_fill(chunk: npt.NDArray[Any], fill: Any) -> bool:
    if isinstance(fill, float) and np.isnan(fill):
        return bool(np.all(np.isnan(chunk)))
    return bool(np.all(chunk == fill))


_LOOPS = threading.local()


class _EncodePool(ThreadPoolExecutor):
    """Compression threads shared by the loops of every write task's thread.

    A loop shuts its default executor down when it is closed or collected (its thread
    ended): the pool outlives them, and its threads end with the interpreter.
    """

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        return None


@functools.lru_cache(maxsize=4)
def _encoders(threads: int) -> ThreadPoolExecutor:
    return _EncodePool(threads, thread_name_prefix="visor-encode")


def _run_encoding(coroutine: Coroutine[Any, Any, Any], threads: int) -> Any:
    """Run a codec coroutine on this thread's loop, compressing on ``threads`` threads.

    zarr's own loop compresses on a pool of up to ``cpu + 4`` threads, and how many of them
    a write uses depends on the machine's load; each keeps freed buffers in its own malloc
    arena, so a write's peak memory varied by a third from run to run. A pool of as many
    threads as write tasks makes it the same on a busy machine as on a quiet one.
    """
    loop = getattr(_LOOPS, "loop", None)
    if loop is None:
        loop = _LOOPS.loop = asyncio.new_event_loop()
    loop.set_default_executor(_encoders(threads))
    return loop.run_until_complete(coroutine)


def _encode(geometry: _Geometry, chunks: Sequence[npt.NDArray[Any]], threads: int) -> list[bytes]:
    batch = [
        (NDBuffer.from_numpy_array(np.ascontiguousarray(chunk)), geometry.chunk_spec)
        for chunk in chunks
    ]
    encoded = _run_encoding(geometry.inner.encode(batch), threads)
    return [b"" if buffer is None else buffer.to_bytes() for buffer in encoded]


def _full_chunk(
    geometry: _Geometry, data: npt.NDArray[Any], index: tuple[slice, ...]
) -> npt.NDArray[Any]:
    """The inner chunk at ``index`` of ``data``, padded with fill value beyond its edge."""
    part = data[index]
    if part.shape == geometry.chunk_shape:
        return part
    full = np.full(geometry.chunk_shape, geometry.fill_value, dtype=data.dtype)
    full[tuple(slice(0, n) for n in part.shape)] = part
    return full


def append_block(
    target: ShardTarget, start: Sequence[int], data: npt.NDArray[Any], threads: int = 1
) -> tuple[tuple[int, ...], list[ChunkRecord]]:
    """Encode the inner chunks of a block and append them to its shard's staging file.

    Parameters
    ----------
    target : ShardTarget
    start : sequence of int
        The block's first voxel in the array; it must lie on the inner chunk grid, and the
        block within one shard (its end on the grid too, or at the array's edge).
    data : numpy.ndarray
        The block.
    threads : int, default 1
        Threads that compress, shared by every block written at once with the same
        count: the write's task count keeps its memory predictable.

    Returns
    -------
    tuple
        The shard's grid coordinates and a :data:`ChunkRecord` per non-empty chunk.

    Raises
    ------
    ValueError
        If the block is not aligned on the inner chunks or crosses a shard.
    """
    geometry = target.geometry
    chunk, shard_shape = geometry.chunk_shape, geometry.shard_shape
    first = [int(s) for s in start]
    if any(f % c for f, c in zip(first, chunk, strict=True)):
        raise ValueError(f"block at {tuple(first)} is not on the inner chunk grid {chunk}")
    shard = tuple(f // s for f, s in zip(first, shard_shape, strict=True))
    last = [f + n - 1 for f, n in zip(first, data.shape, strict=True)]
    if any(v // s != k for v, s, k in zip(last, shard_shape, shard, strict=True)):
        raise ValueError(f"block at {tuple(first)} of shape {data.shape} crosses a shard")
    counts = [-(-n // c) for n, c in zip(data.shape, chunk, strict=True)]
    file = target.staging_file(shard)
    records: list[ChunkRecord] = []
    positions: list[tuple[int, ...]] = []
    pieces: list[npt.NDArray[Any]] = []
    batched = 0
    for local in np.ndindex(*counts):
        index = tuple(slice(i * c, (i + 1) * c) for i, c in zip(local, chunk, strict=True))
        piece = _full_chunk(geometry, data, index)
        if _is_fill(piece, geometry.fill_value):
            continue
        positions.append(
            tuple(
                (f % s) // c + i
                for f, s, c, i in zip(first, shard_shape, chunk, local, strict=True)
            )
        )
        pieces.append(piece)
        batched += piece.nbytes
        if batched >= BATCH_BYTES:
            records += _append_encoded(
                geometry, file, positions, _encode(geometry, pieces, threads)
            )
            positions, pieces, batched = [], [], 0
    if pieces:
        records += _append_encoded(geometry, file, positions, _encode(geometry, pieces, threads))
    return shard, records


def _append_encoded(
    geometry: _Geometry, file: Path, positions: Sequence[tuple[int, ...]], encoded: list[bytes]
) -> list[ChunkRecord]:
    """Append encoded chunks to a staging file under its lock; return where they landed."""
    records: list[ChunkRecord] = []
    descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    try:
        # One writer at a time per shard: the offsets are the file's size under the lock.
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        offset = os.fstat(descriptor).st_size
        if offset == 0 and geometry.index_at_start:
            os.write(descriptor, bytes(geometry.index_size))  # room for the index
            offset = geometry.index_size
        for position, payload in zip(positions, encoded, strict=True):
            records.append((position, offset, len(payload)))
            _write_all(descriptor, payload)
            offset += len(payload)
    finally:
        os.close(descriptor)  # releases the lock
    return records


def _write_all(descriptor: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        written = os.write(descriptor, view)
        view = view[written:]


def _old_index(geometry: _Geometry, file: Path) -> npt.NDArray[np.uint64] | None:
    """The index of a stored shard (None if there is no shard file)."""
    try:
        size = file.stat().st_size
    except FileNotFoundError:
        return None
    with open(file, "rb") as stream:
        if not geometry.index_at_start:
            stream.seek(size - geometry.index_size)
        raw = stream.read(geometry.index_size)
    (decoded,) = sync(geometry.index.decode([(Buffer.from_bytes(raw), geometry.index_spec)]))
    assert decoded is not None
    return np.asarray(decoded.as_numpy_array(), dtype=np.uint64)


def finish_shard(
    target: ShardTarget,
    shard: Sequence[int],
    records: Iterable[ChunkRecord],
    *,
    keep_untouched: bool = False,
) -> int:
    """Write a shard's index and commit its staging file onto the shard's key.

    Parameters
    ----------
    target : ShardTarget
    shard : sequence of int
        The shard's grid coordinates.
    records : iterable of ChunkRecord
        Where the write put each chunk (from :func:`append_block`).
    keep_untouched : bool, default False
        Copy the encoded bytes of the chunks the write did not touch from the stored
        shard (region writes); otherwise they are empty.

    Returns
    -------
    int
        Bytes of the committed shard (0 when every chunk is empty: no file is kept).
    """
    geometry = target.geometry
    index = np.full((*geometry.chunks_per_shard, 2), _EMPTY, dtype=np.uint64)
    written: set[tuple[int, ...]] = set()
    for position, offset, length in records:
        index[position] = (offset, length)
        written.add(tuple(position))
    staging = target.staging_file(shard)
    final = target.shard_file(shard)
    # A write given up touches nothing more. Checked before the staging file is opened,
    # and that file is only created here when no block appended to it: a finish racing
    # the removal of a failed write's staging directory fails instead of committing an
    # index over a file that lost its chunks.
    check_guard(_guard(target))
    # not O_APPEND: the kernel's copy of untouched chunks cannot target an append-only file
    flags = os.O_WRONLY | (0 if written else os.O_CREAT)
    with os.fdopen(os.open(staging, flags, 0o666), "wb") as stream:
        size = stream.seek(0, os.SEEK_END)
        if size == 0 and geometry.index_at_start:
            stream.write(bytes(geometry.index_size))
            size = geometry.index_size
        if keep_untouched:
            size = _copy_untouched(geometry, final, stream, index, written, size)
    if bool(np.all(index[..., 0] == _EMPTY)):
        check_guard(_guard(target))
        staging.unlink()
        with contextlib.suppress(FileNotFoundError):
            final.unlink()
        return 0
    (encoded,) = sync(
        geometry.index.encode([(NDBuffer.from_numpy_array(index), geometry.index_spec)])
    )
    assert encoded is not None
    payload = encoded.to_bytes()
    if geometry.index_at_start:
        with open(staging, "r+b") as stream:
            stream.write(payload)
    else:
        with open(staging, "ab") as stream:
            stream.write(payload)
            size += len(payload)
    check_guard(_guard(target))
    final.parent.mkdir(parents=True, exist_ok=True)
    staging.replace(final)
    return size


def _guard(target: ShardTarget) -> tuple[Path, str] | None:
    return None if target.guard is None else (Path(target.guard[0]), target.guard[1])


def _copy_untouched(
    geometry: _Geometry,
    old: Path,
    stream: Any,
    index: npt.NDArray[np.uint64],
    written: set[tuple[int, ...]],
    size: int,
) -> int:
    """Append the encoded bytes of the stored shard's chunks the write did not touch.

    Chunks are copied in the order they lie in the stored file, runs of adjacent chunks
    at once, by the kernel where it can (``os.copy_file_range``): the cost is that of
    copying the shard's bytes, with no decode and no re-encode.
    """
    old_index = _old_index(geometry, old)
    if old_index is None:
        return size
    kept = [
        (int(offset), int(length), position)
        for position in np.ndindex(*geometry.chunks_per_shard)
        for offset, length in [old_index[position]]
        if position not in written and int(offset) != _EMPTY
    ]
    kept.sort()
    # runs of chunks adjacent in the stored file: [stored offset, length, new offset]
    runs: list[list[int]] = []
    cursor = size
    for offset, length, position in kept:
        index[position] = (cursor, length)
        if runs and offset == runs[-1][0] + runs[-1][1]:
            runs[-1][1] += length
        else:
            runs.append([offset, length, cursor])
        cursor += length
    stream.flush()
    with open(old, "rb") as source:
        for offset, length, at in runs:
            _copy_range(source.fileno(), stream.fileno(), offset, at, length)
    stream.seek(cursor)
    return cursor


def _copy_range(source: int, target: int, start: int, at: int, length: int) -> None:
    """Copy ``length`` bytes from ``start`` in ``source`` to ``at`` in ``target``."""
    done = 0
    while done < length:
        try:
            copied = os.copy_file_range(source, target, length - done, start + done, at + done)
        except OSError:  # not supported between these files: through user space
            copied = len(_pread_into(source, target, start + done, at + done, length - done))
        if copied == 0:
            raise OSError("the stored shard ended before its index said")
        done += copied


def _pread_into(source: int, target: int, start: int, at: int, length: int) -> bytes:
    block = os.pread(source, min(length, 2**20), start)
    if block:
        os.pwrite(target, block, at)
    return block


def create_staging(target: ShardTarget) -> None:
    """Create this write's staging directory, before any of its tasks runs.

    Tasks never create it: once :func:`remove_staging` has deleted it (a failed write),
    a task still running elsewhere fails to open its file instead of leaving one behind.
    """
    target.staging.mkdir()


def remove_staging(target: ShardTarget, attempts: int = 20) -> None:
    """Delete this write's staging directory (after a failure, or its leftovers).

    A task of a failed write may still be appending when the write is abandoned, so the
    removal is retried until the directory is gone; then no task can recreate it.
    """
    for _ in range(attempts):
        shutil.rmtree(target.staging, ignore_errors=True)
        if not target.staging.exists():
            return
        time.sleep(0.05)
