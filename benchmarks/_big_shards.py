"""VISoR's standard (big) shards: whole-image writes and region writes, for bench_write.py.

Two suites, each run as fresh subprocesses (``python benchmarks/bench_write.py --suite
standard|region``):

``standard``
    One image in one big shard: raw stacks of 640 and 2560 frames (shards of 2 and 8 GiB
    decoded) and a 512-deep recon image in the recon layout (4 GiB), written by ``to_vsr``
    (streamed shards, default budget; numpy and lazily generated sources) and, where they
    fit in memory, by the whole-shard writers: zarr-python with the zarrs pipeline, its
    default pipeline, and tensorstore.
``region``
    A raw stack in VISoR's standard shard (``(1, 1, 8192, 832, 2048)``, 28 GB decoded;
    also 2048 frames, to see the cost grow with the stored bytes) is written once, then 64
    new frames are written into its middle with ``to_vsr(mode="r+", region=...)``; then
    zarrs, zarr-python's default pipeline, tensorstore and visor-py read the new frames
    and frames around them, compared with the expected values.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    FRAME_YX,
    GIB,
    PeakRSS,
    fill_block,
    format_bytes,
    gb_per_s,
    markdown_table,
    raw_block,
    release_free_memory,
    rss_bytes,
    run_json_worker,
    stored_bytes,
    tensorstore_spec,
)

ZARRS = "zarrs.ZarrsCodecPipeline"
DEFAULT = "zarr.core.codec_pipeline.BatchedCodecPipeline"
CHUNK = 64
NAME = "big"
#: Bytes a whole-shard writer holds per decoded shard byte, besides its source (measured:
#: zarrs 2.6x, zarr-python's default pipeline 3.1x); above what is available, it is not run.
WHOLE_SHARD_FACTOR = 3.2
#: Throughput of the streamed write against the whole-shard zarrs write (issue target).
THROUGHPUT_TARGET = 0.9
#: Peak RSS of a streamed write at the default budget (issue target).
RSS_TARGET = GIB


@dataclass(frozen=True)
class Case:
    """One image: its kind, shape and the shard every contender writes it with."""

    key: str
    label: str
    kind: str  # "raw" (vs, ch, z, y, x) or "recon" (ch, z, y, x)
    frames: int
    #: (y, x) of a frame; None: VISoR's (788 x 2048 raw, 2048 x 2048 recon)
    frame: tuple[int, int] | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        if self.kind == "raw":
            return (1, 1, self.frames, *(self.frame or FRAME_YX))
        return (1, self.frames, *(self.frame or (2048, 2048)))

    @property
    def shard(self) -> tuple[int, ...]:
        """The whole image, rounded up to inner chunks (one shard)."""
        whole = tuple(-(-s // CHUNK) * CHUNK for s in self.shape[-3:])
        return (1, 1, *whole) if self.kind == "raw" else (1, *whole)

    @property
    def chunk(self) -> tuple[int, ...]:
        return (1,) * (len(self.shape) - 3) + (CHUNK,) * 3

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * 2

    @property
    def shard_bytes(self) -> int:
        return math.prod(self.shard) * 2


CASES = {
    c.key: c
    for c in (
        Case("raw-2g", "raw stack, 640 frames, one 2 GiB shard", "raw", 640),
        Case("recon-4g", "recon, 512 x 2048 x 2048, recon layout (4 GiB shard)", "recon", 512),
        Case("raw-8g", "raw stack, 2560 frames, one 8 GiB shard", "raw", 2560),
        Case("smoke", "raw stack, 128 frames, one 0.4 GiB shard (a quick check)", "raw", 128),
    )
}
#: The cases run unless others are named.
DEFAULT_CASES = ("raw-2g", "recon-4g", "raw-8g")
CONTENDERS = {
    "vx-numpy": "`to_vsr`, numpy source, streamed shard",
    "vx-lazy": "`to_vsr`, lazy source, streamed shard",
    "zarrs": "zarr-python + zarrs pipeline, whole shard",
    "zarr-default": "zarr-python default pipeline, whole shard",
    "tensorstore": "tensorstore zarr3, whole shard",
}
STREAMED = ("vx-numpy", "vx-lazy")
#: Frames of the region write and where it starts (the middle of the stack).
REGION_FRAMES = 64
#: Rows of a recon source block (2048 x 512 x 64 uint16: 128 MiB).
RECON_ROWS = 512


# ------------------------------------------------------------------------- content


def block(
    pool: Sequence[np.ndarray], case: Case, z0: int, z1: int, seed: int, y0: int = 0, y1: int = -1
) -> np.ndarray:
    """Frames ``z0:z1`` (within one 64-frame block) of a case's image, without its leading
    axes: microscopy-like tiles, deterministic in ``(seed, z0)``. Raw frames are whole;
    recon rows ``y0:y1`` are made in 512-row slabs (``y0`` on a slab), keyed by their row."""
    if case.kind == "raw":
        return raw_block(pool, 0, z0, z1, seed)
    y1 = case.shape[-2] if y1 < 0 else y1
    out = np.empty((z1 - z0, y1 - y0, case.shape[-1]), dtype=np.uint16)
    for s0 in range(y0, y1, RECON_ROWS):
        slab = out[:, s0 - y0 : min(s0 + RECON_ROWS, y1) - y0]
        fill_block(slab, pool, key=seed * 1_000_003 + z0 * 4099 + s0)
    return out


def numpy_volume(pool: Sequence[np.ndarray], case: Case, seed: int) -> np.ndarray:
    out = np.empty(case.shape, dtype=np.uint16)
    flat = out.reshape(case.shape[-3:])  # the leading axes are 1
    for z0 in range(0, case.frames, CHUNK):
        z1 = min(case.frames, z0 + CHUNK)
        flat[z0:z1] = block(pool, case, z0, z1, seed)
    return out


def lazy_volume(pool: Sequence[np.ndarray], case: Case, seed: int, first: int = 0) -> Any:
    """A dask array whose blocks are generated when computed: 64 frames, whole raw frames
    (197 MiB) or 512-row slabs of recon planes (128 MiB), each made alone. ``first``
    offsets the content keys, so a region's frames are generated as they would be in
    place."""
    import dask.array as da

    lead = len(case.shape) - 3
    rows = case.shape[-2] if case.kind == "raw" else RECON_ROWS

    def generate(block_info: Any = None) -> np.ndarray:
        (z0, z1), (y0, y1) = block_info[None]["array-location"][lead : lead + 2]
        values = block(pool, case, first + z0, first + z1, seed, y0, y1)
        return values.reshape((1,) * lead + values.shape)

    def split(size: int, step: int) -> tuple[int, ...]:
        return tuple(min(step, size - i) for i in range(0, size, step))

    chunks = (
        *((1,),) * lead,
        split(case.frames, CHUNK),
        split(case.shape[-2], rows),
        (case.shape[-1],),
    )
    return da.map_blocks(  # type: ignore[no-untyped-call]
        generate, chunks=chunks, dtype=np.uint16, name=f"big-{seed}-{first}"
    )


def dataarray(case: Case, data: Any, first: int = 0) -> Any:
    """``data`` labelled as the case's image type wants it (the ``.visor`` accessor on)."""
    import xarray as xr

    import visor_xarray  # noqa: F401  (registers the accessor)

    coords: dict[str, Any] = {"ch": ["488"]}
    if case.kind == "raw":
        coords["vs"] = ["stack_1"]
    z = 3.5 * np.arange(first, first + data.shape[-3])
    coords.update(z=z, y=1.03 * np.arange(data.shape[-2]), x=1.03 * np.arange(data.shape[-1]))
    dims = ("vs", "ch", "z", "y", "x") if case.kind == "raw" else ("ch", "z", "y", "x")
    return xr.DataArray(data, dims=dims, coords=coords)


