"""Remote reads and copies, against loopback S3-protocol (moto) and HTTP servers.

Writes a VISoR-like raw image (the sample of ``bench_read.py``: uint16, microscopy-like
content, blosc zstd 5 + shuffle, one shard per stack), starts moto's S3-protocol server
on 127.0.0.1 in a subprocess (``visor_xarray.testing.moto_server``), uploads the sample
into a bucket with ``obstore.put``, and measures in this one process:

1. full read of level 0 into a fresh numpy array, decoded GB/s (median of ``--repeats``
   runs after one warm-up round, contenders round-robin): the engine from S3 with its
   default pipeline for remote samples (``xr.open_dataset("s3://...", engine="visor",
   chunks={}, storage_options=...)``, ``.values``; zarr-python's ``BatchedCodecPipeline``,
   the ``remote_codec_pipeline`` option), the same with ``codec_pipeline="zarrs"``,
   zarr-python's default pipeline and zarr-python with the zarrs pipeline reading the
   same S3 store directly (``zarr.open_array(...)[:]``: what each pipeline costs without
   the engine), and the engine on the local copy (zarrs, the ``codec_pipeline`` option);
2. the latency of a 32 x 32 x 32 region of one stack and channel: the engine from S3
   with its default pipeline and with ``codec_pipeline="zarrs"``, against local, each
   repeat on a freshly opened dataset (the open timed separately);
3. ``visor_xarray.copy_sample`` upload (local -> ``s3://``) and download (``s3://`` ->
   local) in MB/s of stored bytes (the sum of the sample's file sizes), next to plain
   ``obstore.put`` / ``obstore.get`` of every file. A ``copy_sample`` that does not
   accept a URL yet is reported as NOT AVAILABLE;
4. the same local sample served over plain HTTP by a loopback web server with Range
   support (``visor_xarray.testing.http_server``, Python's ``http.server`` in a
   subprocess): full read and ROI latency of the engine (``http://.../bench.vsr`` through
   obstore's ``HTTPStore``) with its default pipeline and with ``codec_pipeline="zarrs"``,
   against local reads.

Every engine read checks the pipeline it went through: the ``codec_pipeline=`` given,
else for a URL the ``remote_codec_pipeline`` option, else the ``codec_pipeline`` option.

moto is a Python server: it answers a ranged GET by reading the whole object, so each
request to a shard costs time in proportion to the shard's size, and readers that fetch
one inner chunk per request pay that once per chunk. The web server of part 4 reads only
the requested range; comparing the two sections tells moto's per-request cost from the
pipelines' own. All numbers say how the readers compare on these loopback servers, not
what a real object store or CDN would give; the transport baselines (plain obstore calls
on the largest object) say why.

Usage::

    python benchmarks/bench_remote.py [--size-mib 100] [--repeats 3] [--roi-repeats 10]
                                      [--copy-repeats 2] [--workdir DIR] [--keep]
                                      [--markdown PATH]

The default (100 MiB decoded: one stack 32 frames deep, deep enough for the 32^3 region)
runs in about 2 minutes on 2 cores, two thirds of it in the full reads of the two zarrs
contenders from S3 (about 10 s a read);
``--size-mib 40 --repeats 1 --roi-repeats 3 --copy-repeats 1`` is a quick smoke run
(about 25 s).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import importlib.metadata
import os
import shutil
import signal
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import zarr
from _common import (
    Contender,
    RawSample,
    environment_lines,
    format_bytes,
    gb_per_s,
    load_line,
    make_raw_sample,
    markdown_table,
    paired_ratio,
    run_interleaved,
    stored_bytes,
    summarise,
    warm_page_cache,
    work_directory,
)
from zarr.storage import LocalStore

from visor_xarray.testing import http_server, moto_server

MIB = 2**20
MB = 10**6  # transfer rates are reported in decimal MB/s

KEY, SECRET = "visor-bench-key", "visor-bench-secret-0123456789"
REGION = "us-east-1"
BUCKET = "visor-bench"
PREFIX = "samples/bench.vsr"

ZARRS = "zarrs.ZarrsCodecPipeline"
DEFAULT = "zarr.core.codec_pipeline.BatchedCodecPipeline"

#: The ``codec_pipeline=`` argument of the engine's zarrs contenders, as it reads in the tables.
WITH_ZARRS = '`codec_pipeline="zarrs"`'
#: URL schemes of remote samples (their default pipeline is the ``remote_codec_pipeline``).
REMOTE_SCHEMES = ("s3://", "http://", "https://")

ENGINE_S3 = "engine, S3 `chunks={}` + `.values`"
ENGINE_ZARRS_S3 = f"engine {WITH_ZARRS}, S3 `chunks={{}}` + `.values`"
DEFAULT_S3 = "zarr-python default pipeline, S3 `[:]`"
ZARRS_S3 = "zarr-python + zarrs pipeline, S3 `[:]`"
ENGINE_LOCAL = "engine, local `chunks={}` + `.values`"

ENGINE_HTTP = "engine, HTTP `chunks={}` + `.values`"
ENGINE_ZARRS_HTTP = f"engine {WITH_ZARRS}, HTTP `chunks={{}}` + `.values`"


def roi_name(where: str, zarrs: bool = False) -> str:
    return f"engine{' ' + WITH_ZARRS if zarrs else ''}, {where}: `.isel(roi).values`"


def open_roi_name(where: str, zarrs: bool = False) -> str:
    return (
        f"engine{' ' + WITH_ZARRS if zarrs else ''}, {where}: `open_dataset` + `.isel(roi).values`"
    )


ROI_LOCAL, OPEN_ROI_LOCAL = roi_name("local"), open_roi_name("local")

PUT_BASELINE = "`obstore.put` of every file (baseline)"
COPY_UP = "`copy_sample(local, 's3://...')`"
GET_BASELINE = "`obstore.get` of every object (baseline)"
COPY_DOWN = "`copy_sample('s3://...', local)`"

ROI_EDGE = 32


# --------------------------------------------------------------------------- stores


def storage_options(endpoint: str) -> dict[str, Any]:
    """``storage_options`` for the loopback server, as a user passes them."""
    return {"key": KEY, "secret": SECRET, "endpoint_url": endpoint}


def s3_store(endpoint: str) -> Any:
    """An obstore ``S3Store`` on the benchmark bucket (for uploads and the zarr contenders)."""
    from obstore.store import S3Store

    config = {
        "endpoint": endpoint,
        "access_key_id": KEY,
        "secret_access_key": SECRET,
        "region": REGION,
    }
    return S3Store(BUCKET, config=config, client_options={"allow_http": True})


def create_bucket(endpoint: str) -> None:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        region_name=REGION,
    )
    client.create_bucket(Bucket=BUCKET)


def local_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def put_tree(store: Any, local: Path, prefix: str) -> int:
    """``obstore.put`` every file under ``local`` at ``prefix/...``; bytes sent."""
    import obstore

    total = 0
    for file in local_files(local):
        data = file.read_bytes()
        obstore.put(store, f"{prefix}/{file.relative_to(local).as_posix()}", data)
        total += len(data)
    return total


def get_tree(store: Any, prefix: str, local: Path) -> int:
    """``obstore.get`` every object under ``prefix/`` into ``local``; bytes received."""
    import obstore

    total = 0
    for batch in obstore.list(store, prefix=f"{prefix}/"):
        for meta in batch:
            data = obstore.get(store, meta["path"]).bytes()
            target = local / meta["path"][len(prefix) + 1 :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            total += len(data)
    return total


def remote_sizes(store: Any, prefix: str) -> dict[str, int]:
    """``{key relative to prefix: size}`` of the objects under ``prefix/``."""
    import obstore

    return {
        meta["path"][len(prefix) + 1 :]: int(meta["size"])
        for batch in obstore.list(store, prefix=f"{prefix}/")
        for meta in batch
    }


def delete_prefix(store: Any, prefix: str) -> None:
    import obstore

    keys = [f"{prefix}/{key}" for key in remote_sizes(store, prefix)]
    if keys:
        obstore.delete(store, keys)


# --------------------------------------------------------------------------- checks


def pipeline_of(array: zarr.Array) -> str:  # type: ignore[type-arg]
    cls = type(array.async_array.codec_pipeline)
    return f"{cls.__module__}.{cls.__qualname__}"


def open_level(store: Any, path: str, pipeline: str) -> zarr.Array:  # type: ignore[type-arg]
    """The level array at ``path`` of a zarr store, read through ``pipeline``."""
    with zarr.config.set({"codec_pipeline.path": pipeline}):
        array = zarr.open_array(store=store, path=path, mode="r")
    if pipeline_of(array) != pipeline:
        raise RuntimeError(f"asked for {pipeline}, zarr built {pipeline_of(array)}")
    return array


def equal_once(reference: np.ndarray, name: str) -> Callable[[Any], None]:
    """Compare the first result with ``reference`` (later ones are the same read)."""
    done = False

    def check(result: Any) -> None:
        nonlocal done
        if done:
            return
        data = np.asarray(getattr(result, "values", result))
        if data.shape != reference.shape or data.dtype != reference.dtype:
            raise AssertionError(f"{name}: got {data.shape} {data.dtype}")
        if not np.array_equal(data, reference):
            raise AssertionError(f"{name}: data differ from the local zarr read")
        done = True

    return check


# --------------------------------------------------------------------------- contenders


def expected_pipeline(path: Any, codec_pipeline: str | None) -> str:
    """The pipeline class an engine read of ``path`` must go through.

    The ``codec_pipeline=`` given, else for a remote URL the ``remote_codec_pipeline``
    option, else the ``codec_pipeline`` option (as ``encoding["codec_pipeline"]`` names it).
    """
    import visor_xarray as vx

    if codec_pipeline is None:
        remote = isinstance(path, str) and path.startswith(REMOTE_SCHEMES)
        codec_pipeline = vx.get_options()["remote_codec_pipeline" if remote else "codec_pipeline"]
    return "ZarrsCodecPipeline" if codec_pipeline == "zarrs" else "BatchedCodecPipeline"


def engine_image(sample: RawSample, path: Any, **extra: Any) -> Any:
    """The level-0 ``image`` of a freshly opened dataset, through the expected pipeline."""
    import xarray as xr

    expected = expected_pipeline(path, extra.get("codec_pipeline"))
    image = xr.open_dataset(
        path, engine="visor", name=sample.name, resolution=0, chunks={}, **extra
    )["image"]
    used = image.encoding.get("codec_pipeline")
    if used != expected:
        raise RuntimeError(f"the engine reads through {used}, not {expected}")
    return image


def engine_read(sample: RawSample, path: Any, **extra: Any) -> Callable[[], Callable[[], Any]]:
    """Setup of a full read: open afresh (untimed, no cached values or shard index)."""

    def setup() -> Callable[[], Any]:
        image = engine_image(sample, path, **extra)
        return lambda: image.values

    return setup


def full_read_contenders(
    sample: RawSample,
    url: str,
    options: dict[str, Any],
    store: Any,
    level_key: str,
    reference: np.ndarray,
) -> list[Contender]:
    from zarr.storage import ObjectStore

    def direct(pipeline: str) -> Callable[[], Callable[[], Any]]:
        def setup() -> Callable[[], Any]:
            array = open_level(ObjectStore(store, read_only=True), level_key, pipeline)
            return lambda: array[:]

        return setup

    fresh = "fresh `open_dataset` per run (untimed); dask threaded scheduler"
    contenders = [
        Contender(
            ENGINE_S3,
            engine_read(sample, url, storage_options=options),
            note=f"`BatchedCodecPipeline` (`remote_codec_pipeline` option); {fresh}",
        ),
        Contender(
            ENGINE_ZARRS_S3,
            engine_read(sample, url, storage_options=options, codec_pipeline="zarrs"),
            note=f"`ZarrsCodecPipeline`; {fresh}",
        ),
        Contender(
            DEFAULT_S3,
            direct(DEFAULT),
            note="`zarr.open_array(ObjectStore(S3Store))` per run (untimed)",
        ),
        Contender(ZARRS_S3, direct(ZARRS), note="same store, `ZarrsCodecPipeline`"),
        Contender(ENGINE_LOCAL, engine_read(sample, sample.path), note="zarrs; page cache warm"),
    ]
    for contender in contenders:
        contender.check = equal_once(reference, contender.name)
    return contenders


def http_full_read_contenders(
    sample: RawSample, url: str, reference: np.ndarray
) -> list[Contender]:
    fresh = "obstore `HTTPStore`; fresh `open_dataset` per run (untimed)"
    contenders = [
        Contender(
            ENGINE_HTTP,
            engine_read(sample, url),
            note=f"`BatchedCodecPipeline` (`remote_codec_pipeline` option); {fresh}",
        ),
        Contender(
            ENGINE_ZARRS_HTTP,
            engine_read(sample, url, codec_pipeline="zarrs"),
            note=f"`ZarrsCodecPipeline`; {fresh}",
        ),
        Contender(ENGINE_LOCAL, engine_read(sample, sample.path), note="zarrs; page cache warm"),
    ]
    for contender in contenders:
        contender.check = equal_once(reference, contender.name)
    return contenders


def roi_selection(sample: RawSample) -> dict[str, Any]:
    """A 32^3 region of stack 0, channel 0 inside one 64^3 inner chunk (z, y, x)."""
    depth = sample.shape[2]
    dz = min(ROI_EDGE, depth)
    z0 = max(0, min(16, depth - dz))
    return {
        "vs": 0,
        "ch": 0,
        "z": slice(z0, z0 + dz),
        "y": slice(70, 70 + ROI_EDGE),
        "x": slice(264, 264 + ROI_EDGE),
    }


def roi_contenders(
    sample: RawSample,
    reference: np.ndarray,
    remote: str,
    url: str,
    **open_options: Any,
) -> list[Contender]:
    """ROI latency from ``url`` (labelled ``remote``: S3, HTTP), with the engine's default
    pipeline and with zarrs, and from the local copy."""
    selection = roi_selection(sample)

    def read_only(path: Any, **extra: Any) -> Callable[[], Callable[[], Any]]:
        def setup() -> Callable[[], Any]:
            image = engine_image(sample, path, **extra)  # fresh, untimed
            return lambda: image.isel(selection).values

        return setup

    def open_and_read(path: Any, **extra: Any) -> Callable[[], Callable[[], Any]]:
        return lambda: lambda: engine_image(sample, path, **extra).isel(selection).values

    zarrs = {**open_options, "codec_pipeline": "zarrs"}
    contenders = [
        Contender(roi_name(remote), read_only(url, **open_options), note="fresh open, untimed"),
        Contender(
            roi_name(remote, zarrs=True), read_only(url, **zarrs), note="fresh open, untimed"
        ),
        Contender(ROI_LOCAL, read_only(sample.path), note="fresh open, untimed"),
        Contender(open_roi_name(remote), open_and_read(url, **open_options), note="both timed"),
        Contender(
            open_roi_name(remote, zarrs=True), open_and_read(url, **zarrs), note="both timed"
        ),
        Contender(OPEN_ROI_LOCAL, open_and_read(sample.path), note="both timed"),
    ]
    for contender in contenders:
        contender.check = equal_once(reference, contender.name)
    return contenders


# --------------------------------------------------------------------------- transfers


class Transfer:
    """One way of moving the whole sample between the local disk and the bucket.

    ``start(r)`` prepares round ``r`` (untimed) and returns the call to time;
    ``finish(r)`` checks what arrived (untimed), removes it, and returns its stored bytes.
    With ``guarded``, an error meaning "a remote end is not supported" marks the transfer
    NOT AVAILABLE instead of FAILED.
    """

    def __init__(
        self,
        name: str,
        start: Callable[[int], Callable[[], Any]],
        finish: Callable[[int], int],
        *,
        guarded: bool = False,
    ) -> None:
        self.name = name
        self.start = start
        self.finish = finish
        self.guarded = guarded
        self.times: list[float] = []
        self.found: list[int] = []
        self.error: str | None = None
        self.unavailable = False


def unsupported_errors() -> tuple[type[BaseException], ...]:
    """Errors meaning that ``copy_sample`` does not take a URL (yet)."""
    errors: tuple[type[BaseException], ...] = (TypeError, NotImplementedError)
    try:
        from visor_xarray.errors import RemoteUnsupportedError
    except ImportError:
        return errors
    return (*errors, RemoteUnsupportedError)


def transfers(
    sample: RawSample,
    workdir: Path,
    url: str,
    options: dict[str, Any],
    store: Any,
    reference: np.ndarray,
    checks: list[str],
) -> list[Transfer]:
    """Uploads and downloads of the whole sample: ``copy_sample`` and plain obstore calls."""
    from zarr.storage import ObjectStore

    import visor_xarray as vx

    level_rel = sample.level_dir.relative_to(sample.path).as_posix()
    source = {
        p.relative_to(sample.path).as_posix(): p.stat().st_size for p in local_files(sample.path)
    }
    checked: set[str] = set()

    def verify(name: str, found: dict[str, int], level_store: Any, level_path: str) -> None:
        """Compare the level's files and data with the source, once per transfer."""
        if name in checked:
            return
        checked.add(name)
        level_files = {k: v for k, v in source.items() if k.startswith(f"{level_rel}/")}
        same_sizes = all(found.get(k) == v for k, v in level_files.items())
        try:
            data = open_level(level_store, level_path, DEFAULT)[:]
            same_data = bool(np.array_equal(data, reference))
        except Exception as error:  # report it, do not end the benchmark
            same_data = False
            checks.append(f"{name}: level 0 unreadable at the destination ({error})")
        missing = sorted(set(source) - set(found))
        checks.append(
            f"{name}: {len(found)} files arrived ({len(source)} in the source"
            + (f"; missing {missing}" if missing else "")
            + f"); level 0 files of the same sizes: {same_sizes}; level 0 data equal: "
            f"{same_data}"
        )

    def upload_finish(prefix: Callable[[int], str], name: str) -> Callable[[int], int]:
        def finish(r: int) -> int:
            found = remote_sizes(store, prefix(r))
            verify(name, found, ObjectStore(store, read_only=True), f"{prefix(r)}/{level_rel}")
            delete_prefix(store, prefix(r))
            return sum(found.values())

        return finish

    def download_finish(target: Callable[[int], Path], name: str) -> Callable[[int], int]:
        def finish(r: int) -> int:
            root = target(r)
            found = {p.relative_to(root).as_posix(): p.stat().st_size for p in local_files(root)}
            verify(name, found, LocalStore(root, read_only=True), level_rel)
            shutil.rmtree(root)
            return sum(found.values())

        return finish

    def put_prefix(r: int) -> str:
        return f"transfers/put-{r}.vsr"

    def copy_prefix(r: int) -> str:
        return f"transfers/copy-{r}.vsr"

    def get_dir(r: int) -> Path:
        return workdir / f"get-{r}.vsr"

    def copy_dir(r: int) -> Path:
        return workdir / f"copy-{r}.vsr"

    def put_start(r: int) -> Callable[[], Any]:
        return lambda: put_tree(store, sample.path, put_prefix(r))

    def copy_up_start(r: int) -> Callable[[], Any]:
        destination = f"s3://{BUCKET}/{copy_prefix(r)}"
        return lambda: vx.copy_sample(sample.path, destination, storage_options=options)

    def get_start(r: int) -> Callable[[], Any]:
        shutil.rmtree(get_dir(r), ignore_errors=True)
        return lambda: get_tree(store, PREFIX, get_dir(r))

    def copy_down_start(r: int) -> Callable[[], Any]:
        shutil.rmtree(copy_dir(r), ignore_errors=True)
        return lambda: vx.copy_sample(url, copy_dir(r), storage_options=options)

    return [
        Transfer(PUT_BASELINE, put_start, upload_finish(put_prefix, PUT_BASELINE)),
        Transfer(COPY_UP, copy_up_start, upload_finish(copy_prefix, COPY_UP), guarded=True),
        Transfer(GET_BASELINE, get_start, download_finish(get_dir, GET_BASELINE)),
        Transfer(COPY_DOWN, copy_down_start, download_finish(copy_dir, COPY_DOWN), guarded=True),
    ]


