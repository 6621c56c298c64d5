"""Read throughput of the visor engine against zarrs, zarr-python, xarray, visor-py, tensorstore.

Writes a VISoR-like raw image (uint16, microscopy-like content, blosc zstd 5 + shuffle,
sharded as VISoR raw images are), warms the page cache, then reads the whole level into a
fresh numpy array with every contender, round-robin, and reports decoded GB/s (median of
``--repeats`` runs) and the ratio of the engine to each contender; then the latency of a
small unaligned one-frame ROI. It measures decoding throughput from the page cache, not
disk speed.

Usage::

    python benchmarks/bench_read.py [--size-gib 1.0] [--repeats 5] [--workdir DIR] [--keep]
                                    [--roi-repeats 20] [--markdown PATH]

``--size-gib 0.05 --repeats 2`` is a quick smoke run (well under a minute).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import zarr
from _common import (
    GIB,
    Contender,
    RawSample,
    environment_lines,
    format_bytes,
    gb_per_s,
    load_line,
    make_raw_sample,
    markdown_table,
    page_fault_seconds,
    paired_ratio,
    retouch_seconds,
    run_interleaved,
    summarise,
    warm_page_cache,
    work_directory,
)
from zarr.storage import LocalStore

ZARRS = "zarrs.ZarrsCodecPipeline"
DEFAULT = "zarr.core.codec_pipeline.BatchedCodecPipeline"

ENGINE_VALUES = "engine `.values`"
ENGINE_DASK = "engine `chunks={}` + `.compute()`"
ENGINE_DASK_IN_PLACE = "engine `chunks={}` + `.visor.compute()`"
DIRECT_ZARRS = "direct zarrs `zarr.Array[...]`"
ZARR_DEFAULT = "zarr-python default pipeline `[...]`"
VISOR_PY = "visor-py `Image.load(0)[...]`"
TENSORSTORE = "tensorstore zarr3 `.read()`"

# Targets (issue): (description, numerator, denominator, minimum ratio) on throughput.
THROUGHPUT_TARGETS = (
    (
        "full read through the engine >= 0.9x the direct zarrs read",
        ENGINE_VALUES,
        DIRECT_ZARRS,
        0.9,
    ),
    (
        "full read through the engine >= 1.8x zarr-python's default pipeline",
        ENGINE_VALUES,
        ZARR_DEFAULT,
        1.8,
    ),
    ("full read through the engine ahead of visor-py", ENGINE_VALUES, VISOR_PY, 1.0),
    (
        "dask-chunked read through the engine (`.visor.compute()`) >= 0.8x the direct zarrs read",
        ENGINE_DASK_IN_PLACE,
        DIRECT_ZARRS,
        0.8,
    ),
    (
        "dask-chunked read through plain `.compute()` (dask's final gather) >= 0.8x the"
        " direct zarrs read",
        ENGINE_DASK,
        DIRECT_ZARRS,
        0.8,
    ),
)
ROI_LIMIT = 1.2  # engine ROI latency <= direct zarrs ROI latency x 1.2


def pipeline_of(array: zarr.Array) -> str:  # type: ignore[type-arg]
    cls = type(array.async_array.codec_pipeline)
    return f"{cls.__module__}.{cls.__qualname__}"


@contextlib.contextmanager
def pipeline(path: str) -> Iterator[None]:
    """Select zarr's codec pipeline for the arrays built inside the block."""
    with zarr.config.set({"codec_pipeline.path": path}):
        yield


def open_zarr_array(level_dir: Path, path: str) -> zarr.Array:  # type: ignore[type-arg]
    with pipeline(path):
        array = zarr.open_array(store=LocalStore(level_dir, read_only=True), mode="r")
    if pipeline_of(array) != path:
        raise RuntimeError(f"asked for {path}, zarr built {pipeline_of(array)}")
    return array