def compressor() -> Any:
    import zarr.codecs

    return zarr.codecs.BloscCodec(cname="zstd", clevel=5, shuffle="shuffle")


def level_dir(out: Path, case: Case) -> Path:
    return out / f"visor_{case.kind}_images" / f"{NAME}.zarr" / "0"


# ------------------------------------------------------------------------- writers


def _write_vx(case: Case, out: Path, source: Any) -> dict[str, Any]:
    report = dataarray(case, source).visor.to_vsr(
        out,
        image_type=case.kind,
        name=NAME,
        mode="w",
        shard_shape=case.shard if case.kind == "raw" else None,  # recon: its layout
        chunk_shape=case.chunk,
        compressors=compressor(),
    )
    return {
        "shard": list(report.levels[0].shard_shape),
        "predicted": report.predicted_peak_bytes,
        "workers": report.workers,
    }


def _write_zarr(case: Case, out: Path, source: np.ndarray, pipeline: str) -> dict[str, Any]:
    import zarr
    from zarr.storage import LocalStore

    with zarr.config.set({"codec_pipeline.path": pipeline}):
        array = zarr.create_array(
            store=LocalStore(out),
            shape=source.shape,
            dtype=source.dtype,
            chunks=case.chunk,
            shards=case.shard,
            compressors=compressor(),
            overwrite=True,
        )
        built = type(array.async_array.codec_pipeline)
        if f"{built.__module__}.{built.__qualname__}" != pipeline:
            raise RuntimeError(f"asked for {pipeline}, zarr built {built}")
        array[...] = source
    return {"shard": list(case.shard)}