def run_transfers(jobs: list[Transfer], repeats: int) -> None:
    """Time every transfer ``repeats`` times, round-robin (no warm-up: each one is long)."""
    unsupported = unsupported_errors()
    for r in range(repeats):
        shift = r % len(jobs)
        for job in jobs[shift:] + jobs[:shift]:
            if job.error is not None:
                continue
            try:
                fn = job.start(r)
                start = time.perf_counter()
                fn()
                elapsed = time.perf_counter() - start
            except Exception as error:  # a transfer failing must not end the benchmark
                job.error = f"{type(error).__name__}: {error}"
                job.unavailable = job.guarded and isinstance(error, unsupported)
                verdict = "NOT AVAILABLE" if job.unavailable else "FAILED"
                print(f"  ! {job.name}: {verdict} ({job.error})", file=sys.stderr)
                with contextlib.suppress(Exception):
                    job.finish(r)  # remove what a failed copy left behind
                continue
            job.times.append(elapsed)
            job.found.append(job.finish(r))
        print(f"  transfers {r + 1}/{repeats} done (load {load_line()})", file=sys.stderr)


# --------------------------------------------------------------------------- report


def _ok(contenders: list[Contender]) -> dict[str, Contender]:
    return {c.name: c for c in contenders if c.error is None and c.times}


