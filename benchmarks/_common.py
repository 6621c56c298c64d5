"""Shared helpers for the benchmark scripts: timing, RSS, tables, environment, samples.

Nothing here is part of the library. Scripts import it as ``from _common import ...``
(they put their own directory on ``sys.path``), so this file has no package around it.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import gc
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DATA_DIR",
    "GB",
    "GIB",
    "Contender",
    "PeakRSS",
    "RawSample",
    "environment_lines",
    "format_bytes",
    "gb_per_s",
    "load_line",
    "make_raw_sample",
    "markdown_table",
    "page_fault_seconds",
    "paired_ratio",
    "peak_rss_bytes",
    "raw_block",
    "raw_shape",
    "raw_volume",
    "release_free_memory",
    "reset_peak_rss",
    "rss_bytes",
    "run_interleaved",
    "run_json_worker",
    "stored_bytes",
    "summarise",
    "tile_pool",
    "warm_page_cache",
    "work_directory",
]

GB = 10**9  # throughput is reported in decimal GB/s
GIB = 2**30

#: Default home of benchmark samples (gitignored).
DATA_DIR = Path(__file__).resolve().parent / "_data"

#: Environment variables that change how many threads the libraries use.
THREAD_VARIABLES = (
    "RAYON_NUM_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "BLOSC_NTHREADS",
    "DASK_NUM_WORKERS",
    "VISOR_PY_DISABLE_ZARRS",
)


# --------------------------------------------------------------------------- formatting


def format_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def gb_per_s(nbytes: int, seconds: float) -> float:
    """Decimal GB per second."""
    return nbytes / seconds / GB if seconds > 0 else float("inf")


def markdown_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None
) -> str:
    """A GitHub-flavoured Markdown table with padded columns.

    Parameters
    ----------
    headers : sequence of str
    rows : sequence of sequences
        Cells are converted with ``str``.
    align : str, optional
        One character per column: ``l``, ``r`` or ``c`` (default: first left, rest right).
    """
    align = align or "l" + "r" * (len(headers) - 1)
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        padded = [
            cell.ljust(w) if a == "l" else cell.center(w) if a == "c" else cell.rjust(w)
            for cell, w, a in zip(row, widths, align, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    rules = {"l": ":{}", "r": "{}:", "c": ":{}:"}
    sep = [
        rules[a].format("-" * max(1, w - (2 if a == "c" else 1)))
        for w, a in zip(widths, align, strict=True)
    ]
    return "\n".join([line(cells[0]), "| " + " | ".join(sep) + " |", *map(line, cells[1:])])


# --------------------------------------------------------------------------- memory


def rss_bytes() -> int:
    """Current resident set size of this process (``VmRSS``), in bytes."""
    return _proc_status_kib("VmRSS") * 1024


def peak_rss_bytes() -> int:
    """Peak resident set size (``VmHWM``) since start or the last :func:`reset_peak_rss`."""
    return _proc_status_kib("VmHWM") * 1024


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux ``clear_refs`` 5); False if not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def release_free_memory() -> None:
    """Collect garbage and return free heap memory to the OS (glibc ``malloc_trim``)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _proc_status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not found in /proc/self/status")


class PeakRSS:
    """Measure the peak RSS growth of a block: ``with PeakRSS() as m: ...; m.growth``.

    Uses the kernel's high-water mark when it can be reset, and otherwise samples
    ``VmRSS`` every ``interval`` seconds from a thread (which can miss short spikes).
    """

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.start = 0
        self.peak = 0
        self.exact = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def growth(self) -> int:
        """Peak RSS during the block minus RSS at its start, in bytes."""
        return max(0, self.peak - self.start)

    def __enter__(self) -> PeakRSS:
        release_free_memory()
        self.start = rss_bytes()
        self.exact = reset_peak_rss()
        if not self.exact:
            self.peak = self.start
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc: object) -> None:
        if self.exact:
            self.peak = peak_rss_bytes()
        else:
            self._stop.set()
            assert self._thread is not None
            self._thread.join()
            self.peak = max(self.peak, rss_bytes())


# --------------------------------------------------------------------------- timing