def _zarr_array_in(obj: Any) -> zarr.Array | None:  # type: ignore[type-arg]
    for _ in range(12):  # xarray's wrappers: adapters -> ZarrArrayWrapper._array
        if isinstance(getattr(obj, "_array", None), zarr.Array):
            return obj._array  # type: ignore[no-any-return]
        obj = getattr(obj, "array", None)
        if obj is None:
            return None
    return None


def check_xarray_pipeline(variable: Any, path: str) -> None:
    """Check which pipeline serves an ``xr.open_zarr`` variable (via xarray internals)."""
    data = variable.variable._data
    if hasattr(data, "dask"):  # the wrapped array is one value of the dask graph
        candidates = [v for k, v in dict(data.dask).items() if str(k).startswith("original-")]
    else:
        candidates = [data]
    arrays = [a for a in map(_zarr_array_in, candidates) if a is not None]
    if not arrays:
        raise RuntimeError("could not find the zarr array behind xr.open_zarr's variable")
    if pipeline_of(arrays[0]) != path:
        raise RuntimeError(f"xr.open_zarr asked for {path}, got {pipeline_of(arrays[0])}")


def once(check: Callable[[Any], None]) -> Callable[[Any], None]:
    """Run ``check`` on the first result only (comparing 1 GiB every run wastes time)."""
    done = False

    def wrapper(result: Any) -> None:
        nonlocal done
        if not done:
            check(result)
            done = True

    return wrapper


def equal_to(reference: np.ndarray, name: str) -> Callable[[Any], None]:
    def check(result: Any) -> None:
        data = np.asarray(getattr(result, "values", result))
        if data.shape != reference.shape or data.dtype != reference.dtype:
            raise AssertionError(f"{name}: got {data.shape} {data.dtype}")
        if not np.array_equal(data, reference):
            raise AssertionError(f"{name}: data differ from the direct zarrs read")

    return once(check)


# --------------------------------------------------------------------------- contenders


def full_read_contenders(
    sample: RawSample, reference: np.ndarray, visor_array: Any, notes: list[str]
) -> list[Contender]:
    import tensorstore as ts
    import xarray as xr

    path, name = sample.path, sample.name

    def engine_values() -> Callable[[], Any]:
        # opened afresh each run: xarray caches `.values` of a non-dask variable
        ds = xr.open_dataset(path, engine="visor", name=name, resolution=0)
        assert ds["image"].encoding["codec_pipeline"] == "ZarrsCodecPipeline"
        return lambda: ds["image"].values

    def engine_dask() -> Callable[[], Any]:
        ds = xr.open_dataset(path, engine="visor", name=name, resolution=0, chunks={})
        assert ds["image"].encoding["codec_pipeline"] == "ZarrsCodecPipeline"
        return lambda: ds["image"].compute()

    def engine_dask_in_place() -> Callable[[], Any]:
        ds = xr.open_dataset(path, engine="visor", name=name, resolution=0, chunks={})
        return lambda: ds["image"].visor.compute()

    def direct(path_: str) -> Callable[[], Callable[[], Any]]:
        def setup() -> Callable[[], Any]:
            array = open_zarr_array(sample.level_dir, path_)
            return lambda: array[...]

        return setup

    def open_zarr(path_: str, **chunks: Any) -> Callable[[], Callable[[], Any]]:
        def setup() -> Callable[[], Any]:
            with pipeline(path_):
                ds = xr.open_zarr(sample.image_dir, consolidated=False, **chunks)
            check_xarray_pipeline(ds["0"], path_)
            return lambda: ds["0"].values

        return setup

    def visor_py() -> Callable[[], Any]:
        return lambda: visor_array[...]

    def tensorstore() -> Callable[[], Any]:
        spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(sample.level_dir)}}
        store = ts.open(spec, read=True).result()
        return lambda: store.read().result()

    contenders = [
        Contender(ENGINE_VALUES, engine_values, note="fresh `open_dataset` per run (untimed)"),
        Contender(ENGINE_DASK, engine_dask, note="dask threaded scheduler, shard-aligned chunks"),
        Contender(
            ENGINE_DASK_IN_PLACE,
            engine_dask_in_place,
            note="same chunks; each block written into a preallocated result",
        ),
        Contender(DIRECT_ZARRS, direct(ZARRS)),
        Contender(ZARR_DEFAULT, direct(DEFAULT), note="BatchedCodecPipeline"),
        Contender(
            "`xr.open_zarr(image group)['0'].values`, default pipeline",
            open_zarr(DEFAULT, chunks=None),
            note="chunks=None (lazy numpy)",
        ),
        Contender(
            "`xr.open_zarr(image group)['0'].values`, zarrs pipeline",
            open_zarr(ZARRS, chunks=None),
            note="chunks=None; zarrs set around the open",
        ),
        Contender(
            "`xr.open_zarr(image group)` default dask chunks, zarrs pipeline",
            open_zarr(ZARRS),
            note="no `chunks` argument: one dask chunk per 64^3 inner chunk",
        ),
        Contender(
            "`xr.open_zarr(image group, chunks='auto')`, zarrs pipeline",
            open_zarr(ZARRS, chunks="auto"),
            note="dask auto chunks (multiples of inner chunks)",
        ),
        Contender(VISOR_PY, visor_py, note="object built once, before timing"),
        Contender(TENSORSTORE, tensorstore, note="file kvstore, default context"),
    ]
    for contender in contenders:
        contender.check = equal_to(reference, contender.name)
    notes.append(
        "`xr.open_zarr` cannot open a level array path (zarr raises ContainsArrayError: it"
        " wants a group), so it opens the image group and takes variable `'0'`."
    )
    return contenders