def throughput_table(contenders: list[Contender], nbytes: int) -> str:
    ok = _ok(contenders)
    rows = []
    for c in contenders:
        if c.name not in ok:
            rows.append([c.name, "failed", "", "", "", "", c.error or "no runs"])
            continue
        stats = summarise(c.times)
        rows.append(
            [
                c.name,
                f"{gb_per_s(nbytes, stats['median']):.3g}",
                f"{gb_per_s(nbytes, stats['min']):.3g}",
                f"{stats['median']:.3f}",
                f"{stats['spread'] * 100:.0f}%",
                f"{statistics.median(c.cpu_times):.2f}",
                c.note,
            ]
        )
    headers = [
        "contender",
        "GB/s (median)",
        "GB/s (best)",
        "median s",
        "spread",
        "CPU s",
        "note",
    ]
    return markdown_table(headers, rows, align="lrrrrrl")


def latency_table(contenders: list[Contender]) -> str:
    ok = _ok(contenders)
    rows = []
    for c in contenders:
        if c.name not in ok:
            rows.append([c.name, "failed", "", "", "", c.error or "no runs"])
            continue
        stats = summarise(c.times)
        rows.append(
            [
                c.name,
                f"{stats['median'] * 1e3:.1f}",
                f"{stats['min'] * 1e3:.1f}",
                f"{stats['spread'] * 100:.0f}%",
                f"{statistics.median(c.cpu_times) * 1e3:.1f}",
                c.note,
            ]
        )
    headers = ["contender", "median ms", "best ms", "spread", "CPU ms", "note"]
    return markdown_table(headers, rows, align="lrrrrl")


