"""Corruption is named: decode failures become CorruptDataError, damaged indexes are refused.

A read that fails to decode (bad index checksum, truncated shard, undecodable chunk)
raises :class:`~visor_xarray.errors.CorruptDataError` naming the shard file(s) the
selection touched, instead of zarrs' bare ``RuntimeError``. Shard indexes zarrs cannot
verify, and chunk geometry whose buffers it could not allocate, are checked in Python
first: zarrs would abort the whole process on them instead of raising.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.core.array import AsyncArray
from zarr.core.indexing import BasicIndexer
from zarr.storage import LocalStore

from visor_xarray.errors import CorruptDataError, MetadataError, VisorError

__all__ = [
    "MAX_CHUNK_BYTES",
    "MAX_INDEX_BYTES",
    "array_dir",
    "check_chunk_geometry",
    "check_shard_indexes",
    "index_unverified",
    "is_decode_error",
    "named_corruption",
    "shard_file",
    "shard_index_problem",
    "sharding_codec",
]

#: Largest shard index (bytes) and decoded inner chunk (bytes) an array may declare:
#: zarrs allocates both up front and aborts the process when the allocation fails.
MAX_INDEX_BYTES = 2**30
MAX_CHUNK_BYTES = 2**32


def is_decode_error(error: BaseException) -> bool:
    """True if ``error`` is what zarrs or zarr-python raise for undecodable stored bytes.

    zarrs raises ``RuntimeError`` (bad index checksum, truncated shard, blosc failure) or
    ``OSError`` without an errno (zstd/gzip stream errors); zarr-python's own pipeline
    raises ``ValueError`` (checksum), ``RuntimeError`` (blosc) or ``zlib.error``. Library
    errors and operating-system errors (with an errno: missing file, permissions) are not
    decode errors.

    Parameters
    ----------
    error : BaseException

    Returns
    -------
    bool
    """
    if isinstance(error, VisorError):
        return False
    if isinstance(error, OSError):
        return error.errno is None
    if isinstance(error, RuntimeError | ValueError | zlib.error):
        return "byte order" not in str(error)
    return False


def array_dir(async_array: AsyncArray) -> Path | None:  # type: ignore[type-arg]
    """Directory of an array on a local store.

    Parameters
    ----------
    async_array : zarr.AsyncArray

    Returns
    -------
    pathlib.Path or None
        None for an array that is not on a local filesystem store.
    """
    store = async_array.store_path.store
    if not isinstance(store, LocalStore):
        return None
    path = async_array.store_path.path
    return Path(store.root) / path if path else Path(store.root)


def shard_file(array: zarr.Array | AsyncArray, coords: Sequence[int]) -> Path | None:  # type: ignore[type-arg]
    """Path of the file that stores the shard (or, unsharded, the chunk) at grid ``coords``.

    Parameters
    ----------
    array : zarr.Array or zarr.AsyncArray
        An array on a local store.
    coords : sequence of int
        Position in the outer chunk grid.

    Returns
    -------
    pathlib.Path or None
        None for arrays that are not on a local filesystem store.
    """
    inner = array.async_array if isinstance(array, zarr.Array) else array
    directory = array_dir(inner)
    if directory is None:
        return None
    key: str = inner.metadata.encode_chunk_key(tuple(int(c) for c in coords))
    return directory / key


def sharding_codec(metadata: Any) -> Any:
    """The sharding codec of an array.

    Parameters
    ----------
    metadata : Any
        The array's metadata.

    Returns
    -------
    Any
        Its ``ShardingCodec``, or None (unsharded, or not Zarr v3).
    """
    codecs: Sequence[Any] = tuple(getattr(metadata, "codecs", ()))
    if len(codecs) == 1 and type(codecs[0]).__name__ == "ShardingCodec":
        return codecs[0]
    return None


# ------------------------------------------------------------- naming corrupt shards


def _touched_shards(projections: Iterable[Any]) -> Iterator[tuple[tuple[int, ...], Any]]:
    """``(grid coords, first projection)`` of each shard a selection touches, once each."""
    seen: set[tuple[int, ...]] = set()
    for projection in projections:
        coords = tuple(int(c) for c in projection.chunk_coords)
        if coords in seen:
            continue
        seen.add(coords)
        yield coords, projection


def _bounding_box(
    coords: Sequence[int], selection: Any, grid: Sequence[int], shape: Sequence[int]
) -> tuple[slice, ...]:
    """Array-space bounding box of one chunk projection's in-chunk selection."""
    if not isinstance(selection, tuple):
        selection = (selection,)
    box = []
    for axis, (c, n, size) in enumerate(zip(coords, grid, shape, strict=True)):
        origin = int(c) * int(n)
        extent = min(int(n), int(size) - origin)
        part = selection[axis] if axis < len(selection) else slice(None)
        if isinstance(part, slice):
            start, stop, _ = part.indices(extent)
            low, high = start, max(start + 1, stop)
        elif isinstance(part, np.ndarray):
            values = np.nonzero(part.ravel())[0] if part.dtype == bool else part.ravel()
            low, high = (int(values.min()), int(values.max()) + 1) if values.size else (0, 1)
        else:
            low, high = int(part), int(part) + 1
        box.append(slice(origin + low, min(origin + high, int(size))))
    return tuple(box)


