"""How a copied level is stored: shard and inner chunk shapes, and compressors.

A level is copied byte for byte unless the caller asks for another encoding
(``shard_shape``, ``chunk_shape``, ``compressors``) or the source is in the legacy layout
(Zarr v2 chunks become sharded Zarr v3). Whatever the caller leaves out is taken from the
source level: its inner chunk (no larger than a shard asked for), its shard (or, for an
unsharded source, VISoR's standard shard, as ``to_vsr`` chooses it) and its compressors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from visor_xarray.errors import InvalidArrayError
from visor_xarray.write.layouts import standard_shards
from visor_xarray.zarr_io.codecs import compressors_problem, v3_compressors

__all__ = ["LevelEncoding", "ShapeSpec", "check_compressors", "check_shape_spec", "level_encoding"]

#: A shard or chunk shape for every image: sizes of the last dims (``(z, y, x)``), or a
#: mapping from dim name to size. Dims not given keep the source's sizes.
ShapeSpec = Sequence[int] | Mapping[str, int]

_DIMS = ("vs", "ch", "z", "y", "x")


@dataclass(frozen=True)
class LevelEncoding:
    """Shard and inner chunk shapes and compressors of one level written by a copy."""

    shard_shape: tuple[int, ...]
    chunk_shape: tuple[int, ...]
    compressors: Any
    note: str | None = None


def check_shape_spec(spec: ShapeSpec | None, what: str) -> None:
    """Refuse a malformed ``shard_shape`` / ``chunk_shape`` before anything is written.

    Raises
    ------
    InvalidArrayError
        For sizes that are not positive integers, more than five sizes, or unknown dims.
    """
    if spec is None:
        return
    items = list(spec.items()) if isinstance(spec, Mapping) else list(enumerate(spec))
    if isinstance(spec, Mapping):
        unknown = [key for key in spec if key not in _DIMS]
        if unknown:
            raise InvalidArrayError(f"{what}: unknown dims {unknown}; VISoR images use {_DIMS}")
    elif isinstance(spec, str | bytes) or len(items) > len(_DIMS) or not items:
        raise InvalidArrayError(f"{what}={spec!r}: give 1 to 5 sizes (the last dims) or a dict")
    for _, size in items:
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
            raise InvalidArrayError(f"{what}={spec!r}: sizes must be positive integers")


def check_compressors(compressors: Any) -> None:
    """Refuse compressors zarr cannot build a Zarr v3 array with, before anything is written.

    Raises
    ------
    InvalidArrayError
        Naming the value and zarr's reason.
    """
    if compressors is None:
        return
    problem = compressors_problem(compressors)
    if problem is not None:
        raise InvalidArrayError(
            f"compressors={compressors!r} cannot encode a Zarr v3 array: {problem}"
        )


def _sizes(spec: ShapeSpec | None, dims: Sequence[str]) -> dict[str, int]:
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        return {str(dim): int(size) for dim, size in spec.items() if dim in dims}
    values = [int(size) for size in spec]
    if len(values) > len(dims):
        raise InvalidArrayError(
            f"{values} gives {len(values)} sizes for an image with dims {tuple(dims)}"
        )
    return dict(zip(dims[len(dims) - len(values) :], values, strict=True))


def level_encoding(
    source: Any,
    dims: Sequence[str],
    where: Path,
    *,
    shard_shape: ShapeSpec | None,
    chunk_shape: ShapeSpec | None,
    compressors: Any,
) -> LevelEncoding:
    """The encoding of one re-encoded level (the caller's, completed from the source).

    Parameters
    ----------
    source : zarr.Array
        The source level.
    dims : sequence of str
        The image's dims, in array order.
    where : pathlib.Path
        The source level directory, for messages.
    shard_shape, chunk_shape : sequence of int or mapping, optional
        As for :func:`visor_xarray.copy_sample`.
    compressors : zarr codec or sequence of codecs, optional
        As for :func:`visor_xarray.copy_sample`.

    Returns
    -------
    LevelEncoding
        The shard is clipped to the level (rounded up to whole inner chunks), so coarse
        levels do not get shards far larger than themselves.

    Raises
    ------
    InvalidArrayError
        If the shard is not a multiple of the inner chunk on every axis, or a sequence
        gives more sizes than the image has dims.
    """
    shape = tuple(int(s) for s in source.shape)
    given_chunks = _sizes(chunk_shape, dims)
    given_shards = _sizes(shard_shape, dims)
    chunks = tuple(given_chunks.get(d, int(c)) for d, c in zip(dims, source.chunks, strict=True))
    # a shard asked smaller than the source's chunk takes that size as its chunk too
    chunks = tuple(
        min(c, given_shards[d]) if d in given_shards and d not in given_chunks else c
        for d, c in zip(dims, chunks, strict=True)
    )
    stored = source.shards
    if stored is not None and all(s % c == 0 for s, c in zip(stored, chunks, strict=True)):
        default = tuple(int(s) for s in stored)
    else:  # unsharded (Zarr v2) or chunks the stored shard does not tile: the standard one
        default = standard_shards(dims, shape, chunks)
    shards = tuple(given_shards.get(d, s) for d, s in zip(dims, default, strict=True))
    if any(s % c for s, c in zip(shards, chunks, strict=True)):
        raise InvalidArrayError(
            f"{where}: shard shape {shards} is not a multiple of the inner chunk {chunks} on "
            f"every dim {tuple(dims)}; give shard_shape and chunk_shape that fit"
        )
    shards = tuple(
        min(s, math.ceil(n / c) * c) if n else s
        for s, c, n in zip(shards, chunks, shape, strict=True)
    )
    note = None
    if compressors is None:
        compressors, note = v3_compressors(source)
    return LevelEncoding(shards, chunks, compressors, note)