def ratios(
    ok: dict[str, Contender], numerator: str, denominator: str, *, rate: bool
) -> tuple[float, float, float] | None:
    """``numerator / denominator`` of throughputs (``rate``: the inverse ratio of times) or
    of latencies: (of medians, paired, of best runs); None if either was not measured."""
    if numerator not in ok or denominator not in ok:
        return None
    a, b = summarise(ok[numerator].times), summarise(ok[denominator].times)
    paired = paired_ratio(ok[numerator].times, ok[denominator].times)
    if rate:
        return b["median"] / a["median"], 1 / paired, b["min"] / a["min"]
    return a["median"] / b["median"], paired, a["min"] / b["min"]


def ratio_line(
    text: str, ok: dict[str, Contender], numerator: str, denominator: str, *, rate: bool
) -> str:
    """``numerator / denominator`` of throughputs (``rate``) or of latencies, three ways."""
    found = ratios(ok, numerator, denominator, rate=rate)
    if found is None:
        return f"- {text}: NOT MEASURED"
    median, paired, best = found
    return f"- {text}: **{median:.3g}x** (paired {paired:.3g}x, best-run {best:.3g}x)"


def transfer_table(jobs: list[Transfer], source_bytes: int) -> str:
    rows = []
    for job in jobs:
        if job.error is not None and not job.times:
            verdict = "NOT AVAILABLE" if job.unavailable else "FAILED"
            rows.append([job.name, verdict, "", "", "", job.error])
            continue
        stats = summarise(job.times)
        rows.append(
            [
                job.name,
                f"{source_bytes / stats['median'] / MB:.1f}",
                f"{source_bytes / stats['min'] / MB:.1f}",
                f"{stats['median']:.2f}",
                format_bytes(statistics.median(job.found)) if job.found else "",
                job.error or "",
            ]
        )
    headers = [
        "transfer",
        "MB/s (median)",
        "MB/s (best)",
        "median s",
        "stored at destination",
        "error",
    ]
    return markdown_table(headers, rows, align="lrrrrl")