async def _find_corrupt(
    async_array: AsyncArray,  # type: ignore[type-arg]
    projections: Iterable[Any],
    prototype: Any,
) -> list[tuple[Path | str, str]]:
    """Re-read each touched shard alone; return ``(file, message)`` of those that fail."""
    metadata = async_array.metadata
    grid = tuple(metadata.chunk_grid.chunk_shape)
    bad: list[tuple[Path | str, str]] = []
    for coords, projection in _touched_shards(projections):
        box = _bounding_box(coords, projection.chunk_selection, grid, metadata.shape)
        indexer = BasicIndexer(box, shape=metadata.shape, chunk_grid=metadata.chunk_grid)
        try:
            await AsyncArray._get_selection(async_array, indexer, prototype=prototype)
        except Exception as error:
            if not is_decode_error(error):
                raise
            file = shard_file(async_array, coords) or metadata.encode_chunk_key(coords)
            bad.append((file, f"{type(error).__name__}: {error}"))
    return bad


def _corrupt_error(
    async_array: AsyncArray,  # type: ignore[type-arg]
    bad: list[tuple[Path | str, str]],
    action: str,
) -> CorruptDataError:
    where = array_dir(async_array)
    first, message = bad[0]

    def short(file: Path | str) -> str:
        if where is not None and isinstance(file, Path) and file.is_relative_to(where):
            return str(file.relative_to(where))
        return str(file)

    listed = ", ".join(short(f) for f, _ in bad[:5]) + (" ..." if len(bad) > 5 else "")
    detail = (
        f"{message} (while {action} {len(bad)} bad shard file(s) of the array "
        f"{where or async_array.store_path}: {listed}). Restore the file(s) from a copy or "
        "rewrite the image; visor_xarray.validate.validate(path, deep=True) lists every bad shard"
    )
    error = CorruptDataError(first, detail)
    error.files = [Path(f) for f, _ in bad]  # type: ignore[attr-defined]
    return error