@dataclasses.dataclass
class Contender:
    """One way of doing the measured operation.

    ``setup()`` runs untimed before every timed call and returns the callable to time
    (open files there, so that only the read is timed); ``check(result)`` runs untimed
    after it (e.g. compare with the expected data) and may raise.
    """

    name: str
    setup: Callable[[], Callable[[], Any]]
    check: Callable[[Any], None] | None = None
    note: str = ""
    times: list[float] = dataclasses.field(default_factory=list)
    #: CPU seconds (all threads of this process) of each timed call: robust to load.
    cpu_times: list[float] = dataclasses.field(default_factory=list)
    error: str | None = None
    #: Peak RSS growth during the first (warm-up) call, if measured.
    peak_rss: int | None = None


def run_interleaved(
    contenders: Sequence[Contender],
    repeats: int,
    *,
    warmup: int = 1,
    measure_rss: bool = False,
    log: bool = True,
) -> list[float]:
    """Time every contender ``repeats`` times, round-robin, after ``warmup`` untimed rounds.

    Rounds interleave the contenders (and rotate who goes first), so that background load
    on a shared machine affects all of them alike. Results land in ``Contender.times``; a
    contender that raises is dropped with its error in ``Contender.error``. With
    ``measure_rss``, the first call of each contender (a warm-up call when ``warmup`` > 0)
    also records its peak RSS growth in ``Contender.peak_rss``.

    Returns
    -------
    list of float
        The 1-minute load average after each timed round.
    """
    total = warmup + repeats
    loads: list[float] = []
    for round_index in range(total):
        shift = round_index % max(1, len(contenders))
        order = list(contenders[shift:]) + list(contenders[:shift])
        for contender in order:
            if contender.error is not None:
                continue
            try:
                fn = contender.setup()
                gc.collect()
                if measure_rss and round_index == 0:
                    with PeakRSS() as memory:
                        cpu, start = time.process_time(), time.perf_counter()
                        result = fn()
                        elapsed = time.perf_counter() - start
                        cpu = time.process_time() - cpu
                    contender.peak_rss = memory.growth
                else:
                    cpu, start = time.process_time(), time.perf_counter()
                    result = fn()
                    elapsed = time.perf_counter() - start
                    cpu = time.process_time() - cpu
                if contender.check is not None:
                    contender.check(result)
                del result, fn
            except Exception as error:  # a contender failing must not end the benchmark
                contender.error = f"{type(error).__name__}: {error}"
                if log:
                    print(f"  ! {contender.name}: {contender.error}", file=sys.stderr)
                continue
            if round_index >= warmup:
                contender.times.append(elapsed)
                contender.cpu_times.append(cpu)
        if round_index >= warmup:
            loads.append(os.getloadavg()[0])
        if log:
            label = "warm-up" if round_index < warmup else f"run {round_index - warmup + 1}"
            print(f"  {label}/{repeats} done (load {load_line()})", file=sys.stderr)
    return loads


def summarise(times: Sequence[float]) -> dict[str, float]:
    """Median, minimum, maximum and relative spread ((max - min) / median) of ``times``."""
    if not times:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "spread": 0}
    median = statistics.median(times)
    return {
        "median": median,
        "min": min(times),
        "max": max(times),
        "spread": (max(times) - min(times)) / median if median else 0.0,
    }


def paired_ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """Median over rounds of ``numerator[i] / denominator[i]`` (NaN if not paired).

    With :func:`run_interleaved`, entry ``i`` of both lists was timed in the same round,
    seconds apart, so a paired ratio cancels most of the slow drift of background load.
    """
    if not numerator or len(numerator) != len(denominator):
        return float("nan")
    return statistics.median(a / b for a, b in zip(numerator, denominator, strict=True))


# --------------------------------------------------------------------------- environment