def _write_tensorstore(case: Case, out: Path, source: np.ndarray) -> dict[str, Any]:
    import tensorstore as ts

    spec = tensorstore_spec(out, source.shape, case.shard, case.chunk)
    ts.open(spec).result().write(source).result()
    return {"shard": list(case.shard)}


def _written_dir(contender: str, case: Case, out: Path) -> Path:
    return level_dir(out, case) if contender in STREAMED else out


def _check(case: Case, level: Path, pool: Sequence[np.ndarray], seed: int) -> str:
    """Compare the written array with the expected content, 64 frames at a time."""
    import zarr

    with zarr.config.set({"codec_pipeline.path": ZARRS}):
        array = zarr.open_array(level, mode="r")
        if tuple(array.shape) != case.shape:
            return f"FAILED: shape {array.shape}"
        lead: tuple[int, ...] = (0,) * (len(case.shape) - 3)
        for z0 in range(0, case.frames, CHUNK):
            z1 = min(case.frames, z0 + CHUNK)
            index: tuple[int | slice, ...] = (*lead, slice(z0, z1))
            got = array[index]
            if not np.array_equal(got, block(pool, case, z0, z1, seed)):
                return f"FAILED: frames {z0}:{z1} differ"
    return "ok"


def standard_worker(case: Case, contender: str, out: Path, pool_file: Path, seed: int) -> None:
    """Write one case with one contender; print a JSON line."""
    import dask

    pool = list(np.load(pool_file))
    release_free_memory()
    start_rss = rss_bytes()
    source: Any
    if contender == "vx-lazy":
        source = lazy_volume(pool, case, seed)
    else:
        source = numpy_volume(pool, case, seed)
    writers: dict[str, Callable[[Case, Path, Any], dict[str, Any]]] = {
        "vx-numpy": _write_vx,
        "vx-lazy": _write_vx,
        "zarrs": lambda c, o, data: _write_zarr(c, o, data, ZARRS),
        "zarr-default": lambda c, o, data: _write_zarr(c, o, data, DEFAULT),
        "tensorstore": _write_tensorstore,
    }
    # untimed warm-up of the same writer on a small image: imports, thread pools, codecs
    warm = Case("warm", "", case.kind, CHUNK, frame=(128, 256))
    small = np.random.default_rng(seed).integers(0, 4000, warm.shape, dtype=np.uint16)
    warm_dir = out.with_name(f"warm-{out.name}")
    writers[contender](warm, warm_dir, small)
    shutil.rmtree(warm_dir, ignore_errors=True)
    with dask.config.set(scheduler="threads"), PeakRSS() as memory:
        started = time.perf_counter()
        result = writers[contender](case, out, source)
        seconds = time.perf_counter() - started
    level = _written_dir(contender, case, out)
    del source
    result.update(
        seconds=seconds,
        growth=memory.growth,
        peak=memory.peak,
        start_rss=start_rss,
        stored=stored_bytes(level),
        check=_check(case, level, pool, seed),
    )
    print(json.dumps(result), flush=True)


