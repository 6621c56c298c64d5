"""What a write reports, and the memory it is planned to stay under.

:class:`WriteReport` (one per write) lists a :class:`LevelReport` per level written;
:func:`predicted_peak` is the memory model the write blocks are sized by: a write task
holds its block and what encoding it takes (:data:`STREAM_FACTOR` times the block), so
the peak of a write is about
``workers * block_bytes * STREAM_FACTOR``, whatever the shard size.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dask

__all__ = ["STREAM_FACTOR", "LevelReport", "WriteReport", "predicted_peak"]

#: Decoded bytes a write task holds per byte of its block: the block, the inner chunks
#: padded to full size at the edges, their encoded bytes and zarr's encode buffers
#: (measured in benchmarks/bench_write.py and tests/write/test_write_memory.py).
STREAM_FACTOR = 3.0


@dataclass(frozen=True)
class LevelReport:
    """One written resolution level.

    Parameters
    ----------
    path : str
        Level path (``"0"``, ``"1"``, ...).
    shape, shard_shape, chunk_shape : tuple of int
        Array, shard and inner chunk shapes.
    """

    path: str
    shape: tuple[int, ...]
    shard_shape: tuple[int, ...]
    chunk_shape: tuple[int, ...]


@dataclass(frozen=True)
class WriteReport:
    """What :func:`write_dataarray` wrote.

    Parameters
    ----------
    path : pathlib.Path
        The sample.
    image_type, name : str
        The image.
    levels : tuple of LevelReport
        The levels written.
    predicted_peak_bytes : int
        The memory the write was planned to stay under (:func:`predicted_peak`).
    seconds : float
        Wall time.
    workers : int
        Write tasks that could run at once.
    notes : tuple of str, optional
        Remarks about the write.
    """

    path: Path
    image_type: str
    name: str
    levels: tuple[LevelReport, ...]
    predicted_peak_bytes: int
    seconds: float
    workers: int
    notes: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        levels = ", ".join(f"{lv.path}: {lv.shape}" for lv in self.levels)
        return (
            f"wrote {self.image_type}/{self.name} to {self.path} in {self.seconds:.2f} s "
            f"({levels}); predicted peak memory {self.predicted_peak_bytes / 2**20:.0f} MiB"
        )


def _workers() -> int:
    configured = dask.config.get("num_workers", None)
    return int(configured) if configured else (os.cpu_count() or 1)


def predicted_peak(block_shape: Sequence[int], itemsize: int, workers: int) -> int:
    """Predicted peak memory of a write: ``workers * block_bytes * STREAM_FACTOR``.

    Parameters
    ----------
    block_shape : sequence of int
        The write block.
    itemsize : int
        Bytes per element.
    workers : int
        Write tasks running at once.

    Returns
    -------
    int
        Bytes.
    """
    return int(workers * math.prod(block_shape) * itemsize * STREAM_FACTOR)