def transport_baseline(store: Any, key: str, size: int) -> tuple[list[list[str]], float]:
    """Plain obstore calls on the largest object: whole GET, small range GETs, HEAD.

    Returns the table's rows and the seconds of a HEAD plus a 64 KiB ranged GET (medians).
    """
    import obstore

    def median_seconds(fn: Callable[[], Any], times: int) -> float:
        out = []
        for _ in range(times):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
        return statistics.median(out)

    whole = median_seconds(lambda: obstore.get(store, key).bytes(), 3)
    head = median_seconds(lambda: obstore.head(store, key), 10)
    first = median_seconds(lambda: obstore.get_range(store, key, start=0, length=64 * 1024), 10)
    tail = median_seconds(
        lambda: obstore.get_range(store, key, start=size - 64 * 1024, length=64 * 1024), 10
    )
    rows = [
        ["GET whole object", f"{whole * 1e3:.1f}", f"{size / whole / MB:.0f} MB/s", "median of 3"],
        ["HEAD", f"{head * 1e3:.2f}", "", "median of 10"],
        ["GET 64 KiB range at the start", f"{first * 1e3:.2f}", "", "median of 10"],
        ["GET 64 KiB range at the end", f"{tail * 1e3:.2f}", "", "median of 10 (shard index)"],
    ]
    return rows, head + first


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
        " The servers run on the same CPUs as the readers; prefer the paired and"
        " best-run ratios, or rerun on an idle machine."
    )


def roi_ratio_lines(ok: dict[str, Contender], remote: str) -> list[str]:
    """Latency ratios of an ROI section: remote / local and default / zarrs, both ways."""
    lines = []
    for how, name in (("read only", roi_name), ("open + read", open_roi_name)):
        for text, numerator, denominator in (
            (f"{remote} / local", name(remote), name("local")),
            (f"{remote} / {remote} {WITH_ZARRS}", name(remote), name(remote, zarrs=True)),
        ):
            lines.append(
                ratio_line(f"latency {text}, {how}", ok, numerator, denominator, rate=False)
            )
    return lines


#: Speed ratios within this factor of 1 are called "about as fast" in the conclusions.
TIE = 1.2


def compared(speed: tuple[float, float, float]) -> str:
    """A speed ratio (> 1: faster) in words, when its median and paired values agree."""
    low, high = min(speed[:2]), max(speed[:2])
    if low >= TIE:
        return "faster"
    if high <= 1 / TIE:
        return "slower"
    if low > 1 / TIE and high < TIE:
        return "about as fast"
    return "unclear"


def speed_text(speed: tuple[float, float, float]) -> str:
    return f"{speed[0]:.2g}x (paired {speed[1]:.2g}x; {compared(speed)})"