def roi_contenders(
    sample: RawSample, roi: tuple[Any, ...], visor_array: Any
) -> tuple[list[Contender], np.ndarray]:
    import tensorstore as ts
    import xarray as xr

    vs, ch, z, ys, xs = roi
    ds = xr.open_dataset(sample.path, engine="visor", name=sample.name, resolution=0)
    ds_dask = xr.open_dataset(
        sample.path, engine="visor", name=sample.name, resolution=0, chunks={}
    )
    zarrs_array = open_zarr_array(sample.level_dir, ZARRS)
    default_array = open_zarr_array(sample.level_dir, DEFAULT)
    spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(sample.level_dir)}}
    store = ts.open(spec, read=True).result()
    reference = np.asarray(zarrs_array[roi])
    selection = {"vs": vs, "ch": ch, "z": z, "y": ys, "x": xs}

    def ready(fn: Callable[[], Any]) -> Callable[[], Callable[[], Any]]:
        return lambda: fn

    contenders = [
        Contender(ENGINE_VALUES, ready(lambda: ds["image"].isel(selection).values)),
        Contender(
            "engine `chunks={}` `.isel(...).values`",
            ready(lambda: ds_dask["image"].isel(selection).values),
        ),
        Contender(DIRECT_ZARRS, ready(lambda: zarrs_array[roi])),
        Contender(ZARR_DEFAULT, ready(lambda: default_array[roi])),
        Contender(VISOR_PY, ready(lambda: visor_array[roi])),
        Contender(TENSORSTORE, ready(lambda: store[roi].read().result())),
    ]
    for contender in contenders:
        contender.check = equal_to(reference, contender.name)
    return contenders, reference


def build_visor_py(sample: RawSample, notes: list[str]) -> Any:
    """visor-py's level array, built once; zarr's global pipeline is restored afterwards."""
    import visor

    before = zarr.config.get("codec_pipeline.path")
    image = visor.Image(sample.path, "raw", sample.name)
    array = image.load(0)
    after = zarr.config.get("codec_pipeline.path")
    zarr.config.set({"codec_pipeline.path": before})
    notes.append(
        f"visor-py's `Image(...)` switched zarr's *global* codec pipeline from `{before}` to "
        f"`{after}` (process-wide side effect); its array was built once, it is served by "
        f"`{pipeline_of(array)}`, and the global setting was restored afterwards. Every other "
        "contender selects its pipeline explicitly around its open."
    )
    return array


