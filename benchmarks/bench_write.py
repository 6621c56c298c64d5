"""Write throughput and peak memory of ``to_vsr`` against visor-py, zarr-python, tensorstore.

Every run is a fresh **subprocess** that regenerates the same VISoR-like raw volume
(uint16 ``(vs, 1, z, 788, 2048)``, microscopy-like content from a shared tile pool), does a
tiny untimed warm-up write, and then times one write of the whole volume to disk (blosc
zstd 5 + shuffle, inner chunk ``(1, 1, 64, 64, 64)``, sharded). Its peak RSS is the
kernel's high-water mark (``VmHWM``, reset just before the write) minus the RSS just before
the write, so the source volume itself is not counted. Runs are interleaved round-robin
(who goes first rotates) and each contender's median over ``--repeats`` rounds is reported,
with paired (same-round) ratios. Pyramids: ``to_vsr(levels=4)`` and ``vx.add_levels`` on
an existing image against the level-0 write.

Usage::

    python benchmarks/bench_write.py [--size-gib 1.0] [--repeats 3] [--budget-mib 512]
                                     [--workdir DIR] [--keep] [--markdown PATH]
                                     [--contenders NAME ...]

``--size-gib 0.05 --repeats 1`` is a quick smoke run (about a minute; 13 subprocesses).

VISoR's big standard shards (``benchmarks/_big_shards.py``)::

    python benchmarks/bench_write.py --suite standard [--cases raw-2g recon-4g raw-8g]
    python benchmarks/bench_write.py --suite region [--frames 2048 8192]

``standard`` writes one image in one 2, 4 or 8 GiB shard with the streaming writer and,
where they fit in memory, the whole-shard writers (zarrs, zarr-python, tensorstore);
``region`` writes 64 frames into a raw stack stored in one shard (28 GB decoded for 8192
frames; about 30 GB of disk) and reads them back with four readers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import signal
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _big_shards import CASES, DEFAULT_CASES, run_region, run_standard, worker_main
from _common import (
    DATA_DIR,
    GIB,
    RAW_CHUNK,
    PeakRSS,
    environment_lines,
    format_bytes,
    gb_per_s,
    load_line,
    markdown_table,
    raw_block,
    raw_shape,
    raw_volume,
    release_free_memory,
    rss_bytes,
    run_json_worker,
    stored_bytes,
    summarise,
    tensorstore_spec,
    tile_pool,
    work_directory,
)

ZARRS = "zarrs.ZarrsCodecPipeline"
DEFAULT = "zarr.core.codec_pipeline.BatchedCodecPipeline"
NAME = "slice_1_10x"
DIMS = ("vs", "ch", "z", "y", "x")
#: The explicit shard every non-budget contender uses: the schema's typical raw shard
#: ``(1, 1, 8192, 832, 2048)`` one inner chunk deep (208 MiB decoded).
EXPLICIT_SHARD = (1, 1, 64, 832, 2048)
#: Chunks of the dask-backed sources: one 64-frame slab of a stack.
DASK_CHUNKS = (1, 1, 64, 788, 2048)
PYRAMID_LEVELS = 4


@dataclass(frozen=True)
class Kind:
    """One contender: how its worker writes, and how the report shows it."""

    key: str
    label: str
    group: str  # "write" or "pyramid"
    source: str  # "numpy", "dask" (from_array over numpy) or "lazy" (generated blocks)
    shard: str  # "budget" or "explicit"
    note: str = ""


KINDS = {
    k.key: k
    for k in (
        Kind("vx-np-budget", "`to_vsr`, numpy, default shard", "write", "numpy", "budget"),
        Kind("vx-np-shard", "`to_vsr`, numpy, explicit shard", "write", "numpy", "explicit"),
        Kind(
            "vx-dask-budget",
            "`to_vsr`, dask, default shard",
            "write",
            "dask",
            "budget",
            "`da.from_array(numpy, chunks=(1, 1, 64, 788, 2048))`",
        ),
        Kind("vx-dask-shard", "`to_vsr`, dask, explicit shard", "write", "dask", "explicit"),
        Kind(
            "vx-lazy-budget",
            "`to_vsr`, lazy dask, default shard",
            "write",
            "lazy",
            "budget",
            "blocks generated inside the timed write (source never whole in memory)",
        ),
        Kind(
            "visor-py",
            "visor-py `Image.save`",
            "write",
            "numpy",
            "explicit",
            "zarrs (set globally by visor-py)",
        ),
        Kind(
            "zarr-default",
            "zarr-python default pipeline `arr[...] = data`",
            "write",
            "numpy",
            "explicit",
            "BatchedCodecPipeline",
        ),
        Kind(
            "zarrs-direct",
            "zarr-python + zarrs pipeline `arr[...] = data`",
            "write",
            "numpy",
            "explicit",
            "ZarrsCodecPipeline, no atomic commit",
        ),
        Kind(
            "tensorstore",
            "tensorstore zarr3 `.write(data)`",
            "write",
            "numpy",
            "explicit",
            "sharding_indexed + blosc, non-transactional",
        ),
        Kind(
            "vx-pyramid-budget",
            f"`to_vsr(levels={PYRAMID_LEVELS})`, numpy, default shard",
            "pyramid",
            "numpy",
            "budget",
        ),
        Kind(
            "vx-pyramid-z5-budget",
            f"`to_vsr(levels={PYRAMID_LEVELS})`, numpy, default shard, zstd 5 on every level",
            "pyramid",
            "numpy",
            "budget",
            "`compressors=` blosc zstd 5 given: no faster zstd level for levels 1..",
        ),
        Kind(
            "vx-add-levels-budget",
            f"`vx.add_levels(levels={PYRAMID_LEVELS})`, default shard",
            "pyramid",
            "numpy",
            "budget",
            "level 0 written untimed first, source freed",
        ),
        Kind(
            "vx-pyramid-shard",
            f"`to_vsr(levels={PYRAMID_LEVELS})`, numpy, explicit shard",
            "pyramid",
            "numpy",
            "explicit",
        ),
        Kind(
            "vx-add-levels-shard",
            f"`vx.add_levels(levels={PYRAMID_LEVELS})`, explicit shard",
            "pyramid",
            "numpy",
            "explicit",
            "level 0 written untimed first, source freed",
        ),
    )
}

# Targets (issue), on write throughput: (text, numerator, denominator, minimum ratio).
THROUGHPUT_TARGETS = (
    (">= 1.2x zarr-python's default pipeline", "zarr-default", 1.2),
    (">= 0.95x tensorstore", "tensorstore", 0.95),
    (">= visor-py", "visor-py", 1.0),
)
RSS_LIMIT = 1.5  # peak RSS growth <= 1.5 x write_memory_budget
PYRAMID_LIMIT = 1.5  # 4-level pyramid <= 1.5 x the level-0 write
#: to_vsr variants the targets are evaluated for (the first is the headline).
TARGET_SUBJECTS = ("vx-np-budget", "vx-np-shard", "vx-dask-budget", "vx-dask-shard")
#: (pyramid kind, its level-0-only baseline kind)
PYRAMID_PAIRS = (
    ("vx-pyramid-budget", "vx-np-budget"),
    ("vx-pyramid-z5-budget", "vx-np-budget"),
    ("vx-add-levels-budget", "vx-np-budget"),
    ("vx-pyramid-shard", "vx-np-shard"),
    ("vx-add-levels-shard", "vx-np-shard"),
)


# =========================================================================== worker side


def _compressor() -> Any:
    import zarr.codecs

    return zarr.codecs.BloscCodec(cname="zstd", clevel=5, shuffle="shuffle")


def _dataarray(data: Any) -> Any:
    import xarray as xr

    vs, _, z, y, x = data.shape
    return xr.DataArray(
        data,
        dims=DIMS,
        coords={
            "vs": [f"stack_{i + 1}" for i in range(vs)],
            "ch": ["488"],
            "z": 3.5 * np.arange(z),
            "y": 1.03 * np.arange(y),
            "x": 1.03 * np.arange(x),
        },
    )


def _lazy_source(shape: Sequence[int], pool: list[np.ndarray], seed: int) -> Any:
    """A dask array of the volume whose 64-frame blocks are generated when computed."""
    import dask.array as da

    def block(block_info: Any = None) -> np.ndarray:
        (vs, _), _, (z0, z1), (y0, y1), (x0, x1) = block_info[None]["array-location"]
        return raw_block(pool, vs, z0, z1, seed)[None, None, :, y0:y1, x0:x1]

    chunks = tuple(
        tuple(min(c, n - i) for i in range(0, n, c))
        for c, n in zip(DASK_CHUNKS, shape, strict=True)
    )
    return da.map_blocks(block, chunks=chunks, dtype=np.uint16, name="lazy-raw-volume")


def _level_dir(out: Path) -> Path:
    from visor_xarray import layout

    return layout.image_dir(out, "raw", NAME)


def _pipeline_of(array: Any) -> str:
    cls = type(array.async_array.codec_pipeline)
    return f"{cls.__module__}.{cls.__qualname__}"


class _Writer:
    """Writes one volume the way a contender does; ``level_path`` is what it wrote."""

    def __init__(self, kind: Kind, shard: tuple[int, ...] | None) -> None:
        self.kind = kind
        self.shard = shard  # None: the budget chooses
        self.report: Any = None
        self.pipeline = ""

    def prepare(self, out: Path) -> Callable[[Any], Any]:
        """Untimed setup; returns ``write(data)``."""
        key = self.kind.key
        if key.startswith("vx-add-levels"):
            return self._add_levels(out)
        if key.startswith("vx-"):
            levels = PYRAMID_LEVELS if key.startswith("vx-pyramid") else None
            # pyramids keep the library's default compressors (zstd 5 on level 0, the same
            # as _compressor(), and the pyramid_clevel option on levels 1..) unless the
            # contender is the all-zstd-5 one
            pyramid_default = levels is not None and "-z5-" not in key
            compressors = None if pyramid_default else _compressor()

            def to_vsr(data: Any) -> Any:
                self.report = _dataarray(data).visor.to_vsr(
                    out,
                    image_type="raw",
                    name=NAME,
                    mode="w",
                    levels=levels,
                    shard_shape=self.shard,
                    chunk_shape=RAW_CHUNK,
                    compressors=compressors,
                )
                return self.report

            return to_vsr
        if key == "visor-py":
            return self._visor_py(out)
        if key in ("zarr-default", "zarrs-direct"):
            return self._zarr(out, DEFAULT if key == "zarr-default" else ZARRS)
        if key == "tensorstore":
            return self._tensorstore(out)
        raise ValueError(key)

    def level_path(self, out: Path) -> Path:
        if self.kind.key.startswith("vx-") or self.kind.key == "visor-py":
            return _level_dir(out) / "0"
        return out

    def _add_levels(self, out: Path) -> Callable[[Any], Any]:
        import visor_xarray as vx

        def add(_: Any) -> Any:
            self.report = vx.add_levels(out, image_type="raw", name=NAME, levels=PYRAMID_LEVELS)
            return self.report

        return add

    def _visor_py(self, out: Path) -> Callable[[Any], Any]:
        import visor

        assert self.shard is not None
        out.mkdir(parents=True, exist_ok=True)
        image = visor.Image(out, "raw", NAME, create=True)

        def save(data: np.ndarray) -> Any:
            array = image.save(data, 0, "uint16", data.shape, self.shard, RAW_CHUNK, _compressor())
            self.pipeline = _pipeline_of(array)
            return array

        return save

    def _zarr(self, out: Path, pipeline: str) -> Callable[[Any], Any]:
        import zarr
        from zarr.storage import LocalStore

        def write(data: np.ndarray) -> Any:
            with zarr.config.set({"codec_pipeline.path": pipeline}):
                array = zarr.create_array(
                    store=LocalStore(out),
                    shape=data.shape,
                    dtype=data.dtype,
                    chunks=RAW_CHUNK,
                    shards=self.shard,
                    compressors=_compressor(),
                    overwrite=True,
                )
            self.pipeline = _pipeline_of(array)
            if self.pipeline != pipeline:
                raise RuntimeError(f"asked for {pipeline}, zarr built {self.pipeline}")
            array[...] = data
            return array

        return write

    def _tensorstore(self, out: Path) -> Callable[[Any], Any]:
        import tensorstore as ts

        assert self.shard is not None
        shard = list(self.shard)

        def write(data: np.ndarray) -> Any:
            spec = tensorstore_spec(out, data.shape, shard, RAW_CHUNK)
            store = ts.open(spec).result()
            store.write(data).result()
            return store

        return write


def _geometry(level: Path) -> dict[str, Any]:
    """Shard, inner chunk and codecs as stored in a level's ``zarr.json``."""
    meta = json.loads((level / "zarr.json").read_text())
    shard = meta["chunk_grid"]["configuration"]["chunk_shape"]
    codecs = meta["codecs"]
    inner, names = shard, [c["name"] for c in codecs]
    if codecs and codecs[0]["name"] == "sharding_indexed":
        config = codecs[0]["configuration"]
        inner = config["chunk_shape"]
        names = []
        for codec in config["codecs"]:
            if codec["name"] == "blosc":
                c = codec["configuration"]
                names.append(f"blosc {c['cname']} {c['clevel']} {c['shuffle']}")
            elif codec["name"] != "bytes":
                names.append(codec["name"])
        names.append("index " + "+".join(c["name"] for c in config["index_codecs"]))
    return {"shard": shard, "chunk": inner, "codecs": ", ".join(names)}