# ------------------------------------------------------------------------- region suite


def region_case(frames: int) -> Case:
    return Case(f"raw-{frames}", f"raw stack, {frames} frames, one shard", "raw", frames)


def region_worker(step: str, frames: int, out: Path, pool_file: Path, seed: int) -> None:
    """``create``: write the stack (lazy source); ``region``: write 64 new frames into its
    middle; ``read``: read them and their neighbours with four readers. One JSON line."""
    import dask

    pool = list(np.load(pool_file))
    case = region_case(frames)
    shard = (1, 1, frames, 832, 2048)
    first = frames // 2
    window = slice(first, first + REGION_FRAMES)
    level = level_dir(out, case)
    result: dict[str, Any] = {}
    # untimed warm-up (imports, thread pools, codecs): a small write and its region write
    warm = Case("warm", "", "raw", 2 * CHUNK, frame=(128, 256))
    warm_dir = out.with_name(f"warm-{out.name}")
    small = np.random.default_rng(seed).integers(0, 4000, warm.shape, dtype=np.uint16)
    _write_vx(warm, warm_dir, small)
    dataarray(warm, small[:, :, CHUNK:], CHUNK).visor.to_vsr(
        warm_dir, image_type="raw", name=NAME, mode="r+", region={"z": slice(CHUNK, None)}
    )
    shutil.rmtree(warm_dir, ignore_errors=True)
    with dask.config.set(scheduler="threads"), PeakRSS() as memory:
        started = time.perf_counter()
        if step == "create":
            dataarray(case, lazy_volume(pool, case, seed)).visor.to_vsr(
                out, image_type="raw", name=NAME, shard_shape=shard, compressors=compressor()
            )
        elif step == "region":
            result["stored_before"] = stored_bytes(level)
            new = region_case(REGION_FRAMES)
            data = dataarray(new, lazy_volume(pool, new, seed + 1, first), first)
            data.visor.to_vsr(out, image_type="raw", name=NAME, mode="r+", region={"z": window})
        else:
            result["readers"] = _read_back(out, level, pool, seed, first)
        result["seconds"] = time.perf_counter() - started
    result.update(growth=memory.growth, peak=memory.peak, stored=stored_bytes(level))
    print(json.dumps(result), flush=True)


def _read_back(
    out: Path, level: Path, pool: Sequence[np.ndarray], seed: int, first: int
) -> dict[str, str]:
    """Each reader reads the new frames and 64 frames on each side of them."""
    import tensorstore as ts
    import visor
    import zarr

    # (frames, seed of their content): the new frames were generated with seed + 1
    slabs = [
        (first - CHUNK, first, seed),
        (first, first + REGION_FRAMES, seed + 1),
        (first + REGION_FRAMES, first + REGION_FRAMES + CHUNK, seed),
    ]

    def via_zarr(pipeline: str) -> Callable[[int, int], np.ndarray]:
        with zarr.config.set({"codec_pipeline.path": pipeline}):
            array = zarr.open_array(level, mode="r")
        return lambda z0, z1: np.asarray(array[0, 0, z0:z1])

    spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(level)}}
    store = ts.open(spec, read=True).result()
    theirs = visor.Image(out, "raw", NAME).load("0")
    readers: dict[str, Callable[[int, int], np.ndarray]] = {
        "zarrs": via_zarr(ZARRS),
        "zarr-python": via_zarr(DEFAULT),
        "tensorstore": lambda z0, z1: np.asarray(store[0, 0, z0:z1].read().result()),
        "visor-py": lambda z0, z1: np.asarray(theirs[0, 0, z0:z1]),
    }
    verdicts = {}
    for name, read in readers.items():
        verdict = "identical"
        for z0, z1, slab_seed in slabs:
            expected = raw_block(pool, 0, z0, z1, slab_seed)
            if not np.array_equal(read(z0, z1), expected):
                verdict = f"DIFFERS at frames {z0}:{z1}"
                break
        verdicts[name] = verdict
    return verdicts


