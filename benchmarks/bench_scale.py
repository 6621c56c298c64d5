"""Real-size VISoR slices: graph size, build time and memory of resampling and stitching.

A VISoR slice is 20 stacks x 4 channels x (8192, 832, 2048) uint16 (2.2 TB), one shard per
stack-channel, 8 levels; each stack's ``raw_to_ortho`` is the 45-degree deskew followed by
a 1.9 mm shift along x (neighbours overlap by ~0.2 mm). Such samples are created here with
real shapes, shards and transforms but **no pixels** (reads give the fill value), for 1
and 10 slices; every measurement runs in a fresh subprocess and reports the kernel's peak
RSS (``VmHWM``) of that process.

Throughput is measured on a smaller tiled slice **with pixels** (4 stacks of
(128, 416, 1024), ~10 % overlaps): stitching it against resampling each stack on its own,
output blocks computed and dropped (nothing gathered).

Usage::

    python benchmarks/bench_scale.py [--slices 10] [--workdir DIR] [--keep]
                                     [--markdown PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _common import (
    environment_lines,
    load_line,
    markdown_table,
    peak_rss_bytes,
    raw_block,
    run_json_worker,
    tile_pool,
    work_directory,
)

#: The real slice: stacks, channels, (z, y, x) of a stack, levels (y and x halved).
STACKS, CHANNELS, RAW, LEVELS = 20, ("405", "488", "561", "640"), (8192, 832, 2048), 8
SPACING = (3.5, 1.03, 1.03)
STACK_SHIFT_UM = 1900.0
#: The tiled slice with pixels (throughput): stacks, (z, y, x), x shift between stacks.
REAL_STACKS, REAL_RAW = 4, (128, 416, 1024)
REAL_SHIFT_UM = 0.9 * REAL_RAW[2] * SPACING[2]
VERSION = "v1"
TB = 10**12
#: Blocks of the per-task cost measurement: small enough that data work is negligible.
FILL_BLOCK = (8, 8, 8)

TARGETS = {
    "resample_build": 1.0,  # s, one stack-channel resample built
    "stitch1_build": 5.0,  # s, lazy stitch of one channel
    "stitch1_rss": 500 * 2**20,  # bytes
    "stitch4_build": 20.0,  # s, all four channels
    "isel_compute": 2.0,  # s, a 32^3 region of the lazy stitch
    "stitch_cost": 1.3,  # stitching / resampling the stacks it blends
}


# =========================================================================== samples


def make_metadata_sample(path: Path, slices: int) -> None:
    """A real-size sample without pixels: arrays, metadata and transforms only."""
    import visor_xarray as vx
    from visor_xarray.testing.samples import image_attributes
    from visor_xarray.transforms import Affine, deskew

    labels = [f"stack_{i + 1}" for i in range(STACKS)]
    factors = [(1, 2**k, 2**k) for k in range(LEVELS)]
    skew = deskew(45.0, SPACING, RAW[1])
    for index in range(slices):
        name = f"slice_{index + 1}_10x"
        attrs = image_attributes(
            name,
            stacks=labels,
            channels=CHANNELS,
            spacing=SPACING,
            level_factors=factors,
            translations=True,
        )
        image = vx.Image(path, type="raw", name=name, mode="w-")
        for level, (_, fy, fx) in enumerate(factors):
            shape = (STACKS, len(CHANNELS), RAW[0], -(-RAW[1] // fy), -(-RAW[2] // fx))
            chunk = (1, 1, 64, min(64, shape[3]), min(64, shape[4]))
            shard = (1, 1, shape[2], -(-shape[3] // chunk[3]) * chunk[3], shape[4])
            image.create(
                resolution=level,
                dtype="uint16",
                attr=attrs if level == 0 else None,
                shape=shape,
                shard_size=shard,
                chunk_size=chunk,
            )
        transforms = vx.Transform(path, version=VERSION, name=name)
        for stack in range(STACKS):
            place = Affine(np.eye(3), [0.0, 0.0, STACK_SHIFT_UM * stack]) @ skew
            for channel in range(len(CHANNELS)):
                transforms.save(place, name="raw_to_ortho", stack=stack, channel=channel)


def make_real_sample(path: Path, pool_cache: Path) -> None:
    """A tiled slice with microscopy-like pixels (4 stacks, 1 channel)."""
    import visor_xarray as vx
    from visor_xarray.testing.samples import image_attributes
    from visor_xarray.transforms import Affine, deskew

    labels = [f"stack_{i + 1}" for i in range(REAL_STACKS)]
    attrs = image_attributes("slice_1_10x", stacks=labels, channels=["488"], spacing=SPACING)
    image = vx.Image(path, type="raw", name="slice_1_10x", mode="w-")
    z, y, x = REAL_RAW
    array = image.create(
        resolution=0,
        dtype="uint16",
        attr=attrs,
        shape=(REAL_STACKS, 1, z, y, x),
        shard_size=(1, 1, z, -(-y // 64) * 64, x),
        chunk_size=(1, 1, 64, 64, 64),
    )
    pool = tile_pool(64, cache=pool_cache)
    for stack in range(REAL_STACKS):
        frames = np.concatenate(
            [raw_block(pool, stack, z0, min(z, z0 + 64))[:, :y, :x] for z0 in range(0, z, 64)]
        )
        array[stack, 0] = frames  # one whole shard per write
    transforms = vx.Transform(path, version=VERSION, name="slice_1_10x")
    skew = deskew(45.0, SPACING, y)
    for stack in range(REAL_STACKS):
        place = Affine(np.eye(3), [0.0, 0.0, REAL_SHIFT_UM * stack]) @ skew
        transforms.save(place, name="raw_to_ortho", stack=stack, channel=0)


# =========================================================================== workers


def _timed(function: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = function()
    return value, time.perf_counter() - start


def _blocks(array: Any) -> int:
    return int(np.prod(array.data.numblocks))


def _drain(array: Any, **compute: Any) -> tuple[float, float]:
    """Compute every block of a dask-backed DataArray, keeping only one voxel per block.

    Returns wall and CPU seconds (all threads of the process): CPU time barely changes
    with background load on a shared machine.
    """
    import dask

    def first(block: np.ndarray) -> np.ndarray:
        # a copy: a view would keep the whole block alive until the end
        return block.reshape(-1)[:1].reshape((1,) * block.ndim).copy()

    marks = array.data.map_blocks(first, chunks=tuple((1,) * len(c) for c in array.chunks))
    start, cpu = time.perf_counter(), time.process_time()
    dask.compute(marks, **compute)
    return time.perf_counter() - start, time.process_time() - cpu


def _open(sample: Path, name: str = "slice_1_10x") -> Any:
    import xarray as xr

    return xr.open_dataset(sample, engine="visor", name=name, chunks={})["image"]


def worker_open(sample: Path) -> dict[str, Any]:
    import xarray as xr

    import visor_xarray  # noqa: F401  (the accessor)

    _, opened = _timed(lambda: _open(sample))
    tree, tree_seconds = _timed(lambda: xr.open_datatree(sample, engine="visor"))
    return {"open": opened, "datatree": tree_seconds, "groups": sum(1 for _ in tree.subtree)}


def worker_resample(sample: Path) -> dict[str, Any]:
    import visor_xarray  # noqa: F401

    image = _open(sample)
    result, seconds = _timed(
        lambda: image.sel(vs="stack_3", ch="561").visor.resample(to_space="ortho", version=VERSION)
    )
    return {"build": seconds, "blocks": _blocks(result), "bytes": result.nbytes}


def _zeros(block_id: Any = None) -> np.ndarray:
    return np.zeros(FILL_BLOCK, dtype=np.uint16)


def worker_stitch(sample: Path, channels: int) -> dict[str, Any]:
    import dask.array as da
    import xarray as xr

    import visor_xarray  # noqa: F401

    image = _open(sample)
    selected = image.sel(ch="561") if channels == 1 else image
    mosaic, seconds = _timed(lambda: selected.visor.stitch(to_space="ortho", version=VERSION))
    out: dict[str, Any] = {
        "build": seconds,
        "blocks": _blocks(mosaic),
        "bytes": mosaic.nbytes,
        "shape": list(mosaic.shape),
        "block": [c[0] for c in mosaic.chunks[-3:]],
        "build_rss": peak_rss_bytes(),
    }
    if channels == 1:
        # a 32^3 region where stacks 9 and 10 overlap, half way along the stack
        centre_x = STACK_SHIFT_UM * 9 + RAW[2] * SPACING[2] - 100.0
        x0 = int(np.searchsorted(mosaic.coords["x"].values, centre_x))
        z0, y0 = mosaic.sizes["z"] // 2, mosaic.sizes["y"] // 2
        region = mosaic.isel(z=slice(z0, z0 + 32), y=slice(y0, y0 + 32), x=slice(x0, x0 + 32))
        values, compute = _timed(lambda: region.values)
        out["isel"] = compute
        out["isel_shape"] = list(values.shape)
        # per-task cost of the graph: tiny blocks outside every stack (a corner of the
        # deskewed slice) are filled without reading; computing them measures the cost of
        # a task (scheduling, the reach test of every stack) without the data work
        tiny = image.sel(ch="561").visor.stitch(
            to_space="ortho", version=VERSION, chunks=FILL_BLOCK
        )
        corner = tiny.isel(z=slice(0, 64), y=slice(0, 64), x=slice(0, 4096))
        out["fill_blocks"] = _blocks(corner)
        out["fill_seconds"] = _drain(corner, scheduler="threads")[0]
        # the same number of trivial tasks: dask's own cost per task, as a baseline
        trivial = xr.DataArray(
            da.map_blocks(
                _zeros, chunks=corner.chunks, dtype=corner.dtype, meta=np.empty((0,) * 3)
            )
        )
        out["trivial_seconds"] = _drain(trivial, scheduler="threads")[0]
    out["rss"] = peak_rss_bytes()
    return out


def worker_stitch_slices(sample: Path, slices: int) -> dict[str, Any]:
    import visor_xarray  # noqa: F401

    start = time.perf_counter()
    blocks = 0
    nbytes = 0
    for index in range(slices):
        mosaic = _open(sample, f"slice_{index + 1}_10x").visor.stitch(
            to_space="ortho", version=VERSION
        )
        blocks += _blocks(mosaic)
        nbytes += mosaic.nbytes
    return {
        "build": time.perf_counter() - start,
        "blocks": blocks,
        "bytes": nbytes,
        "rss": peak_rss_bytes(),
    }


def worker_throughput(sample: Path) -> dict[str, Any]:
    import dask

    import visor_xarray  # noqa: F401

    image = _open(sample)
    with dask.config.set(scheduler="threads"):
        mosaic = image.sel(ch="488").visor.stitch(to_space="ortho", version=VERSION)
        _drain(mosaic.isel(z=slice(0, 64)))  # warm-up: imports, thread pools, page cache
        resample = []
        voxels = 0
        for label in image.coords["vs"].values:
            stack = image.sel(vs=label, ch="488").visor.resample(to_space="ortho", version=VERSION)
            voxels += stack.size
            resample.append(_drain(stack))
        stitch = _drain(mosaic)
        # a few blocks with data, one at a time
        middle = [n // 2 for n in mosaic.data.numblocks]
        block = [c[0] for c in mosaic.chunks]
        singles = []
        for offset in range(8):
            index = {
                d: slice(
                    (middle[a] + (offset if d == "x" else 0)) * block[a],
                    (middle[a] + (offset if d == "x" else 0) + 1) * block[a],
                )
                for a, d in enumerate(mosaic.dims)
            }
            _, seconds = _timed(lambda index=index: mosaic.isel(index).values)
            singles.append(seconds)
    return {
        "resample": [wall for wall, _ in resample],
        "resample_cpu": [cpu for _, cpu in resample],
        "resample_voxels": voxels,
        "stitch": stitch[0],
        "stitch_cpu": stitch[1],
        "stitch_voxels": mosaic.size,
        "block": block,
        "block_seconds": singles,
        "rss": peak_rss_bytes(),
    }


WORKERS: dict[str, Callable[..., dict[str, Any]]] = {
    "open": worker_open,
    "resample": worker_resample,
    "stitch1": lambda sample: worker_stitch(sample, 1),
    "stitch4": lambda sample: worker_stitch(sample, 4),
    "slices": lambda sample: worker_stitch_slices(sample, int(sample.stem.split("-")[1])),
    "throughput": worker_throughput,
}


# =========================================================================== driver


def _run(name: str, sample: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", name, "--sample", str(sample)]
    result = run_json_worker(command, timeout=3600)
    print(f"  {name} on {sample.name}: done (load {load_line()})", file=sys.stderr, flush=True)
    return result


def _mib(n: float) -> str:
    return f"{n / 2**20:.0f} MiB"


def _verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def report(results: dict[str, dict[str, Any]], slices: int) -> str:
    one = results["stitch1"]
    four = results["stitch4"]
    resample = results["resample"]
    opened = results["open"]
    many = results["slices"]
    tput = results["throughput"]
    per_task = one["fill_seconds"] / one["fill_blocks"]
    trivial = one["trivial_seconds"] / one["fill_blocks"]
    tasks_per_tb = one["blocks"] / (one["bytes"] / TB)
    rows = [
        ["`open_dataset` (1 slice, `chunks={}`)", f"{opened['open']:.2f} s", "", ""],
        ["`open_datatree` (1 slice, 8 levels)", f"{opened['datatree']:.2f} s", "", ""],
        [
            f"`open_datatree` ({slices} slices)",
            f"{results['open10']['datatree']:.2f} s",
            "",
            "",
        ],
        [
            "one stack-channel `resample` built",
            f"{resample['build']:.3f} s",
            f"{resample['blocks']:,} blocks",
            "",
        ],
        [
            "`stitch` of one channel built",
            f"{one['build']:.3f} s",
            f"{one['blocks']:,} blocks, {one['bytes'] / TB:.2f} TB",
            _mib(one["build_rss"]),
        ],
        [
            "`stitch` of all 4 channels built",
            f"{four['build']:.3f} s",
            f"{four['blocks']:,} blocks, {four['bytes'] / TB:.2f} TB",
            _mib(four["rss"]),
        ],
        [
            f"`stitch` of {slices} slices x 4 channels built",
            f"{many['build']:.2f} s",
            f"{many['blocks']:,} blocks, {many['bytes'] / TB:.1f} TB",
            _mib(many["rss"]),
        ],
        [
            "`.isel` 32^3 of the one-channel stitch computed",
            f"{one['isel']:.3f} s",
            "",
            "",
        ],
    ]
    out = ["## Real-size slice, metadata only", ""]
    out.append(markdown_table(["step", "time", "graph", "peak RSS (VmHWM)"], rows))
    out += [
        "",
        f"Output block {tuple(one['block'])} (z, y, x) uint16 = "
        f"{np.prod(one['block']) * 2 / 2**20:.0f} MiB; one task per output block: "
        f"**{tasks_per_tb:,.0f} tasks per TB** of stitched output (plus one shared node).",
        f"Cost of a task without data work (threaded scheduler, {FILL_BLOCK} blocks outside "
        f"every stack): {per_task * 1e6:.0f} µs ({one['fill_blocks']:,} blocks in "
        f"{one['fill_seconds']:.2f} s), against {trivial * 1e6:.0f} µs for as many trivial "
        f"dask tasks (`map_blocks` returning zeros) in the same process; i.e. "
        f"{per_task * tasks_per_tb:.0f} s per TB of output at the default block.",
        "",
    ]
    resample_time = sum(tput["resample"])
    resample_cpu = sum(tput["resample_cpu"])
    cost = tput["stitch_cpu"] / resample_cpu
    rows = [
        [
            f"resample each of {REAL_STACKS} stacks alone",
            f"{resample_time:.2f} s",
            f"{resample_cpu:.2f} s",
            f"{tput['resample_voxels'] / resample_time / 1e6:.1f}",
        ],
        [
            f"stitch the {REAL_STACKS} stacks",
            f"{tput['stitch']:.2f} s",
            f"{tput['stitch_cpu']:.2f} s",
            f"{tput['stitch_voxels'] / tput['stitch'] / 1e6:.1f}",
        ],
    ]
    out += [
        f"## Throughput: a tiled slice with pixels ({REAL_STACKS} stacks of {REAL_RAW})",
        "",
        markdown_table(["work", "wall time", "CPU time", "output Mvoxel/s (wall)"], rows),
        "",
        f"Stitching costs **{cost:.2f}x** (CPU time; wall "
        f"{tput['stitch'] / resample_time:.2f}x) resampling the stacks it blends "
        f"(output voxels: stitch {tput['stitch_voxels'] / 1e6:.0f} M, stacks "
        f"{tput['resample_voxels'] / 1e6:.0f} M). One block {tuple(tput['block'])} with data: "
        f"median {np.median(tput['block_seconds']):.3f} s. Peak RSS {_mib(tput['rss'])}.",
        "",
        "## Targets",
        "",
    ]
    checks = [
        ("one stack-channel resample built <= 1 s", resample["build"], "resample_build"),
        ("one-channel stitch built <= 5 s", one["build"], "stitch1_build"),
        ("... at <= 500 MiB RSS", one["build_rss"], "stitch1_rss"),
        ("all 4 channels built <= 20 s", four["build"], "stitch4_build"),
        (".isel 32^3 computed <= 2 s", one["isel"], "isel_compute"),
        ("stitching <= 1.3x resampling its stacks", cost, "stitch_cost"),
    ]
    for label, value, key in checks:
        shown = _mib(value) if key.endswith("rss") else f"{value:.3f}"
        out.append(f"- {_verdict(value <= TARGETS[key])}: {label} (measured {shown})")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=int, default=10, help="slices of the large sample")
    parser.add_argument("--workdir", type=Path, help="where samples go (kept)")
    parser.add_argument("--keep", action="store_true", help="keep the samples")
    parser.add_argument("--markdown", type=Path, help="also write the report here")
    parser.add_argument("--worker", choices=list(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--sample", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        result = WORKERS[args.worker](args.sample)
        print(json.dumps(result), flush=True)
        return 0
    with work_directory(args.workdir, args.keep, "scale-") as workdir:
        one = workdir / "real-1.vsr"
        many = workdir / f"real-{args.slices}.vsr"
        pixels = workdir / "pixels.vsr"
        print("creating samples ...", file=sys.stderr, flush=True)
        if not one.exists():
            make_metadata_sample(one, 1)
        if not many.exists():
            make_metadata_sample(many, args.slices)
        if not pixels.exists():
            make_real_sample(pixels, workdir / "tile-pool.npy")
        results = {
            "open": _run("open", one),
            "open10": _run("open", many),
            "resample": _run("resample", one),
            "stitch1": _run("stitch1", one),
            "stitch4": _run("stitch4", one),
            "slices": _run("slices", many),
            "throughput": _run("throughput", pixels),
        }
        text = "\n".join(
            [
                "# Scale benchmark",
                "",
                *(f"- {line}" for line in environment_lines()),
                f"- slice: {STACKS} stacks x {len(CHANNELS)} channels x {RAW} uint16, one "
                f"shard per stack-channel, {LEVELS} levels; "
                f"{STACKS * len(CHANNELS) * np.prod(RAW) * 2 / TB:.2f} TB at level 0",
                "",
                report(results, args.slices),
            ]
        )
        print(text)
        if args.markdown:
            args.markdown.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