def load_line() -> str:
    """``os.getloadavg()`` as ``"0.52 0.40 0.31"`` (1, 5, 15 minutes)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def environment_lines(extra_distributions: Sequence[str] = ()) -> list[str]:
    """Human-readable lines describing the machine, library versions and thread settings."""
    import zarr

    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    distributions = [
        "visor-xarray",
        "zarr",
        "zarrs",
        "numpy",
        "numcodecs",
        "xarray",
        "dask",
        *extra_distributions,
    ]
    versions = ", ".join(f"{d} {_version(d)}" for d in distributions)
    threads = {v: os.environ[v] for v in THREAD_VARIABLES if v in os.environ}
    try:
        import dask

        dask_line = (
            f"dask scheduler {dask.config.get('scheduler', 'threads (default)')}, "
            f"num_workers {dask.config.get('num_workers', None) or os.cpu_count()} "
            "(threaded scheduler default = cpu_count)"
        )
    except ImportError:
        dask_line = "dask not installed"
    try:
        from visor_xarray import get_options

        options = get_options()
    except ImportError:
        options = {}
    return [
        f"python {platform.python_version()} on {platform.platform()}",
        f"os.cpu_count() = {os.cpu_count()}, usable CPUs (affinity) = {affinity}",
        f"load average (1/5/15 min) at start: {load_line()}",
        f"versions: {versions}",
        "thread environment variables: "
        + (", ".join(f"{k}={v}" for k, v in threads.items()) or "none set"),
        f"zarr config: threading.max_workers={zarr.config.get('threading.max_workers')}, "
        f"async.concurrency={zarr.config.get('async.concurrency')}, "
        f"global codec_pipeline.path={zarr.config.get('codec_pipeline.path')}",
        "zarrs: rayon pool = all CPUs unless threading.max_workers is set; "
        "chunk_concurrent_maximum="
        f"{zarr.config.get('codec_pipeline.chunk_concurrent_maximum', None)} (None = CPUs)",
        dask_line,
        "visor_xarray options: "
        + ", ".join(f"{k}={v}" for k, v in options.items() if k != "write_memory_budget"),
    ]


def warm_page_cache(path: Path) -> int:
    """Read every file under ``path`` once (so timed reads measure decoding, not disk)."""
    total = 0
    for file in sorted(p for p in Path(path).rglob("*") if p.is_file()):
        with open(file, "rb") as stream:
            while block := stream.read(16 * 2**20):
                total += len(block)
    return total


def _touch_seconds(nbytes: int) -> float:
    """Seconds to allocate ``nbytes`` and write one byte per page (then free them)."""
    start = time.perf_counter()
    block = np.empty(nbytes, dtype=np.uint8)
    block[::4096] = 1
    elapsed = time.perf_counter() - start
    del block
    return elapsed


def page_fault_seconds(nbytes: int, times: int = 2) -> list[float]:
    """Seconds to first-touch ``nbytes`` of freshly allocated memory, ``times`` times.

    Every contender reads into a fresh array and pays this; on a VM the first touch of
    memory the guest has not used recently can cost far more than later ones.
    """
    out = []
    for _ in range(times):
        release_free_memory()
        out.append(_touch_seconds(nbytes))
    return out


def retouch_seconds(nbytes: int, idle_seconds: float = 2.0) -> tuple[float, float]:
    """Seconds to touch ``nbytes`` again right after freeing it, and after ``idle_seconds``.

    A VM whose balloon driver reports free pages to the host (Linux free page reporting)
    hands freed memory back after about a second; touching it again then costs as much
    as a first touch. A read that peaks at twice its output pays that on its second half.
    """
    _touch_seconds(nbytes)
    right_after = _touch_seconds(nbytes)
    time.sleep(idle_seconds)
    return right_after, _touch_seconds(nbytes)


@contextlib.contextmanager
def work_directory(workdir: Path | None, keep: bool, prefix: str) -> Iterator[Path]:
    """A directory for benchmark data: ``workdir`` itself, or a new one under ``_data/``.

    A new directory is removed afterwards unless ``keep``; a given ``workdir`` never is.
    """
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        yield workdir
        return
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=DATA_DIR))
    try:
        yield path
    finally:
        if keep:
            print(f"kept benchmark data in {path}", file=sys.stderr)
        else:
            # a write still finishing in a worker thread (e.g. after SIGTERM) can recreate
            # files while we delete: retry briefly
            for _ in range(20):
                shutil.rmtree(path, ignore_errors=True)
                if not path.exists():
                    break
                time.sleep(0.25)


# --------------------------------------------------------------------------- samples

#: A raw VISoR frame: 788 rows of 2048 pixels (schema: image_size "2048x788").
FRAME_YX = (788, 2048)
#: Raw-image inner chunk (schema typical value).
RAW_CHUNK = (1, 1, 64, 64, 64)
#: Largest shard depth we write (the schema's typical raw shard is 8192 frames deep).
MAX_SHARD_Z = 256


@dataclasses.dataclass(frozen=True)
class RawSample:
    """A benchmark sample written by :func:`make_raw_sample`."""

    path: Path
    image_type: str
    name: str
    level_dir: Path
    image_dir: Path
    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    shards: tuple[int, ...]
    dtype: np.dtype[Any]
    stored_bytes: int
    write_seconds: float
    generate_seconds: float

    @property
    def nbytes(self) -> int:
        """Decoded size of level 0."""
        return int(np.prod(self.shape)) * self.dtype.itemsize

    @property
    def chunk_cover_bytes(self) -> int:
        """Decoded size of all inner chunks (edge chunks reach beyond the array)."""
        cover = [-(-s // c) * c for s, c in zip(self.shape, self.chunks, strict=True)]
        return int(np.prod(cover)) * self.dtype.itemsize

    def describe(self) -> str:
        return (
            f"{self.image_type}/{self.name} level 0: shape {self.shape} {self.dtype}, "
            f"inner chunk {self.chunks}, shard {self.shards}, blosc zstd 5 shuffle; "
            f"{format_bytes(self.nbytes)} decoded, {format_bytes(self.stored_bytes)} stored "
            f"(ratio {self.nbytes / max(1, self.stored_bytes):.2f}); its inner chunks hold "
            f"{self.chunk_cover_bytes / self.nbytes:.2f}x the level's bytes (edge chunks)"
        )


def _tile_pool(depth: int, count: int, seed: int) -> list[np.ndarray]:
    from visor_xarray.testing.samples import synthetic_volume

    return [synthetic_volume((depth, 256, 256), seed=seed + i, blobs=12) for i in range(count)]


def fill_block(out: np.ndarray, pool: Sequence[np.ndarray], key: int) -> None:
    """Fill a (z, y, x) block with tiles from ``pool``, flipped differently per position."""
    rng = np.random.default_rng(key)
    depth, height, width = out.shape
    tile_z, tile_y, tile_x = pool[0].shape
    for z0 in range(0, depth, tile_z):
        for y0 in range(0, height, tile_y):
            for x0 in range(0, width, tile_x):
                tile = pool[int(rng.integers(len(pool)))]
                flips = rng.integers(0, 2, size=3)
                tile = tile[tuple(slice(None, None, -1 if f else 1) for f in flips)]
                dz, dy, dx = (
                    min(tile_z, depth - z0),
                    min(tile_y, height - y0),
                    min(tile_x, width - x0),
                )
                out[z0 : z0 + dz, y0 : y0 + dy, x0 : x0 + dx] = tile[:dz, :dy, :dx]


def make_raw_sample(
    path: Path,
    size_bytes: int,
    *,
    stacks: int | None = None,
    name: str = "slice_1_10x",
    seed: int = 0,
    pool_size: int = 8,
    log: Callable[[str], None] | None = None,
) -> RawSample:
    """Write a VISoR-like raw image of about ``size_bytes`` decoded uint16 data.

    Shape ``(stacks, 1, z, 788, 2048)`` with ``z`` chosen for the size (``stacks``
    defaults to 2, or 1 when two stacks would be less than 64 frames deep); inner chunk
    ``(1, 1, 64, 64, 64)`` (deeper than the array when ``z < 64``); one shard
    per stack up to :data:`MAX_SHARD_Z` frames deep (``(1, 1, ceil64(z), 832, 2048)``:
    the schema's typical raw shard ``(1, 1, 8192, 832, 2048)`` with fewer frames, so
    that a write holds at most ~870 MB decoded); blosc zstd 5 + shuffle.

    Content: a pool of ``pool_size`` microscopy-like tiles (64 x 256 x 256, from
    :func:`visor_xarray.testing.synthetic_volume`: background, noise, blobs, fibres),
    placed with a random flip per position. ``synthetic_volume`` runs at ~10 MB/s, so
    generating 1 GiB directly would take minutes; the tiles compress like the volume
    they come from (blosc works per 64^3 inner chunk, it cannot see repeats across
    chunks). Written through ``vx.Image(...).create`` (real metadata), one whole shard
    at a time through the zarrs pipeline, holding one shard decoded at most.
    """
    import visor_xarray as vx
    from visor_xarray.testing.samples import image_attributes

    frame_bytes = FRAME_YX[0] * FRAME_YX[1] * 2
    if stacks is None:
        stacks = 2 if size_bytes / (2 * frame_bytes) >= RAW_CHUNK[2] else 1
    depth = max(1, round(size_bytes / (stacks * frame_bytes)))
    shard_z = min(MAX_SHARD_Z, -(-depth // RAW_CHUNK[2]) * RAW_CHUNK[2])
    shard_y = -(-FRAME_YX[0] // RAW_CHUNK[3]) * RAW_CHUNK[3]
    shape = (stacks, 1, depth, *FRAME_YX)
    labels = [f"stack_{i + 1}" for i in range(stacks)]
    attrs = image_attributes(name, stacks=labels, channels=["488"], spacing=(3.5, 1.03, 1.03))

    start = time.perf_counter()
    pool = _tile_pool(min(RAW_CHUNK[2], depth), pool_size, seed)
    generate = time.perf_counter() - start
    image = vx.Image(path, type="raw", name=name, mode="w")
    array = image.create(
        resolution=0,
        dtype="uint16",
        attr=attrs,
        shape=shape,
        shard_size=(1, 1, shard_z, shard_y, FRAME_YX[1]),
        chunk_size=RAW_CHUNK,
    )
    write = 0.0
    for vs in range(stacks):
        for z0 in range(0, depth, shard_z):
            z1 = min(depth, z0 + shard_z)
            t0 = time.perf_counter()
            block = np.empty((z1 - z0, *FRAME_YX), dtype=np.uint16)
            fill_block(block, pool, key=seed * 1_000_003 + vs * 10_007 + z0)
            t1 = time.perf_counter()
            array[vs, 0, z0:z1] = block  # covers the whole shard: no read-modify-write
            t2 = time.perf_counter()
            generate += t1 - t0
            write += t2 - t1
            del block
            if log is not None:
                log(f"  wrote stack {vs} frames {z0}:{z1} ({t2 - t1:.1f} s)")
    level_dir = image.path / "0"
    stored = sum(p.stat().st_size for p in level_dir.rglob("*") if p.is_file())
    return RawSample(
        path=Path(path),
        image_type="raw",
        name=name,
        level_dir=level_dir,
        image_dir=image.path,
        shape=tuple(int(s) for s in array.shape),
        chunks=tuple(int(c) for c in array.chunks),
        shards=tuple(int(s) for s in (array.shards or array.chunks)),
        dtype=np.dtype(array.dtype),
        stored_bytes=stored,
        write_seconds=write,
        generate_seconds=generate,
    )


# --------------------------------------------------------------------------- raw volumes in memory
# (bench_write.py: the same content as make_raw_sample's, built in memory, in 64-frame blocks)


def raw_shape(size_bytes: int, stacks: int | None = None) -> tuple[int, int, int, int, int]:
    """Shape ``(stacks, 1, z, 788, 2048)`` of a raw image of about ``size_bytes`` (uint16).

    Same rule as :func:`make_raw_sample`: two stacks unless they would be under 64 frames
    deep.
    """
    frame_bytes = FRAME_YX[0] * FRAME_YX[1] * 2
    if stacks is None:
        stacks = 2 if size_bytes / (2 * frame_bytes) >= RAW_CHUNK[2] else 1
    depth = max(1, round(size_bytes / (stacks * frame_bytes)))
    return (stacks, 1, depth, *FRAME_YX)


def tile_pool(
    depth: int, count: int = 8, seed: int = 0, cache: Path | None = None
) -> list[np.ndarray]:
    """The tile pool of :func:`make_raw_sample` (~8 s for 64-deep tiles), cached in ``cache``.

    ``cache`` is a ``.npy`` file: loaded if it exists, written otherwise, so that
    subprocesses share one pool instead of each spending seconds making it.
    """
    if cache is not None and cache.is_file():
        return list(np.load(cache))
    pool = _tile_pool(depth, count, seed)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(f"{cache.name}.{os.getpid()}.partial")
        with open(partial, "wb") as stream:  # np.save on a path would append ".npy"
            np.save(stream, np.stack(pool))
        partial.replace(cache)  # concurrent runs never read a half-written file
    return pool


def raw_block(
    pool: Sequence[np.ndarray], stack: int, z0: int, z1: int, seed: int = 0
) -> np.ndarray:
    """Frames ``z0:z1`` (within one 64-frame block) of stack ``stack``, shape ``(z, y, x)``.

    Deterministic: the content depends only on ``(seed, stack, z0)``, so a numpy volume
    (:func:`raw_volume`) and a lazily generated dask volume with 64-frame chunks agree.
    """
    block = np.empty((z1 - z0, *FRAME_YX), dtype=np.uint16)
    fill_block(block, pool, key=seed * 1_000_003 + stack * 10_007 + z0)
    return block


def raw_volume(
    shape: Sequence[int], pool: Sequence[np.ndarray], seed: int = 0, block: int = RAW_CHUNK[2]
) -> np.ndarray:
    """A whole raw volume ``(vs, 1, z, 788, 2048)`` filled from ``pool`` (~0.5 GB/s).

    Built in ``block``-frame pieces keyed like :func:`raw_block`.
    """
    out = np.empty(tuple(shape), dtype=np.uint16)
    for stack in range(shape[0]):
        for z0 in range(0, shape[2], block):
            z1 = min(shape[2], z0 + block)
            fill_block(out[stack, 0, z0:z1], pool, key=seed * 1_000_003 + stack * 10_007 + z0)
    return out


# --------------------------------------------------------------------------- subprocesses


def tensorstore_spec(
    path: Path, shape: Sequence[int], shard: Sequence[int], chunk: Sequence[int]
) -> dict[str, Any]:
    """A tensorstore ``zarr3`` spec creating a uint16 array as the writers here store it:
    sharded, blosc zstd 5 + shuffle inner chunks, ``bytes + crc32c`` index at the end."""
    bytes_codec = {"name": "bytes", "configuration": {"endian": "little"}}
    blosc = {
        "name": "blosc",
        "configuration": {
            "cname": "zstd",
            "clevel": 5,
            "shuffle": "shuffle",
            "typesize": 2,
            "blocksize": 0,
        },
    }
    sharding = {
        "name": "sharding_indexed",
        "configuration": {
            "chunk_shape": list(chunk),
            "codecs": [bytes_codec, blosc],
            "index_codecs": [bytes_codec, {"name": "crc32c"}],
            "index_location": "end",
        },
    }
    return {
        "driver": "zarr3",
        "kvstore": {"driver": "file", "path": str(path)},
        "metadata": {
            "shape": list(shape),
            "data_type": "uint16",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(shard)}},
            "chunk_key_encoding": {"name": "default"},
            "fill_value": 0,
            "codecs": [sharding],
        },
        "create": True,
        "delete_existing": True,
    }


def stored_bytes(path: Path) -> int:
    """Total size of the files under ``path``."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def run_json_worker(command: Sequence[str], timeout: float | None = None) -> dict[str, Any]:
    """Run a worker subprocess and return the JSON object on the last line of its stdout.

    Raises
    ------
    RuntimeError
        If the worker fails or times out (with the end of its stderr).
    """
    try:
        done = subprocess.run(
            list(command), capture_output=True, text=True, check=False, timeout=timeout
        )
    except subprocess.TimeoutExpired as error:
        raise RuntimeError(f"worker timed out after {timeout} s") from error
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"worker exited with {done.returncode}:\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result
