"""Chunk arithmetic: chunks grown within outer chunks towards a byte budget."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["TASK_BYTES_ENCODING", "grow_chunks"]

#: Encoding entry in which lazy results computed block by block (resampling, stitching)
#: declare the bytes their costliest block task holds; writes plan with it.
TASK_BYTES_ENCODING = "visor_task_bytes"


def grow_chunks(
    inner: Sequence[int], outer: Sequence[int], shape: Sequence[int], itemsize: int, target: int
) -> tuple[int, ...]:
    """Grow an inner chunk shape towards ``target`` bytes without crossing outer chunks.

    Each axis grows, last axis first, to a multiple of ``inner``, never beyond ``outer`` or
    ``shape``; sizes that divide ``outer`` (chunks within one shard) are preferred unless
    they are less than half the largest size that fits.

    Parameters
    ----------
    inner : sequence of int
        Inner (storage read unit) chunk shape.
    outer : sequence of int
        Shard shape (the result never crosses a shard boundary).
    shape : sequence of int
        Array shape.
    itemsize : int
        Bytes per element.
    target : int
        Target bytes per chunk; the result is the largest aligned shape not above it
        (or ``inner`` itself if that is already larger).

    Returns
    -------
    tuple of int
    """
    chunk = [max(1, min(i, s)) for i, s in zip(inner, shape, strict=True)]
    outer = [max(c, o) for c, o in zip(chunk, outer, strict=True)]

    def nbytes(candidate: Sequence[int]) -> int:
        total = itemsize
        for c in candidate:
            total *= c
        return total

    for axis in reversed(range(len(chunk))):
        base, extent = chunk[axis], min(outer[axis], shape[axis])
        tiling = largest = base
        for multiple in range(2, -(-extent // base) + 1):
            size = min(base * multiple, extent)
            if nbytes([*chunk[:axis], size, *chunk[axis + 1 :]]) > target:
                break
            largest = size
            if outer[axis] % size == 0 or size == extent:
                tiling = size
        # Prefer sizes that tile the shard evenly (no dask chunk straddles two shards, which
        # keeps later shard-aligned writes simple), unless that would more than halve the
        # chunk: a shard of 832 = 13 x 64 rows only tiles as 64 or 832. Reads do not care.
        chunk[axis] = tiling if 2 * tiling >= largest else largest
    return tuple(chunk)