def _mean_2x2(block: np.ndarray) -> np.ndarray:
    """Reference 2 x 2 (y, x) mean in float64, rounded half to even; partial edge blocks
    average the voxels they have (the format's rule; independent of the library's code)."""
    out = block.astype(np.float64)
    for axis in (-2, -1):
        size = out.shape[axis]
        starts = np.arange(0, size, 2)
        counts = np.minimum(starts + 2, size) - starts
        shape = [1] * out.ndim
        shape[axis] = len(counts)
        out = np.add.reduceat(out, starts, axis=axis) / counts.reshape(shape)
    return np.rint(out).astype(block.dtype)


def _check(kind: Kind, writer: _Writer, out: Path, source: Any) -> str:
    """Compare what was written with the source (read back through zarr, zarrs pipeline)."""
    import zarr
    from zarr.storage import LocalStore

    def open_level(path: Path) -> Any:
        with zarr.config.set({"codec_pipeline.path": ZARRS}):
            return zarr.open_array(store=LocalStore(path, read_only=True), mode="r")

    level0 = open_level(writer.level_path(out))
    if tuple(level0.shape) != tuple(source.shape):
        return f"FAILED: shape {level0.shape} != {source.shape}"
    for vs in range(source.shape[0]):
        expected = np.asarray(source[vs])
        if not np.array_equal(level0[vs], expected):
            return f"FAILED: level 0 stack {vs} differs from the source"
    detail = "level 0 identical"
    if kind.group == "pyramid":
        image = _level_dir(out)
        listed = json.loads((image / "zarr.json").read_text())["attributes"]["ome"]
        datasets = listed["multiscales"][0]["datasets"]
        if len(datasets) != PYRAMID_LEVELS:
            return f"FAILED: {len(datasets)} levels listed, expected {PYRAMID_LEVELS}"
        previous = level0
        for index in range(1, PYRAMID_LEVELS):
            level = open_level(image / str(index))
            for vs in range(source.shape[0]):
                for z0 in range(0, source.shape[2], 64):  # float64 reference: bounded memory
                    expected = _mean_2x2(np.asarray(previous[vs, :, z0 : z0 + 64]))
                    if not np.array_equal(level[vs, :, z0 : z0 + 64], expected):
                        return f"FAILED: level {index} != 2x2 block mean of level {index - 1}"
            previous = level
        detail += f"; levels 1-{PYRAMID_LEVELS - 1} = 2x2 means of the level above (float64 ref.)"
    return "ok: " + detail