def probe_visor_py_open_zarr(workdir: Path) -> str:
    """Write a tiny level with visor-py and try ``xr.open_zarr`` on it; return the outcome."""
    import visor
    import xarray as xr

    before = zarr.config.get("codec_pipeline.path")
    try:
        sample = workdir / "visor_py_probe.vsr"
        shutil.rmtree(sample, ignore_errors=True)  # our own scratch sample from a rerun
        sample.mkdir()
        image = visor.Image(sample, "raw", "probe", create=True)
        image.save(
            np.zeros((1, 1, 4, 8, 8), dtype="uint16"),
            0,
            "uint16",
            (1, 1, 4, 8, 8),
            (1, 1, 4, 8, 8),
            (1, 1, 4, 8, 8),
            zarr.codecs.BloscCodec(cname="zstd", clevel=5),
        )
        try:
            xr.open_zarr(image.path, consolidated=False)
        except Exception as error:
            return f"fails: {type(error).__name__}: {error}"
        return "opened (unexpected: visor-py now writes dimension_names?)"
    finally:
        zarr.config.set({"codec_pipeline.path": before})


# --------------------------------------------------------------------------- report


def _by_name(contenders: list[Contender]) -> dict[str, Contender]:
    return {c.name: c for c in contenders if c.error is None and c.times}


def throughput_table(contenders: list[Contender], nbytes: int) -> str:
    ok = _by_name(contenders)
    engine = ok.get(ENGINE_VALUES)
    rows = []
    for c in contenders:
        if c.name not in ok:
            rows.append([c.name, "failed", "", "", "", "", "", "", "", c.error or "no runs"])
            continue
        stats = summarise(c.times)
        versus = paired = float("nan")
        if engine is not None:
            versus = summarise(engine.times)["median"] ** -1 / stats["median"] ** -1
            paired = 1 / paired_ratio(engine.times, c.times)
        rows.append(
            [
                c.name,
                f"{gb_per_s(nbytes, stats['median']):.2f}",
                f"{gb_per_s(nbytes, stats['min']):.2f}",
                f"{stats['median'] * 1e3:.0f}",
                f"{stats['spread'] * 100:.0f}%",
                f"{statistics.median(c.cpu_times):.2f}",
                f"{versus:.2f}x",
                f"{paired:.2f}x",
                format_bytes(c.peak_rss) if c.peak_rss is not None else "",
                c.note,
            ]
        )
    headers = [
        "contender",
        "GB/s (median)",
        "GB/s (best)",
        "median ms",
        "spread",
        "CPU s",
        "engine `.values` / it",
        "paired",
        "peak RSS growth",
        "note",
    ]
    return markdown_table(headers, rows, align="lrrrrrrrrl")


def roi_table(contenders: list[Contender]) -> str:
    ok = _by_name(contenders)
    engine = ok.get(ENGINE_VALUES)
    rows = []
    for c in contenders:
        if c.name not in ok:
            rows.append([c.name, "failed", "", "", "", "", c.error or "no runs"])
            continue
        stats = summarise(c.times)
        versus = paired = float("nan")
        if engine is not None:
            versus = summarise(engine.times)["median"] / stats["median"]
            paired = paired_ratio(engine.times, c.times)
        rows.append(
            [
                c.name,
                f"{stats['median'] * 1e3:.2f}",
                f"{stats['min'] * 1e3:.2f}",
                f"{stats['spread'] * 100:.0f}%",
                f"{statistics.median(c.cpu_times) * 1e3:.2f}",
                f"{versus:.2f}x",
                f"{paired:.2f}x",
            ]
        )
    headers = [
        "contender",
        "median ms",
        "best ms",
        "spread",
        "CPU ms",
        "engine latency / its",
        "paired",
    ]
    return markdown_table(headers, rows, align="lrrrrrr")