# ------------------------------------------------------------------------- driver


def available_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def fits(case: Case, contender: str) -> bool:
    """Whether a whole-shard writer fits in memory (its numpy source included)."""
    if contender in STREAMED:
        return contender == "vx-lazy" or case.nbytes < 0.8 * available_bytes()
    need = case.nbytes + WHOLE_SHARD_FACTOR * case.shard_bytes
    return need < 0.9 * available_bytes()


def run_standard(
    script: Path,
    workdir: Path,
    pool_file: Path,
    repeats: int,
    seed: int,
    cases: Sequence[str],
    say: Callable[[str], None],
) -> None:
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    skipped: dict[tuple[str, str], str] = {}
    for round_index in range(repeats):
        for key in cases:
            case = CASES[key]
            for contender in CONTENDERS:
                if not fits(case, contender):
                    need = case.nbytes + WHOLE_SHARD_FACTOR * case.shard_bytes
                    skipped[key, contender] = (
                        f"does not fit: needs about {format_bytes(need)},"
                        f" {format_bytes(available_bytes())} available"
                    )
                    continue
                out = workdir / f"{key}-{contender}.vsr"
                command = [sys.executable, str(script), "--suite", "standard"]
                command += ["--worker", f"{key}:{contender}", "--out", str(out)]
                command += ["--pool", str(pool_file), "--seed", str(seed)]
                try:
                    result = run_json_worker(command, timeout=3600)
                except RuntimeError as error:
                    skipped[key, contender] = f"failed: {str(error).splitlines()[-1][:200]}"
                    continue
                finally:
                    shutil.rmtree(out, ignore_errors=True)
                results.setdefault((key, contender), []).append(result)
                print(
                    f"  round {round_index + 1} {key} {contender}: {result['seconds']:.1f} s,"
                    f" +{format_bytes(result['growth'])}, {result['check']}",
                    file=sys.stderr,
                    flush=True,
                )
    say(standard_table(results, skipped, cases))
    say("")
    for line in standard_targets(results, cases):
        say(line)


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def standard_table(
    results: dict[tuple[str, str], list[dict[str, Any]]],
    skipped: dict[tuple[str, str], str],
    cases: Sequence[str],
) -> str:
    rows = []
    for key in cases:
        case = CASES[key]
        for contender, label in CONTENDERS.items():
            runs = results.get((key, contender))
            if not runs:
                rows.append([case.label, label, "", "", "", "", skipped.get((key, contender), "")])
                continue
            seconds = _median(runs, "seconds")
            first = runs[0]
            rows.append(
                [
                    case.label,
                    label,
                    f"{gb_per_s(case.nbytes, seconds):.3f}",
                    format_bytes(max(r["growth"] for r in runs)),
                    format_bytes(max(r["peak"] for r in runs)),
                    format_bytes(first["predicted"]) if "predicted" in first else "",
                    f"shard {tuple(first['shard'])}; read back: {first['check']}",
                ]
            )
    return markdown_table(
        [
            "image",
            "writer",
            "GB/s",
            "peak RSS growth",
            "peak RSS",
            "predicted",
            "notes",
        ],
        rows,
    )