def conclusions(
    ok_s3: dict[str, Contender],
    ok_http: dict[str, Contender],
    ok_roi_s3: dict[str, Contender],
    ok_roi_http: dict[str, Contender],
    requests: tuple[float, float],
) -> list[str]:
    """What this run says, only as far as it supports it.

    Every comparison is a speed ratio (> 1: the first-named is faster), called faster or
    slower only when its ratio of medians and its paired ratio agree. ``requests``: seconds
    of a HEAD plus a small ranged GET on moto and on the web server.
    """
    terms = (
        f'ratios of medians, paired in brackets; "about as fast": both within {TIE - 1:.0%}'
        ' of 1, "unclear": they disagree'
    )
    lines = []

    # 1. what the default choice (zarr-python's pipeline for remote samples) buys
    pairs = [
        ("full read over moto", ok_s3, ENGINE_S3, ENGINE_ZARRS_S3),
        ("full read over HTTP", ok_http, ENGINE_HTTP, ENGINE_ZARRS_HTTP),
        ("ROI read over moto", ok_roi_s3, roi_name("S3"), roi_name("S3", zarrs=True)),
        ("ROI read over HTTP", ok_roi_http, roi_name("HTTP"), roi_name("HTTP", zarrs=True)),
    ]
    measured = [
        (what, speed)
        for what, ok, a, b in pairs
        if (speed := ratios(ok, a, b, rate=True)) is not None
    ]
    if not measured:
        lines.append("default pipeline against zarrs: not measured; no conclusion drawn")
    else:
        numbers = "; ".join(f"{what} {speed_text(speed)}" for what, speed in measured)
        by_verdict: dict[str, list[str]] = collections.defaultdict(list)
        for what, speed in measured:
            by_verdict[compared(speed)].append(what)
        faster, slower = by_verdict["faster"], by_verdict["slower"]
        if faster and not slower:
            verdict = (
                "the default choice for remote samples pays off in this run: faster for "
                + ", ".join(faster)
                + ", slower for none"
            )
        elif slower and not faster:
            verdict = (
                "the default choice for remote samples does not pay off in this run: slower"
                " for " + ", ".join(slower)
            )
        elif slower:
            verdict = (
                f"the default choice is faster for {', '.join(faster)} but slower for"
                f" {', '.join(slower)} in this run"
            )
        else:
            verdict = "this run shows no difference between the two pipelines"
        if len(measured) < len(pairs):
            verdict += " (not every pair was measured)"
        lines.append(
            f"the engine's default remote pipeline (zarr-python's) against {WITH_ZARRS},"
            f" speed ({terms}): {numbers}: {verdict}"
        )

    # 2. the engine's own cost over a direct zarr read with the same pipeline
    own = ratios(ok_s3, ENGINE_S3, DEFAULT_S3, rate=True)
    own_zarrs = ratios(ok_s3, ENGINE_ZARRS_S3, ZARRS_S3, rate=True)
    if own is None:
        lines.append("engine against a direct zarr-python read: not measured")
    else:
        verdict = {
            "faster": "the engine is faster than the direct `[:]` in this run",
            "about as fast": "the engine adds little to the pipeline's own read",
            "slower": (
                f"the engine takes more than {TIE - 1:.0%} longer than the direct read with"
                " the same pipeline in this run"
            ),
            "unclear": "the median and paired ratios disagree: no conclusion from this run",
        }[compared(own)]
        also = "" if own_zarrs is None else f"; with zarrs, {speed_text(own_zarrs)}"
        lines.append(
            "full read from S3, engine against zarr-python's default pipeline reading the"
            f" same store directly: {speed_text(own)}{also}: {verdict}"
        )

    # 3. the cost of a request: the default pipeline's lead over moto against over HTTP
    lead_s3 = ratios(ok_s3, ENGINE_S3, ENGINE_ZARRS_S3, rate=True)
    lead_http = ratios(ok_http, ENGINE_HTTP, ENGINE_ZARRS_HTTP, rate=True)
    s3_ms, http_ms = (seconds * 1e3 for seconds in requests)
    if lead_s3 is None or lead_http is None:
        lines.append("moto against HTTP: not every contender was measured; no conclusion drawn")
    else:
        numbers = (
            f"the default pipeline's full-read lead over zarrs is {speed_text(lead_s3)} over"
            f" moto, {speed_text(lead_http)} over HTTP; a HEAD plus a 64 KiB ranged GET took"
            f" {s3_ms:.2g} ms on moto, {http_ms:.2g} ms on the web server (transport"
            " baselines)"
        )
        grows = min(lead_s3[:2]) >= 2 * max(lead_http[:2])  # by both measures
        if grows and s3_ms > http_ms:
            verdict = (
                "zarrs falls further behind where requests cost more, consistent with its"
                " request per inner chunk (see above)"
                + {
                    "faster": (
                        "; it stays behind over HTTP too, so the cost of requests on moto is"
                        " not the whole gap"
                    ),
                    "about as fast": "; over HTTP it is not behind",
                    "slower": "; over HTTP it is ahead",
                    "unclear": "",
                }[compared(lead_http)]
            )
        elif compared(lead_http) == "faster" and not grows:
            verdict = (
                "the lead does not grow much with the cost of a request: it does not come"
                " from moto's costlier requests alone"
            )
        else:
            verdict = "no conclusion on the cost of requests from this run"
        lines.append(f"{numbers}: {verdict}")
    return lines


def warning_lines(caught: list[warnings.WarningMessage]) -> list[str]:
    counts = collections.Counter(
        f"{w.category.__name__}: {str(w.message).splitlines()[0]}" for w in caught
    )
    return [f"{n} x {text}" for text, n in counts.most_common()]