def worker(args: argparse.Namespace) -> None:
    """Run one contender once; print a JSON line."""
    import dask
    import dask.array as da

    import visor_xarray as vx

    spec = json.loads(Path(args.spec).read_text())
    kind = KINDS[args.worker]
    shape = tuple(spec["shape"])
    out = Path(args.out)
    vx.set_options(write_memory_budget=spec["budget"])
    pool = tile_pool(min(RAW_CHUNK[2], shape[2]), seed=spec["seed"], cache=Path(spec["pool"]))
    shard = tuple(spec["shard"]) if kind.shard == "explicit" else None
    release_free_memory()
    start_rss = rss_bytes()

    # source: numpy (also behind the dask-from-array sources) or lazily generated blocks
    started = time.perf_counter()
    numpy_source = None if kind.source == "lazy" else raw_volume(shape, pool, spec["seed"])
    generate = time.perf_counter() - started
    if kind.source == "lazy":
        source: Any = _lazy_source(shape, pool, spec["seed"])
    elif kind.source == "dask":
        source = da.from_array(numpy_source, chunks=DASK_CHUNKS)
    else:
        source = numpy_source

    # warm-up: the same contender on a small piece, untimed (imports, thread pools, codecs)
    small = np.ascontiguousarray(
        raw_block(pool, 0, 0, min(64, shape[2]), spec["seed"])[:, :128, :256]
    )
    small = small[None, None]
    warm = _Writer(kind if kind.group == "write" else KINDS["vx-np-budget"], (1, 1, 64, 128, 256))
    warm_dir = _warm_dir(out)
    warm.prepare(warm_dir)(small if kind.source != "dask" else da.from_array(small))
    shutil.rmtree(warm_dir, ignore_errors=True)

    writer = _Writer(kind, shard)
    if kind.key.startswith("vx-add-levels"):  # level 0 first, untimed; then free the source
        base = KINDS["vx-np-budget" if kind.shard == "budget" else "vx-np-shard"]
        level0 = _Writer(base, shard)
        level0.prepare(out)(numpy_source)
        del source, numpy_source
        source = None
    write = writer.prepare(out)
    with dask.config.set(scheduler="threads"):
        with PeakRSS() as memory:
            before = resource.getrusage(resource.RUSAGE_SELF)
            cpu, t0 = time.process_time(), time.perf_counter()
            write(source)
            seconds = time.perf_counter() - t0
            cpu = time.process_time() - cpu
            after = resource.getrusage(resource.RUSAGE_SELF)
    result: dict[str, Any] = {
        "seconds": seconds,
        "cpu": cpu,
        "user": after.ru_utime - before.ru_utime,
        "system": after.ru_stime - before.ru_stime,
        "minor_faults": after.ru_minflt - before.ru_minflt,
        "baseline": memory.start,
        "peak": memory.peak,
        "growth": memory.growth,
        "exact_peak": memory.exact,
        "start_rss": start_rss,
        "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "generate_seconds": generate,
        "pipeline": writer.pipeline,
    }
    if kind.key.startswith("vx-"):
        report = writer.report
        result["workers"] = report.workers
        result["predicted_peak"] = report.predicted_peak_bytes
        result["level_shards"] = [list(level.shard_shape) for level in report.levels]
        result["pipeline"] = ZARRS
    level = writer.level_path(out)
    result["geometry"] = _geometry(level)
    result["stored"] = stored_bytes(level)
    if args.check:
        if kind.key.startswith("vx-add-levels"):
            source = raw_volume(shape, pool, spec["seed"])
        elif kind.source == "lazy":
            source = numpy_source = raw_volume(shape, pool, spec["seed"])
        result["check"] = _check(
            kind, writer, out, source if kind.source != "dask" else numpy_source
        )
    print(json.dumps(result), flush=True)