def standard_targets(
    results: dict[tuple[str, str], list[dict[str, Any]]], cases: Sequence[str]
) -> list[str]:
    """The issue's targets: throughput against the whole-shard zarrs write (of the same
    image, or of the largest image it could write when the image does not fit), RSS."""
    lines = []
    reference = None
    for key in cases:
        case = CASES[key]
        zarrs = results.get((key, "zarrs"))
        if zarrs:
            reference = (case, gb_per_s(case.nbytes, _median(zarrs, "seconds")))
        for contender in STREAMED:
            runs = results.get((key, contender))
            if not runs:
                continue
            rate = gb_per_s(case.nbytes, _median(runs, "seconds"))
            label = f"{case.label}, {CONTENDERS[contender]}"
            # the lazy source generates its pixels inside the timed write: not comparable
            if reference is not None and contender == "vx-numpy":
                ratio = rate / reference[1]
                verdict = "MET" if ratio >= THROUGHPUT_TARGET else "NOT MET"
                against = "the same image" if reference[0] is case else reference[0].label
                lines.append(
                    f"- {label}: throughput >= {THROUGHPUT_TARGET}x the whole-shard zarrs"
                    f" write ({against}): **{verdict}** ({rate:.3f} vs {reference[1]:.3f}"
                    f" GB/s = {ratio:.2f}x)"
                )
            peak = max(r["peak"] for r in runs)
            measured = max(r["growth"] for r in runs) if contender == "vx-numpy" else peak
            verdict = "MET" if measured <= RSS_TARGET else "NOT MET"
            what = "peak RSS growth (source excluded)" if contender == "vx-numpy" else "peak RSS"
            lines.append(
                f"- {label}: {what} <= {format_bytes(RSS_TARGET)}: **{verdict}**"
                f" ({format_bytes(measured)})"
            )
    return lines


def run_region(
    script: Path,
    workdir: Path,
    pool_file: Path,
    seed: int,
    frames: Sequence[int],
    say: Callable[[str], None],
) -> None:
    rows, checks = [], []
    for count in frames:
        out = workdir / f"region-{count}.vsr"
        steps = {}
        try:
            for step in ("create", "region", "read"):
                command = [sys.executable, str(script), "--suite", "region"]
                command += ["--worker", f"{step}:{count}", "--out", str(out)]
                command += ["--pool", str(pool_file), "--seed", str(seed)]
                steps[step] = run_json_worker(command, timeout=7200)
                os.sync()  # the next step starts with the disk idle, not flushing this one
                print(
                    f"  {count} frames {step}: {steps[step]['seconds']:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
        finally:
            shutil.rmtree(out, ignore_errors=True)
        region, create = steps["region"], steps["create"]
        decoded = count * 832 * 2048 * 2
        rows.append(
            [
                f"(1, 1, {count}, 832, 2048)",
                format_bytes(decoded),
                format_bytes(region["stored_before"]),
                f"{create['seconds']:.1f} s",
                f"{region['seconds']:.2f} s",
                f"{region['stored_before'] / region['seconds'] / 1e9:.2f}",
                format_bytes(region["growth"]),
                format_bytes(region["peak"]),
            ]
        )
        checks.append(
            f"- {count} frames: "
            + ", ".join(f"{name} {v}" for name, v in steps["read"]["readers"].items())
        )
    say(
        markdown_table(
            [
                "shard",
                "decoded",
                "stored",
                "first write",
                "64-frame region write",
                "stored GB/s rewritten",
                "region RSS growth",
                "region peak RSS",
            ],
            rows,
        )
    )
    say("")
    say("Read back (64 frames before, the 64 new ones, 64 after):")
    say("")
    for line in checks:
        say(line)


def worker_main(suite: str, spec: str, out: Path, pool_file: Path, seed: int) -> None:
    first, second = spec.split(":")
    if suite == "standard":
        standard_worker(CASES[first], second, out, pool_file, seed)
    else:
        region_worker(first, int(second), out, pool_file, seed)