# --------------------------------------------------------------------------- main


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--size-mib", type=float, default=100, help="decoded size of level 0 (default 100)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed full reads (default 3)")
    parser.add_argument("--roi-repeats", type=int, default=10, help="timed ROI reads (10)")
    parser.add_argument(
        "--copy-repeats", type=int, default=2, help="timed uploads/downloads (default 2)"
    )
    parser.add_argument("--workdir", type=Path, help="where to write the sample (kept)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary sample")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    if args.size_mib <= 0 or min(args.repeats, args.roi_repeats, args.copy_repeats) < 1:
        parser.error("--size-mib must be > 0, the repeat counts >= 1")
    return args


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds: the server is stopped, the sample removed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    started = time.perf_counter()
    report: list[str] = ["# Remote read benchmark (`benchmarks/bench_remote.py`)", ""]

    def say(line: str = "") -> None:
        print(line, flush=True)
        report.append(line)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    for line in environment_lines(["obstore", "moto", "boto3"]):
        say(f"- {line}")
    with (
        work_directory(args.workdir, args.keep, prefix="bench_remote_") as workdir,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")  # every warning is counted in the notes
        log(f"writing a {args.size_mib:g} MiB sample in {workdir} ...")
        sample_path = workdir / "bench.vsr"
        shutil.rmtree(sample_path, ignore_errors=True)  # our own sample of an earlier run
        sample = make_raw_sample(sample_path, int(args.size_mib * MIB), log=log)
        source_bytes = stored_bytes(sample.path)
        say(f"- sample: {sample.describe()}; whole sample {format_bytes(source_bytes)} stored")

        with moto_server() as endpoint:
            create_bucket(endpoint)
            store = s3_store(endpoint)
            options = storage_options(endpoint)
            url = f"s3://{BUCKET}/{PREFIX}"
            level_key = f"{PREFIX}/{sample.level_dir.relative_to(sample.path).as_posix()}"

            start = time.perf_counter()
            put_tree(store, sample.path, PREFIX)
            upload_seconds = time.perf_counter() - start
            say(
                f"- S3 server: moto {_version('moto')} (`python -m moto.server`, a subprocess"
                f" on 127.0.0.1), bucket `{BUCKET}`; sample uploaded to `{url}` with"
                f" `obstore.put` in {upload_seconds:.2f} s"
                f" ({source_bytes / upload_seconds / MB:.0f} MB/s)"
            )
            warmed = warm_page_cache(sample.path)
            say(
                f"- local page cache warmed ({format_bytes(warmed)} read once): local reads"
                " decode from memory; S3 and HTTP reads go through loopback HTTP to a server"
                " process on the same machine"
            )
            reference = np.asarray(
                open_level(LocalStore(sample.level_dir, read_only=True), "", ZARRS)[...]
            )

            sizes = remote_sizes(store, PREFIX)
            largest = max(sizes, key=sizes.__getitem__)
            baseline, s3_request = transport_baseline(store, f"{PREFIX}/{largest}", sizes[largest])

            log(f"S3 full reads: {args.repeats} runs (+1 warm-up) per contender, round-robin ...")
            full = full_read_contenders(sample, url, options, store, level_key, reference)
            loads = run_interleaved(full, args.repeats, warmup=1)

            selection = roi_selection(sample)
            roi_reference = reference[
                selection["vs"], selection["ch"], selection["z"], selection["y"], selection["x"]
            ]
            log(f"S3 ROI reads: {args.roi_repeats} runs per contender, round-robin ...")
            rois = roi_contenders(sample, roi_reference, "S3", url, storage_options=options)
            loads += run_interleaved(rois, args.roi_repeats, warmup=1, log=False)

            log(f"transfers: {args.copy_repeats} runs each, round-robin ...")
            checks: list[str] = []
            jobs = transfers(sample, workdir, url, options, store, reference, checks)
            run_transfers(jobs, args.copy_repeats)

        # the web server serves the local sample itself: the same files, no upload
        with http_server(sample.path.parent) as base:
            from obstore.store import HTTPStore

            http_url = f"{base}/{sample.path.name}"
            http_store = HTTPStore.from_url(base, client_options={"allow_http": True})
            http_baseline, http_request = transport_baseline(
                http_store, f"{sample.path.name}/{largest}", sizes[largest]
            )
            log(f"HTTP full reads: {args.repeats} runs (+1 warm-up) per contender ...")
            http_full = http_full_read_contenders(sample, http_url, reference)
            loads += run_interleaved(http_full, args.repeats, warmup=1)
            log(f"HTTP ROI reads: {args.roi_repeats} runs per contender, round-robin ...")
            http_rois = roi_contenders(sample, roi_reference, "HTTP", http_url)
            loads += run_interleaved(http_rois, args.roi_repeats, warmup=1, log=False)

        # ------------------------------------------------------------------ report
        sel = selection
        roi_title = (
            f"ROI `[vs=0, ch=0, z={sel['z'].start}:{sel['z'].stop},"
            f" y={sel['y'].start}:{sel['y'].stop}, x={sel['x'].start}:{sel['x'].stop}]`"
            f" ({format_bytes(roi_reference.nbytes)} out, one inner chunk), median of"
            f" {args.roi_repeats} runs"
        )
        full_title = (
            f"full read of level 0 ({format_bytes(sample.nbytes)} decoded), median of"
            f" {args.repeats} runs (GB = 1e9 decoded bytes)"
        )
        say()
        say("## Transport baseline: obstore on the moto server")
        say()
        say(f"On the largest object of the sample, `{largest}` ({format_bytes(sizes[largest])}):")
        say()
        say(markdown_table(["call", "median ms", "rate", "note"], baseline, align="lrrl"))
        say()
        say(f"## S3 (moto): {full_title}")
        say()
        say(throughput_table(full, sample.nbytes))
        say()
        ok_s3 = _ok(full)
        for text, numerator, denominator in (
            (
                "engine S3 / zarr-python default pipeline S3 (the engine's own cost)",
                ENGINE_S3,
                DEFAULT_S3,
            ),
            (
                f"engine S3 / engine {WITH_ZARRS} S3 (what the default pipeline buys)",
                ENGINE_S3,
                ENGINE_ZARRS_S3,
            ),
            ("engine S3 / engine local", ENGINE_S3, ENGINE_LOCAL),
        ):
            say(ratio_line(f"throughput {text}", ok_s3, numerator, denominator, rate=True))
        say()
        say(
            "GB/s = decoded bytes / seconds; best = fastest run; spread = (max - min) / median;"
            ' CPU s = CPU time of this process (not of the server) per read; "engine" without'
            " `codec_pipeline=` is the engine's default: zarr-python's pipeline for a URL,"
            " zarrs for a local path; throughput ratios > 1: the first-named reads faster;"
            " paired = median over rounds of the ratio within a round."
        )
        say()
        say(f"## S3 (moto): {roi_title}")
        say()
        say(latency_table(rois))
        say()
        ok_roi_s3 = _ok(rois)
        for line in roi_ratio_lines(ok_roi_s3, "S3"):
            say(line)
        say()
        say("Latency ratios > 1: the first-named takes longer; ROI reads: one warm-up round.")
        say()
        say(
            f"## S3 (moto): whole-sample transfers ({format_bytes(source_bytes)} stored), median"
            f" of {args.copy_repeats} runs (MB = 1e6 stored bytes)"
        )
        say()
        for job in jobs:
            if job.guarded and job.unavailable:
                direction = (
                    "upload, local -> s3://"
                    if job.name == COPY_UP
                    else ("download, s3:// -> local")
                )
                say(f"copy_sample: NOT AVAILABLE ({direction}: {job.error})")
                say()
        say(transfer_table(jobs, source_bytes))
        say()
        say(
            "MB/s = the sum of the source sample's file sizes / seconds, both directions;"
            " `stored at destination` = the sum of the sizes found there afterwards."
        )
        for line in checks:
            say(f"- check: {line}")
        say()
        say("## HTTP: the same sample served by a loopback web server")
        say()
        say(
            "`visor_xarray.testing.http_server`: Python's `http.server` (threaded, a subprocess"
            f" on 127.0.0.1) with HTTP Range support, serving the local sample at `{http_url}`;"
            " it reads only the requested byte range of a file. Transport baseline on"
            f" `{largest}`:"
        )
        say()
        say(markdown_table(["call", "median ms", "rate", "note"], http_baseline, align="lrrl"))
        say()
        say(f"### HTTP: {full_title}")
        say()
        say(throughput_table(http_full, sample.nbytes))
        say()
        ok_http = _ok(http_full)
        for text, numerator, denominator in (
            (
                f"engine HTTP / engine {WITH_ZARRS} HTTP (what the default pipeline buys)",
                ENGINE_HTTP,
                ENGINE_ZARRS_HTTP,
            ),
            ("engine HTTP / engine local", ENGINE_HTTP, ENGINE_LOCAL),
        ):
            say(ratio_line(f"throughput {text}", ok_http, numerator, denominator, rate=True))
        say()
        say(f"### HTTP: {roi_title}")
        say()
        say(latency_table(http_rois))
        say()
        ok_roi_http = _ok(http_rois)
        for line in roi_ratio_lines(ok_roi_http, "HTTP"):
            say(line)
        warning = noise_warning([*full, *rois, *http_full, *http_rois], loads)
        if warning is not None:
            say()
            say(warning)
        say()
        say("## Notes")
        say()
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
        say(
            f"- machine: os.cpu_count() = {os.cpu_count()} (usable {cpus}); the servers share"
            " these CPUs with the readers (their CPU time is not in the CPU columns)"
        )
        say(f"- load average (1/5/15 min) at the end: {load_line()}")
        grid = [-(-s // c) for s, c in zip(sample.shape, sample.chunks, strict=True)]
        shards = [-(-s // c) for s, c in zip(sample.shape, sample.shards, strict=True)]
        say(
            f"- level 0 holds {int(np.prod(grid))} inner chunks in {int(np.prod(shards))}"
            " shard object(s)"
        )
        say(
            "- moto (a Python server; its threads share one interpreter lock) answers a ranged"
            " GET by reading the whole object and slicing it: a request to a shard costs time"
            " growing with the shard's size (compare the range GETs with the whole GET in its"
            " transport baseline), so a reader issuing one request per inner chunk pays that"
            " once per chunk, and larger samples (larger shards) slow such readers more than"
            " linearly. Reading a shard whole, zarrs sends a HEAD and a ranged GET per inner"
            " chunk, zarr-python one GET for the shard (docs/remote.md; this script does not"
            " count requests). The web server of the HTTP section reads only the requested"
            " range. Neither predicts what a real object store or CDN gives."
        )
        requests = (s3_request, http_request)
        for line in conclusions(ok_s3, ok_http, ok_roi_s3, ok_roi_http, requests):
            say(f"- {line}")
        for line in warning_lines(caught):
            say(f"- warning raised during the run: {line}")
        say(f"- total benchmark time {time.perf_counter() - started:.0f} s")
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("\n".join(report) + "\n", encoding="utf-8")
        log(f"report written to {args.markdown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
