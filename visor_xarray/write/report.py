"""What a write reports: the levels written and the peak memory predicted.

:class:`WriteReport` (one per write) lists a :class:`LevelReport` per level written and
the peak memory the write was planned under (:mod:`visor_xarray.write.memory`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from visor_xarray.zarr_io.remote_path import Location

__all__ = ["BATCH_FACTOR", "COMPUTED_OVERHEAD", "TASK_OVERHEAD", "LevelReport", "WriteReport"]

#: Bytes a write task holds whatever its block (codec state, thread buffers), and per byte
#: of the batch of inner chunks it encodes at once (their contiguous copies and their
#: encoding); and what a task holds more when its block is computed rather than a view of
#: data in memory. Fitted to measured peaks (VmHWM) of 0.5-1 GiB writes of compressible
#: and of microscopy-like content, numpy and lazy sources, on a quiet and on a busy machine
#: (tests/write/test_write_memory.py).
TASK_OVERHEAD = 6 * 2**20
BATCH_FACTOR = 2
COMPUTED_OVERHEAD = 6 * 2**20


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
        The memory the write was planned to stay under
        (:func:`visor_xarray.write.memory.predicted_peak`).
    seconds : float
        Wall time.
    workers : int
        Write tasks that could run at once.
    notes : tuple of str, optional
        Remarks about the write.
    """

    path: Location
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