def target_lines(full: list[Contender], rois: list[Contender], nbytes: int) -> list[str]:
    """One line per target: verdict on medians (as the issue defines them).

    Each line adds the paired (per-round) and best-run ratios, which resist background
    load better than a ratio of medians.
    """
    ok, roi_ok = _by_name(full), _by_name(rois)
    lines = []
    for text, numerator, denominator, minimum in THROUGHPUT_TARGETS:
        if numerator not in ok or denominator not in ok:
            lines.append(f"- {text}: NOT MEASURED")
            continue
        a, b = summarise(ok[numerator].times), summarise(ok[denominator].times)
        ratio = b["median"] / a["median"]
        paired = 1 / paired_ratio(ok[numerator].times, ok[denominator].times)
        best = b["min"] / a["min"]
        verdict = "MET" if ratio >= minimum else "NOT MET"
        lines.append(
            f"- {text}: **{verdict}** ({gb_per_s(nbytes, a['median']):.2f} vs"
            f" {gb_per_s(nbytes, b['median']):.2f} GB/s = {ratio:.2f}x, needs >= {minimum:.2f}x;"
            f" paired {paired:.2f}x, best-run {best:.2f}x)"
        )
    if ENGINE_VALUES in roi_ok and DIRECT_ZARRS in roi_ok:
        a, b = summarise(roi_ok[ENGINE_VALUES].times), summarise(roi_ok[DIRECT_ZARRS].times)
        ratio = a["median"] / b["median"]
        paired = paired_ratio(roi_ok[ENGINE_VALUES].times, roi_ok[DIRECT_ZARRS].times)
        verdict = "MET" if ratio <= ROI_LIMIT else "NOT MET"
        lines.append(
            f"- one-frame ROI latency through the engine <= direct zarrs x {ROI_LIMIT}:"
            f" **{verdict}** ({a['median'] * 1e3:.2f} ms vs {b['median'] * 1e3:.2f} ms"
            f" = {ratio:.2f}x, needs <= {ROI_LIMIT:.2f}x; paired {paired:.2f}x,"
            f" best-run {a['min'] / b['min']:.2f}x)"
        )
    return lines