def _warm_dir(out: Path) -> Path:
    return out.with_name("warmup-" + out.name)  # visor-py wants the .vsr suffix


# =========================================================================== driver side


@dataclass
class Runs:
    """All runs of one contender."""

    kind: Kind
    results: list[dict[str, Any]] = field(default_factory=list)
    #: Set when the read-back check fails: the contender is dropped.
    error: str | None = None
    #: Runs that failed (crash, timeout): reported; the contender keeps its other runs.
    failures: list[str] = field(default_factory=list)
    check: str = "not checked"

    @property
    def times(self) -> list[float]:
        return [r["seconds"] for r in self.results]

    def median(self, key: str) -> float:
        return statistics.median(r[key] for r in self.results)

    @property
    def first(self) -> dict[str, Any]:
        return self.results[0]

    def by_round(self, key: str = "seconds") -> dict[int, float]:
        return {r["round"]: r[key] for r in self.results}


def paired(numerator: Runs, denominator: Runs, add_denominator: bool = False) -> float:
    """Median over the rounds both ran of ``numerator / denominator`` (same-round runs).

    With ``add_denominator``: of ``(numerator + denominator) / denominator``.
    """
    a, b = numerator.by_round(), denominator.by_round()
    ratios = [(a[i] + (b[i] if add_denominator else 0)) / b[i] for i in a if i in b]
    return statistics.median(ratios) if ratios else float("nan")


