"""What a write reports, and the memory it is planned to stay under.

:class:`WriteReport` (one per write) lists a :class:`LevelReport` per level written;
:func:`predicted_peak` is the memory model the shard shape is chosen by: a write task
holds its decoded shard plus the source block it came from, so the peak of a write is
about ``workers * shard_bytes * PEAK_FACTOR``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dask

__all__ = ["PEAK_FACTOR", "LevelReport", "WriteReport", "predicted_peak"]

#: Bytes held per write task, in units of one decoded shard: the source block, the
#: shard handed to zarrs and zarrs' encoded output (measured in benchmarks/bench_write.py).
PEAK_FACTOR = 6.0


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


def predicted_peak(shard_shape: Sequence[int], itemsize: int, workers: int) -> int:
    """Predicted peak memory of a write: ``workers * shard_bytes * PEAK_FACTOR``.

    Parameters
    ----------
    shard_shape : sequence of int
    itemsize : int
        Bytes per element.
    workers : int
        Write tasks running at once.

    Returns
    -------
    int
        Bytes.
    """
    return int(workers * math.prod(shard_shape) * itemsize * PEAK_FACTOR)