async def named_corruption(
    async_array: AsyncArray,  # type: ignore[type-arg]
    error: Exception,
    projections: Iterable[Any],
    action: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> CorruptDataError | None:
    """The error naming the bad shards behind a failed selection.

    Parameters
    ----------
    async_array : zarr.AsyncArray
        The array the selection failed on.
    error : Exception
        What the selection raised.
    projections : iterable
        The selection's chunk projections (its indexer).
    action : str
        ``"reading"`` or ``"writing"``, for the message.
    args, kwargs
        Those of the failed ``_get_selection``/``_set_selection`` after the indexer (and
        value), to retry each touched shard alone.

    Returns
    -------
    CorruptDataError or None
        None if ``error`` is no decode error, or no touched shard fails alone.
    """
    if not is_decode_error(error):
        return None
    prototype = kwargs.get("prototype", args[0] if args else None)
    bad = await _find_corrupt(async_array, projections, prototype)
    if not bad:
        return None
    return _corrupt_error(async_array, bad, action)


# ------------------------------------------------------------ index / geometry checks


def shard_index_problem(file: Path, metadata: Any, *, verify_checksum: bool = True) -> str | None:
    """Check a shard file's index against the array metadata, in Python, before zarrs reads it.

    zarrs trusts the offsets and lengths of a shard index it cannot verify: with no
    ``crc32c`` index codec (or checksums turned off), a misread index (metadata that does
    not match the stored shards, a flipped bit) makes it allocate terabytes and abort the
    whole process instead of raising. This check reads only the index.

    Parameters
    ----------
    file : pathlib.Path
        A shard file.
    metadata : zarr.core.metadata.ArrayV3Metadata
        The array's metadata.
    verify_checksum : bool, default True
        Also compare the index's ``crc32c`` (off when the user turned checksums off).

    Returns
    -------
    str or None
        Why the index cannot be used, or None if it is consistent (or the array's index
        codecs are not the standard ``bytes`` [+ ``crc32c``]).
    """
    sharding = sharding_codec(metadata)
    if sharding is None:
        return None
    codecs = [type(c).__name__ for c in sharding.index_codecs]
    if codecs not in (["BytesCodec"], ["BytesCodec", "Crc32cCodec"]):
        return None
    has_crc = len(codecs) == 2
    endian = getattr(sharding.index_codecs[0], "endian", None)
    byteorder = ">" if getattr(endian, "value", endian) == "big" else "<"
    outer = metadata.chunk_grid.chunk_shape
    count = int(np.prod([o // i for o, i in zip(outer, sharding.chunk_shape, strict=True)]))
    index_size = 16 * count + (4 if has_crc else 0)
    at_end = getattr(sharding.index_location, "value", sharding.index_location) == "end"
    try:
        size = file.stat().st_size
        if size < index_size:
            return f"the file has {size} bytes, fewer than its index needs ({index_size} bytes)"
        with open(file, "rb") as stream:
            stream.seek(size - index_size if at_end else 0)
            raw = stream.read(index_size)
    except OSError as error:
        return f"cannot be read: {error}"
    body = raw[:-4] if has_crc else raw
    if has_crc and verify_checksum:
        import google_crc32c

        if google_crc32c.value(body) != int.from_bytes(raw[-4:], "little"):
            return "the checksum of the shard index does not match"
    pairs = np.frombuffer(body, dtype=f"{byteorder}u8").reshape(-1, 2)
    used = pairs[pairs[:, 0] != np.uint64(2**64 - 1)]
    low, high = (0, size - index_size) if at_end else (index_size, size)
    if used.size and (
        (used[:, 0] < low).any()
        or (used[:, 1] > high).any()
        or (used[:, 0] > high - used[:, 1]).any()
    ):
        return f"the shard index points outside the file ({size} bytes)"
    return None


def _checksums_off(async_array: AsyncArray) -> bool:  # type: ignore[type-arg]
    """True if the array was built with ``validate_checksums`` turned off."""
    settings = getattr(async_array, "_visor_settings", None) or {}
    return settings.get("codec_pipeline.validate_checksums") is False


def index_unverified(async_array: AsyncArray) -> bool:  # type: ignore[type-arg]
    """Tell whether zarrs would use shard indexes it cannot verify.

    Parameters
    ----------
    async_array : zarr.AsyncArray

    Returns
    -------
    bool
        True for a sharded array whose index has no CRC32C codec, or whose checksums are
        turned off (see :func:`shard_index_problem`).
    """
    sharding = sharding_codec(async_array.metadata)
    if sharding is None:
        return False
    has_crc = any(type(c).__name__ == "Crc32cCodec" for c in sharding.index_codecs)
    return not has_crc or _checksums_off(async_array)


def check_shard_indexes(async_array: AsyncArray, projections: Iterable[Any]) -> None:  # type: ignore[type-arg]
    """Refuse to let zarrs read a shard whose unverifiable index is inconsistent.

    Parameters
    ----------
    async_array : zarr.AsyncArray
        The array about to be read.
    projections : iterable
        The selection's chunk projections.

    Raises
    ------
    CorruptDataError
        Naming every touched shard whose index is inconsistent.
    """
    bad: list[tuple[Path | str, str]] = []
    for coords, _ in _touched_shards(projections):
        file = shard_file(async_array, coords)
        if file is None or not file.is_file():
            continue
        verify = not _checksums_off(async_array)
        problem = shard_index_problem(file, async_array.metadata, verify_checksum=verify)
        if problem is not None:
            bad.append((file, f"inconsistent shard index: {problem}"))
    if bad:
        raise _corrupt_error(async_array, bad, "checking")


def check_chunk_geometry(metadata: Any, file: object) -> None:
    """Refuse chunk geometry whose buffers zarrs could not allocate (it would abort).

    Parameters
    ----------
    metadata : Any
        The array's metadata.
    file : pathlib.Path
        Its ``zarr.json``, for the error.

    Raises
    ------
    MetadataError
        If an inner chunk exceeds :data:`MAX_CHUNK_BYTES` or a shard index
        :data:`MAX_INDEX_BYTES`.
    """
    native = getattr(metadata.dtype, "to_native_dtype", None)
    itemsize = np.dtype(native()).itemsize if native is not None else 1
    outer = tuple(int(c) for c in metadata.chunk_grid.chunk_shape)
    sharding = sharding_codec(metadata)
    inner = tuple(int(c) for c in sharding.chunk_shape) if sharding is not None else outer
    chunk_bytes = int(np.prod(inner, dtype=object)) * itemsize
    if chunk_bytes > MAX_CHUNK_BYTES:
        raise MetadataError(
            file,
            "chunk_grid",
            f"chunks of {list(inner)} ({chunk_bytes} bytes decoded) are "
            f"larger than {MAX_CHUNK_BYTES} bytes; the metadata is probably damaged",
        )
    if sharding is not None:
        count = int(
            np.prod([o // max(1, i) for o, i in zip(outer, inner, strict=True)], dtype=object)
        )
        if 16 * count > MAX_INDEX_BYTES:
            raise MetadataError(
                file,
                "chunk_grid",
                f"shards of {list(outer)} hold {count} chunks of {list(inner)}: "
                f"a {16 * count}-byte shard index; the metadata is probably damaged",
            )
