"""Atomic shard commits: a killed write leaves each shard file old or new, never truncated.

zarrs writes shard files in place, so a killed write leaves a truncated shard
(zarrs-python#185) that every later read-modify-write of that shard fails on. Every
write here encodes its shards into a hidden scratch directory beside the array
(``.{array}.partial-{token}/``) and then ``os.replace``-s each finished shard file onto
its key: a shard file holds its own index, so the rename is atomic and a killed write
leaves either the old shard or the new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import zarr
from zarr.core.array import AsyncArray
from zarr.core.chunk_key_encodings import DefaultChunkKeyEncoding
from zarr.storage import LocalStore, StorePath

from visor_xarray.zarr_io.corruption import check_shard_indexes, index_unverified, named_corruption
from visor_xarray.zarr_io.markers import SCRATCH_INFIX, read_write_marker
from visor_xarray.zarr_io.pipeline import settings_of

__all__ = ["atomic_commit_enabled", "check_guard", "set_selection_atomic"]


def atomic_commit_enabled() -> bool:
    """Read the switch of the atomic shard commit.

    Returns
    -------
    bool
        ``visor_xarray.zarr_io._ATOMIC_COMMIT``, which tests turn off to show what the
        atomic commit prevents.
    """
    from visor_xarray import zarr_io

    return bool(zarr_io._ATOMIC_COMMIT)


class _AbandonedWriteError(RuntimeError):
    """A shard finished after its write had failed or been taken over: not committed."""


def check_guard(guard: tuple[Path, str] | None) -> None:
    """Refuse to commit a shard once the write that owns it is no longer the live one."""
    if guard is None:
        return
    image, token = guard
    marker = read_write_marker(image)
    if marker is None or marker.get("token") != token or marker.get("state") != "writing":
        raise _AbandonedWriteError(
            f"{image}: the write this shard belongs to has failed or was taken over; "
            "the shard was not committed"
        )


async def set_selection_atomic(
    array: AsyncArray,  # type: ignore[type-arg]
    directory: Path,
    indexer: Any,
    value: Any,
    *args: Any,
    **kwargs: Any,
) -> None:
    """``array._set_selection`` with every touched shard committed atomically.

    Each touched shard is encoded in a scratch directory and renamed onto its key.

    Parameters
    ----------
    array : zarr.AsyncArray
        The array written.
    directory : pathlib.Path
        The array's directory, on a local store.
    indexer : Any
        The selection's indexer.
    value : Any
        The values written.
    *args, **kwargs
        Passed on to ``_set_selection``.
    """
    # The staging array has the same metadata but flat keys ("c.0.0.1"), so that zarrs
    # writes every shard as one file in one scratch directory (no nested mkdirs).
    staging_metadata = replace(
        array.metadata, chunk_key_encoding=DefaultChunkKeyEncoding(separator=".")
    )
    projections = list(indexer)
    moves: dict[str, tuple[str, bool]] = {}
    for projection in projections:
        coords = tuple(projection.chunk_coords)
        key = array.metadata.encode_chunk_key(coords)
        complete = moves.get(key, ("", True))[1] and bool(projection.is_complete_chunk)
        moves[key] = (staging_metadata.encode_chunk_key(coords), complete)
    if index_unverified(array):
        partial = [p for p in projections if not p.is_complete_chunk]
        await asyncio.to_thread(check_shard_indexes, array, partial)
    token = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    scratch = directory.parent / f".{directory.name}{SCRATCH_INFIX}{token}"
    await asyncio.to_thread(_prepare_scratch, directory, scratch, moves)
    try:
        with zarr.config.set(settings_of(array)):
            staging = AsyncArray(
                metadata=staging_metadata,
                store_path=StorePath(LocalStore(scratch)),
                config=array.config,
            )
        try:
            await staging._set_selection(indexer, value, *args, **kwargs)
        except Exception as error:
            named = await named_corruption(array, error, projections, "writing into", args, kwargs)
            if named is None:
                raise
            raise named from error
        guard = getattr(array, "_visor_guard", None)
        await asyncio.to_thread(_commit_scratch, directory, scratch, moves, guard)
    except BaseException:
        await asyncio.to_thread(shutil.rmtree, scratch, True)
        raise


def _prepare_scratch(directory: Path, scratch: Path, moves: dict[str, tuple[str, bool]]) -> None:
    """Create the scratch directory; copy in the shards the write only partly covers."""
    scratch.mkdir(parents=True)
    for key, (staged, complete) in moves.items():
        source = directory / key
        if not complete and source.is_file():
            shutil.copyfile(source, scratch / staged)


def _commit_scratch(
    directory: Path,
    scratch: Path,
    moves: dict[str, tuple[str, bool]],
    guard: tuple[Path, str] | None = None,
) -> None:
    """Move every finished shard onto its key (atomic rename); drop shards now all fill."""
    check_guard(guard)
    for key, (staged, _) in moves.items():
        source, target = scratch / staged, directory / key
        if source.is_file():
            if not target.parent.is_dir():
                target.parent.mkdir(parents=True, exist_ok=True)
            source.replace(target)
        else:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
    try:
        scratch.rmdir()
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)