def run_rounds(
    kinds: Sequence[Kind], repeats: int, spec_path: Path, workdir: Path, timeout: float
) -> tuple[dict[str, Runs], list[float]]:
    """Every contender once per round, in a fresh subprocess; the first contender rotates."""
    runs = {k.key: Runs(k) for k in kinds}
    loads: list[float] = []
    for round_index in range(repeats):
        shift = round_index % len(kinds)
        order = list(kinds[shift:]) + list(kinds[:shift])
        for kind in order:
            entry = runs[kind.key]
            if entry.error is not None or len(entry.failures) >= 2:
                continue
            out = workdir / f"out-{kind.key}.vsr"
            command = [
                sys.executable,
                __file__,
                "--worker",
                kind.key,
                "--spec",
                str(spec_path),
                "--out",
                str(out),
            ]
            if entry.check == "not checked":  # first successful run
                command.append("--check")
            try:
                result = run_json_worker(command, timeout=timeout)
            except RuntimeError as error:
                entry.failures.append(
                    f"round {round_index + 1}: {str(error).splitlines()[-1][:300]}"
                )
                print(f"  ! {kind.label}: {error}", file=sys.stderr, flush=True)
                continue
            finally:
                shutil.rmtree(out, ignore_errors=True)
                shutil.rmtree(_warm_dir(out), ignore_errors=True)
                os.sync()  # flush this run's dirty pages before the next run starts
            if "check" in result:
                entry.check = result["check"]
                if not result["check"].startswith("ok"):
                    entry.error = result["check"]
            result["round"] = round_index
            entry.results.append(result)
            print(
                f"  round {round_index + 1}/{repeats} {kind.key}: {result['seconds']:.2f} s,"
                f" CPU {result['cpu']:.1f} s, +{format_bytes(result['growth'])}"
                f" (load {load_line()})",
                file=sys.stderr,
                flush=True,
            )
        loads.append(os.getloadavg()[0])
    return runs, loads


def _ok(runs: dict[str, Runs]) -> dict[str, Runs]:
    return {k: r for k, r in runs.items() if r.error is None and r.results}


def _why(entry: Runs) -> str:
    return entry.error or (entry.failures[-1] if entry.failures else "no runs")


def _pyramid_ratios(entry: Runs, base: Runs) -> tuple[float, float, float]:
    """(ratio of medians, paired ratio, CPU-time ratio) of a pyramid to its level-0 write.

    ``add_levels`` runs add the level-0 time (they write only the coarser levels).
    """
    add = entry.kind.key.startswith("vx-add-levels")
    level0 = statistics.median(base.times)
    ratio = (statistics.median(entry.times) + (level0 if add else 0)) / level0
    cpu0 = base.median("cpu")
    cpu = (entry.median("cpu") + (cpu0 if add else 0)) / cpu0
    return ratio, paired(entry, base, add_denominator=add), cpu