def noise_warning(contenders: list[Contender], loads: list[float]) -> str | None:
    cpus = os.cpu_count() or 1
    spreads = [summarise(c.times)["spread"] for c in contenders if c.times]
    worst_spread = max(spreads, default=0.0)
    busiest = max(loads, default=0.0)
    if busiest <= cpus and worst_spread <= 0.3:
        return None
    return (
        f"**WARNING: noisy measurement** — 1-min load average up to {busiest:.1f} on {cpus}"
        f" CPUs during the timed rounds, run-to-run spread up to {worst_spread * 100:.0f}%."
        " Other processes took CPU time from the contenders; medians of different"
        " contenders can differ by this much from noise alone. Prefer the paired and"
        " best-run ratios, or rerun on an idle machine."
    )


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gib", type=float, default=1.0, help="decoded size (default 1.0)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per contender")
    parser.add_argument("--roi-repeats", type=int, default=20, help="timed ROI reads")
    parser.add_argument("--workdir", type=Path, help="where to write the sample (kept)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary sample")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    if args.size_gib <= 0 or args.repeats < 1 or args.roi_repeats < 1:
        parser.error("--size-gib must be > 0, --repeats and --roi-repeats >= 1")
    return args


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds, so the temporary sample is removed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    started = time.perf_counter()
    report: list[str] = ["# Read benchmark (`benchmarks/bench_read.py`)", ""]

    def say(line: str = "") -> None:
        print(line, flush=True)
        report.append(line)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    for line in environment_lines(["tensorstore", "visor-py"]):
        say(f"- {line}")
    with work_directory(args.workdir, args.keep, prefix="bench_read_") as workdir:
        log(f"writing a {args.size_gib:g} GiB sample in {workdir} ...")
        sample = make_raw_sample(workdir / "bench.vsr", int(args.size_gib * GIB), log=log)
        say(f"- sample: {sample.describe()}")
        say(
            f"- written through `vx.Image(...).create`, one whole shard per write (zarrs):"
            f" {sample.write_seconds:.1f} s writing, {sample.generate_seconds:.1f} s"
            " generating content"
        )
        warmed = warm_page_cache(sample.path)
        say(
            f"- page cache warmed ({format_bytes(warmed)} read once) before timing: the"
            " numbers are decode + copy throughput from memory, not disk throughput"
        )
        faults = page_fault_seconds(sample.nbytes)
        say(
            f"- first touch of a fresh {format_bytes(sample.nbytes)} array (page faults, paid"
            " by every contender for its output; twice by those peaking at 2x): "
            + " s, then ".join(f"{t:.2f}" for t in faults)
            + " s"
        )
        right_after, after_idle = retouch_seconds(sample.nbytes)
        say(
            f"- touching that memory again right after freeing it: {right_after:.2f} s; after"
            f" 2 s idle: {after_idle:.2f} s (a VM returning freed pages to its host makes the"
            " second figure as slow as a first touch: a read peaking at twice its output"
            " pays it on the second half)"
        )
        notes: list[str] = []
        reference = np.asarray(open_zarr_array(sample.level_dir, ZARRS)[...])
        visor_array = build_visor_py(sample, notes)

        log(f"full reads: {args.repeats} runs (+1 warm-up) per contender, round-robin ...")
        full = full_read_contenders(sample, reference, visor_array, notes)
        loads = run_interleaved(full, args.repeats, warmup=1, measure_rss=True)
        del reference

        depth = sample.shape[2]
        z = 137 if depth > 137 else (2 * depth) // 3
        roi = (0, 0, z, slice(100, 612), slice(300, 1324))
        log(f"ROI reads: {args.roi_repeats} runs per contender, round-robin ...")
        rois, roi_data = roi_contenders(sample, roi, visor_array)
        loads += run_interleaved(rois, args.roi_repeats, warmup=1, log=False)
        probe = probe_visor_py_open_zarr(workdir)

        say()
        say(
            f"## Full read of level 0 ({format_bytes(sample.nbytes)} decoded), median of"
            f" {args.repeats} runs (GB = 1e9 bytes)"
        )
        say()
        say(throughput_table(full, sample.nbytes))
        say()
        say(
            "GB/s = decoded bytes / seconds; best = fastest run; spread = (max - min) / median;"
            " CPU s = median CPU time of the process (all threads) per read, which background"
            " load barely changes; engine / it = ratio of medians (> 1: the engine is faster);"
            " paired = median over rounds of the same ratio within one round."
        )
        say()
        say(
            f"## One-frame unaligned ROI `[0, 0, {z}, 100:612, 300:1324]`"
            f" ({format_bytes(roi_data.nbytes)} out), median of {args.roi_repeats} runs"
        )
        say()
        say(roi_table(rois))
        say()
        say("## Targets")
        say()
        for line in target_lines(full, rois, sample.nbytes):
            say(line)
        warning = noise_warning([*full, *rois], loads)
        if warning is not None:
            say()
            say(warning)
        say()
        say("## Notes")
        say()
        notes.append(
            "Our arrays carry `dimension_names`, so `xr.open_zarr` works on them. A level"
            f" written by visor-py has none: `xr.open_zarr` on one (probe written here) {probe}"
        )
        notes.append(
            "peak RSS growth: measured during each contender's warm-up call (kernel high-water"
            " mark, reset first); the output array itself is one decoded level."
        )
        notes.append(
            "zarr-python's faster `FusedCodecPipeline` is not in zarr 3.1.6 and is not measured."
        )
        for note in notes:
            say(f"- {note}")
        say(f"- load average (1/5/15 min) at the end: {load_line()}")
        say(f"- total benchmark time {time.perf_counter() - started:.0f} s")
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("\n".join(report) + "\n", encoding="utf-8")
        log(f"report written to {args.markdown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