def _shard_text(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


def throughput_table(runs: dict[str, Runs], nbytes: int, budget: int) -> str:
    ok = _ok(runs)
    reference = ok.get("vx-np-budget")
    rows = []
    for key, entry in runs.items():
        kind = entry.kind
        if kind.group != "write":
            continue
        if key not in ok:
            rows.append([kind.label, "failed", *[""] * 11, _why(entry)])
            continue
        stats = summarise(entry.times)
        ratio = float("nan")
        if reference is not None:
            ratio = paired(entry, reference)
        first = entry.first
        growth = entry.median("growth")
        predicted = first.get("predicted_peak")
        rows.append(
            [
                kind.label,
                f"{gb_per_s(nbytes, stats['median']):.3f}",
                f"{gb_per_s(nbytes, stats['min']):.3f}",
                f"{stats['median']:.1f}",
                " / ".join(f"{t:.1f}" for t in entry.times),
                f"{stats['spread'] * 100:.0f}%",
                f"{entry.median('cpu'):.1f}",
                f"{nbytes / entry.median('cpu') / 1e9:.3f}",
                f"{ratio:.2f}x",
                _shard_text(first["geometry"]["shard"]),
                format_bytes(growth),
                f"{growth / budget:.2f}x",
                format_bytes(predicted) if predicted else "",
                kind.note,
            ]
        )
    headers = [
        "contender",
        "GB/s (median)",
        "GB/s (best)",
        "median s",
        "runs s",
        "spread",
        "CPU s",
        "GB per CPU s",
        "it / `to_vsr` np budget (paired)",
        "shard",
        "peak RSS growth",
        "growth / budget",
        "predicted peak",
        "note",
    ]
    return markdown_table(headers, rows, align="lrrrrrrrrlrrrl")


def memory_table(runs: dict[str, Runs]) -> str:
    rows = []
    for entry in _ok(runs).values():
        first = entry.first
        shard = first["geometry"]["shard"]  # level 0's (what predicted_peak uses)
        shard_bytes = math.prod(shard) * 2
        workers = first.get("workers")
        predicted = first.get("predicted_peak")
        factor = f"{entry.median('growth') / predicted:.2f}" if predicted else ""
        rows.append(
            [
                entry.kind.label,
                format_bytes(entry.median("baseline")),
                format_bytes(entry.median("peak")),
                format_bytes(min(r["growth"] for r in entry.results)),
                format_bytes(max(r["growth"] for r in entry.results)),
                format_bytes(first["ru_maxrss"] - entry.median("baseline")),
                format_bytes(shard_bytes),
                str(workers or ""),
                factor,
                f"{entry.median('user'):.1f} / {entry.median('system'):.1f}",
                f"{entry.median('minor_faults') / 1e3:.0f}k",
            ]
        )
    headers = [
        "contender",
        "RSS before write",
        "peak RSS (VmHWM)",
        "growth min",
        "growth max",
        "ru_maxrss - before (1st run)",
        "decoded shard",
        "workers",
        "growth / predicted",
        "user / system CPU s",
        "minor page faults",
    ]
    return markdown_table(headers, rows)


def geometry_table(runs: dict[str, Runs], nbytes: int) -> str:
    rows = []
    for entry in _ok(runs).values():
        first = entry.first
        geometry = first["geometry"]
        shards = first.get("level_shards") or []
        if not entry.kind.key.startswith("vx-add-levels"):
            shards = shards[1:]  # add_levels reports only the levels it added
        rows.append(
            [
                entry.kind.label,
                _shard_text(geometry["chunk"]),
                _shard_text(geometry["shard"]),
                " / ".join(_shard_text(s) for s in shards),
                geometry["codecs"],
                first["pipeline"].rsplit(".", 1)[-1],
                f"{nbytes / first['stored']:.2f}" if entry.kind.group == "write" else "",
                entry.check,
            ]
        )
    headers = [
        "contender",
        "inner chunk",
        "level-0 shard",
        "shards of levels 1..",
        "codecs (in shard)",
        "pipeline",
        "compression ratio",
        "read back via zarr",
    ]
    return markdown_table(headers, rows, align="llllllrl")


def pyramid_table(runs: dict[str, Runs], nbytes: int) -> str:
    ok = _ok(runs)
    rows = []
    for key, base_key in PYRAMID_PAIRS:
        if key not in runs:
            continue
        entry = runs[key]
        if key not in ok or base_key not in ok:
            why = _why(entry) if key not in ok else f"no level-0 runs: {_why(runs[base_key])}"
            rows.append([entry.kind.label, "failed", "", "", "", "", "", "", why])
            continue
        base = ok[base_key]
        stats, base_stats = summarise(entry.times), summarise(base.times)
        ratio, pair, cpu = _pyramid_ratios(entry, base)
        what = (
            "(level 0 + add_levels) / level 0"
            if key.startswith("vx-add-levels")
            else "pyramid / level 0"
        )
        predicted = entry.first.get("predicted_peak")
        rows.append(
            [
                entry.kind.label,
                f"{stats['median']:.1f}",
                f"{base_stats['median']:.1f}",
                f"{ratio:.2f}x ({what})",
                f"{pair:.2f}x",
                f"{cpu:.2f}x",
                f"{entry.median('cpu'):.1f} / {base.median('cpu'):.1f}",
                format_bytes(entry.median("growth")),
                format_bytes(predicted) if predicted else "",
            ]
        )
    headers = [
        "contender",
        "median s",
        "level 0 alone, median s",
        "ratio (medians)",
        "paired",
        "CPU-time ratio",
        "CPU s (it / level 0)",
        "peak RSS growth",
        "predicted peak",
    ]
    return markdown_table(headers, rows, align="lrrlrrrrr")


def target_lines(runs: dict[str, Runs], nbytes: int, budget: int) -> list[str]:
    ok = _ok(runs)
    lines = []
    for subject in TARGET_SUBJECTS:
        if subject not in runs:
            continue
        label = runs[subject].kind.label
        if subject not in ok:
            lines.append(f"- {label}: NOT MEASURED ({_why(runs[subject])})")
            continue
        a = ok[subject]
        a_stats = summarise(a.times)
        parts = []
        for text, other, minimum in THROUGHPUT_TARGETS:
            if other not in ok:
                parts.append(f"  - write {text}: NOT MEASURED")
                continue
            b = ok[other]
            b_stats = summarise(b.times)
            ratio = b_stats["median"] / a_stats["median"]
            pair = 1 / paired(a, b)
            cpu = b.median("cpu") / a.median("cpu")
            verdict = "MET" if ratio >= minimum else "NOT MET"
            parts.append(
                f"  - write {text}: **{verdict}** ({gb_per_s(nbytes, a_stats['median']):.3f} vs"
                f" {gb_per_s(nbytes, b_stats['median']):.3f} GB/s = {ratio:.2f}x, needs"
                f" >= {minimum:.2f}x; paired {pair:.2f}x, best-run"
                f" {b_stats['min'] / a_stats['min']:.2f}x, CPU-time ratio {cpu:.2f}x)"
            )
        growth = max(r["growth"] for r in a.results)
        # shards are streamed whatever their size: the budget holds for explicit ones too
        verdict = "MET" if growth <= RSS_LIMIT * budget else "NOT MET"
        parts.append(
            f"  - peak RSS growth <= {RSS_LIMIT}x the budget ({format_bytes(budget)}):"
            f" **{verdict}** (worst run {format_bytes(growth)} ="
            f" {growth / budget:.2f}x; predicted {format_bytes(a.first['predicted_peak'])})"
        )
        lines.append(f"- {label}:")
        lines.extend(parts)
    for key, base_key in PYRAMID_PAIRS:
        if key not in runs:
            continue
        label = runs[key].kind.label
        if key not in ok or base_key not in ok:
            lines.append(f"- {label} <= {PYRAMID_LIMIT}x level 0: NOT MEASURED")
            continue
        entry, base = ok[key], ok[base_key]
        ratio, pair, cpu = _pyramid_ratios(entry, base)
        verdict = "MET" if ratio <= PYRAMID_LIMIT else "NOT MET"
        lines.append(
            f"- {label}: {PYRAMID_LEVELS} levels in <= {PYRAMID_LIMIT}x the time of level 0:"
            f" **{verdict}** ({ratio:.2f}x on medians, level 0 alone"
            f" {statistics.median(base.times):.1f} s; paired {pair:.2f}x, CPU-time ratio"
            f" {cpu:.2f}x)"
        )
    return lines


def noise_line(runs: dict[str, Runs], loads: list[float]) -> str:
    cpus = os.cpu_count() or 1
    spreads = [summarise(r.times)["spread"] for r in _ok(runs).values() if len(r.times) > 1]
    worst = max(spreads, default=0.0)
    busiest = max(loads, default=0.0)
    text = (
        f"1-min load average after each round: {', '.join(f'{x:.1f}' for x in loads)}"
        f" on {cpus} CPUs; worst run-to-run spread {worst * 100:.0f}%"
    )
    if busiest > cpus * 0.75 or worst > 0.3:
        return (
            f"**WARNING: noisy measurement** — {text}. Other processes took CPU time; prefer"
            " the paired ratios and the CPU-time ratios (CPU seconds of the writing process,"
            " all threads, which load barely changes)."
        )
    return f"Noise: {text}."


# =========================================================================== main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gib", type=float, default=1.0, help="decoded size (default 1.0)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds (one run per contender)")
    parser.add_argument(
        "--budget-mib", type=int, default=512, help="vx write_memory_budget (default 512)"
    )
    parser.add_argument(
        "--contenders",
        nargs="+",
        choices=list(KINDS),
        default=list(KINDS),
        metavar="NAME",
        help=f"subset of: {', '.join(KINDS)}",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, help="where to write (kept)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    parser.add_argument(
        "--suite",
        choices=("contenders", "standard", "region"),
        default="contenders",
        help="contenders: to_vsr against its peers (default); standard: VISoR's big"
        " standard shards against whole-shard writers; region: 64 frames into a 28 GB shard",
    )
    parser.add_argument(
        "--cases",
        nargs="+",
        choices=list(CASES),
        default=list(DEFAULT_CASES),
        metavar="CASE",
        help=f"standard suite: subset of {', '.join(CASES)}",
    )
    parser.add_argument(
        "--frames",
        nargs="+",
        type=int,
        default=[2048, 8192],
        help="region suite: stack depths (default 2048 8192; 8192 is VISoR's 28 GB shard)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--pool", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.size_gib <= 0 or args.repeats < 1 or args.budget_mib < 1:
        parser.error("--size-gib, --repeats and --budget-mib must be positive")
    return args


def big_shards_main(args: argparse.Namespace) -> int:
    """The ``standard`` and ``region`` suites (see ``_big_shards.py``)."""
    signal.signal(signal.SIGTERM, _terminate)
    started = time.perf_counter()
    title = "standard shards" if args.suite == "standard" else "region writes into big shards"
    report: list[str] = [f"# Write benchmark, {title} (`benchmarks/bench_write.py`)", ""]

    def say(line: str = "") -> None:
        print(line, flush=True)
        report.append(line)

    for line in environment_lines(["tensorstore", "visor-py"]):
        say(f"- {line}")
    say(
        "- inner chunk 64^3, blosc zstd 5 + shuffle, index bytes+crc32c at the end;"
        " default `write_memory_budget` (512 MiB); every run a fresh subprocess; peak RSS"
        " = the kernel's high-water mark (VmHWM) during the write; growth = that minus the"
        " RSS just before it (a numpy source is not counted)"
    )
    say()
    pool_file = DATA_DIR / f"tile-pool-{RAW_CHUNK[2]}-8-{args.seed}.npy"
    tile_pool(RAW_CHUNK[2], seed=args.seed, cache=pool_file)
    with work_directory(args.workdir, args.keep, prefix="bench_write_") as workdir:
        script = Path(__file__).resolve()
        if args.suite == "standard":
            say(f"## One image, one big shard (median of {args.repeats} run(s))")
            say()
            run_standard(script, workdir, pool_file, args.repeats, args.seed, args.cases, say)
        else:
            say("## 64 new frames written into the middle of one raw stack-channel shard")
            say()
            run_region(script, workdir, pool_file, args.seed, args.frames, say)
    say()
    say(f"- load average (1/5/15 min) at the end: {load_line()}")
    say(f"- total benchmark time {time.perf_counter() - started:.0f} s")
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("\n".join(report) + "\n", encoding="utf-8")
    return 0


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds, so the temporary directory is removed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker and args.suite != "contenders":
        worker_main(args.suite, args.worker, Path(args.out), args.pool, args.seed)
        return 0
    if args.worker:
        if args.worker not in KINDS:
            raise SystemExit(f"unknown contender {args.worker!r}; choose from {list(KINDS)}")
        worker(args)
        return 0
    if args.suite != "contenders":
        return big_shards_main(args)
    signal.signal(signal.SIGTERM, _terminate)
    started = time.perf_counter()
    report: list[str] = ["# Write benchmark (`benchmarks/bench_write.py`)", ""]

    def say(line: str = "") -> None:
        print(line, flush=True)
        report.append(line)

    budget = args.budget_mib * 2**20
    shape = raw_shape(int(args.size_gib * GIB))
    nbytes = math.prod(shape) * 2
    kinds = [KINDS[k] for k in KINDS if k in args.contenders]
    for line in environment_lines(["tensorstore", "visor-py"]):
        say(f"- {line}")
    with work_directory(args.workdir, args.keep, prefix="bench_write_") as workdir:
        print(f"tile pool (cached in {DATA_DIR}) ...", file=sys.stderr, flush=True)
        # cached across runs (gitignored, 8 MiB per 8 frames of tile depth): making it
        # takes seconds, a good part of a quick run
        pool_path = DATA_DIR / f"tile-pool-{min(RAW_CHUNK[2], shape[2])}-8-{args.seed}.npy"
        tile_pool(min(RAW_CHUNK[2], shape[2]), seed=args.seed, cache=pool_path)
        spec = {
            "shape": list(shape),
            "shard": list(EXPLICIT_SHARD),
            "budget": budget,
            "seed": args.seed,
            "pool": str(pool_path),
        }
        spec_path = workdir / "spec.json"
        spec_path.write_text(json.dumps(spec))
        say(
            f"- volume: shape {shape} uint16, {format_bytes(nbytes)} decoded"
            f" ({nbytes / 1e9:.3f} GB), microscopy-like tiles (as `bench_read.py`),"
            f" inner chunk {RAW_CHUNK}, blosc zstd 5 + shuffle, shard index bytes+crc32c"
        )
        say(
            f"- explicit shard for every contender: {EXPLICIT_SHARD}"
            f" ({format_bytes(math.prod(EXPLICIT_SHARD) * 2)} decoded); `to_vsr` default runs:"
            f" `vx.set_options(write_memory_budget={format_bytes(budget)})`, VISoR's standard"
            " shard layout chosen by"
            " the library (shown below); dask-backed sources chunked"
            f" {DASK_CHUNKS}"
        )
        say(
            f"- {args.repeats} round(s); every run a fresh subprocess (source regenerated,"
            " untimed small warm-up write of the same kind, then one timed write); contenders"
            " interleaved round-robin, the first one rotating; output deleted and `os.sync()`"
            " after every run; dask threaded scheduler with its default workers"
        )
        print(f"{len(kinds)} contenders x {args.repeats} rounds ...", file=sys.stderr, flush=True)
        runs, loads = run_rounds(kinds, args.repeats, spec_path, workdir, args.timeout)

    say()
    say(
        f"## Write of level 0 ({format_bytes(nbytes)} decoded), median of {args.repeats}"
        " run(s) (GB = 1e9 bytes)"
    )
    say()
    say(throughput_table(runs, nbytes, budget))
    say()
    say(
        "GB/s = decoded bytes / wall seconds of the write alone; spread = (max - min) /"
        " median; CPU s = CPU time of the writing process (all threads) during the write;"
        " paired = median over rounds of (its seconds / `to_vsr` numpy budget seconds) in"
        " the same round (> 1: slower than `to_vsr`); peak RSS growth = median over runs of"
        " VmHWM during the write minus the RSS just before it (the source is not counted)."
    )
    say()
    say("## Memory")
    say()
    say(memory_table(runs))
    say()
    say(
        "`growth / predicted`: the measured growth over the report's prediction"
        " (`visor_xarray.write.memory.predicted_peak`; explicit shards too, which are"
        " streamed like the default ones)."
        " `ru_maxrss` cannot be reset and on Linux a child inherits the parent's high-water"
        " mark across fork+exec, so the `VmHWM` columns (reset with `clear_refs`) are the"
        " measurement; `ru_maxrss` is shown as a cross-check (it also holds the source"
        " generation's own peak)."
    )
    say()
    say("## Storage geometry and read-back check (first successful run)")
    say()
    say(geometry_table(runs, nbytes))
    if any(k.group == "pyramid" for k in kinds):
        say()
        say(f"## Pyramid ({PYRAMID_LEVELS} levels, raw: y and x halved per level)")
        say()
        say(pyramid_table(runs, nbytes))
        say()
        say(
            "Level 0 alone = the `to_vsr` numpy run with the same shard. `add_levels` runs on"
            " an image whose level 0 the same subprocess wrote just before (untimed, still in"
            " the page cache); its ratio adds the level-0 median to its own time."
        )
    say()
    say("## Targets")
    say()
    for line in target_lines(runs, nbytes, budget):
        say(line)
    say()
    say(noise_line(runs, loads))
    say()
    say("## Notes")
    say()
    for entry in runs.values():
        if entry.error is not None:
            say(f"- {entry.kind.label}: read-back check failed: {entry.error}")
        for failure in entry.failures:
            say(f"- {entry.kind.label}: a run failed ({failure}); its other runs are kept")
    generate = [
        r.median("generate_seconds") for r in _ok(runs).values() if r.kind.source != "lazy"
    ]
    if generate:
        say(
            f"- generating the numpy source took {statistics.median(generate):.1f} s per"
            " subprocess (untimed); the lazy dask source generates inside its timed write"
        )
    say(f"- load average (1/5/15 min) at the end: {load_line()}")
    say(f"- total benchmark time {time.perf_counter() - started:.0f} s")
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("\n".join(report) + "\n", encoding="utf-8")
        print(f"report written to {args.markdown}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
