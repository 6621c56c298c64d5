"""Writes that are killed or fail midway never corrupt what was complete before.

Faults injected:

- ``SIGXFSZ``: the writing process gets a file-size limit (``RLIMIT_FSIZE``) and the
  signal's default action, so the kernel kills it *in the middle of writing one shard
  file* (the one whose data does not compress) -- at three different shards, for a new
  image, a rewrite (``mode='w'``) of an existing image and a region write into one.
  Without the atomic shard commit this leaves a truncated shard (the first case) or
  destroys a previously complete shard (the region case).
- ``SIGKILL`` at several moments of a rewrite and of a region write (slow).
- Exceptions raised by the source data, by the disk (``EFBIG`` mid-shard), and at chosen
  points of ``add_levels`` and of a region write.

After each fault: other images are byte-identical and readable, every JSON document
parses, no shard anywhere is undecodable, each shard of the interrupted image holds
either its old or its new content, the interrupted image is reported incomplete by
``validate`` and -- the repair path -- repeating the write completes it.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from _reliability_helpers import (
    KILL_CHUNK,
    KILL_REGION,
    KILL_SHARD,
    RAW,
    digest,
    kill_data,
    read_image,
    region_of,
)
from sample_files import IMAGE, shard_files

import visor_xarray as vx
import visor_xarray.zarr_io as zio
from visor_xarray.errors import TargetExistsError, VisorWarning
from visor_xarray.store import VsrStore
from visor_xarray.testing import make_sample
from visor_xarray.validate import validate
from visor_xarray.write import add_levels
from visor_xarray.zarr_io import WRITE_MARKER, WriteInProgressError, read_write_marker

HELPERS = str(Path(__file__).resolve().parent)
TARGET = "target"

CHILD = textwrap.dedent(
    """
    import os, resource, signal, sys, time
    sys.path.insert(0, sys.argv[1])
    import dask
    import visor_xarray.zarr_io as zio
    from _reliability_helpers import KILL_CHUNK, KILL_REGION, KILL_SHARD, kill_data, region_of

    sample, scenario, noisy, limit = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    if os.environ.get("VX_TEST_DIRECT_WRITES"):  # to show what the atomic commit prevents
        zio._ATOMIC_COMMIT = False
    data = kill_data(noisy)
    if limit:
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    print("READY", flush=True)
    started = time.perf_counter()
    with dask.config.set(scheduler="threads", num_workers=2):
        if scenario == "region":
            region_of(data).visor.to_vsr(
                sample, image_type="raw", name="target", mode="r+", region=KILL_REGION
            )
        else:
            data.visor.to_vsr(
                sample, image_type="raw", name="target", levels=2,
                mode="w" if scenario == "rewrite" else "w-",
                shard_shape=KILL_SHARD, chunk_shape=KILL_CHUNK,
            )
    print("DONE", time.perf_counter() - started, flush=True)
    """
)

#: File-size limit of the SIGXFSZ runs: above every compressible shard, below the noisy one.
LIMIT = 120_000


def run_child(
    sample: Path, scenario: str, noisy: int | None, limit: int = 0, kill_after: float | None = None
) -> tuple[int, str]:
    """Run a write in a subprocess; optionally SIGKILL it ``kill_after`` s after it starts."""
    command = [
        sys.executable,
        "-c",
        CHILD,
        HELPERS,
        str(sample),
        scenario,
        str(-1 if noisy is None else noisy),
        str(limit),
    ]
    if noisy is None:
        command[6] = "-1"
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    ready = process.stdout.readline()
    assert ready.startswith("READY"), process.communicate()[1]
    if kill_after is not None:
        time.sleep(kill_after)
        process.send_signal(signal.SIGKILL)
    out, err = process.communicate(timeout=300)
    return process.returncode, out + err


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sample with a complete image to keep and a complete ``target`` image."""
    root = tmp_path_factory.mktemp("interrupted") / "K.vsr"
    make_sample(root)
    kill_data(None, seed=1).visor.to_vsr(
        root,
        image_type="raw",
        name=TARGET,
        levels=2,
        shard_shape=KILL_SHARD,
        chunk_shape=KILL_CHUNK,
    )
    assert validate(root, deep=True) == []
    return root


def copy_of(base: Path, tmp_path: Path, with_target: bool = True) -> Path:
    sample = tmp_path / "K.vsr"
    shutil.copytree(base, sample)
    if not with_target:
        shutil.rmtree(sample / RAW / f"{TARGET}.zarr")
        store = VsrStore(sample, "r+")
        selection = store.selection()
        store.write_selection(
            type(selection)(
                images=tuple(image for image in selection.images if image.name != TARGET)
            )
        )
    return sample


def open_target(sample: Path, level: str) -> Any:
    """A level of the target image, read-only, without the "incomplete image" warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VisorWarning)
        return zio.open_level_array(sample / RAW / f"{TARGET}.zarr" / level, writable=False)


def level_values(sample: Path, level: str) -> np.ndarray:
    return np.asarray(open_target(sample, level)[...])


def expected_levels(
    sample: Path, data: xr.DataArray, tmp_path: Path, scenario: str
) -> dict[str, np.ndarray]:
    """Level values after the write completes (computed on a scratch copy)."""
    reference = tmp_path / "reference" / sample.name
    shutil.copytree(sample, reference)
    write(reference, scenario, data)
    return {level: level_values(reference, level) for level in ("0", "1")}


def write(sample: Path, scenario: str, data: xr.DataArray, *, repair: bool = False) -> None:
    """The scenario's write; ``repair`` rewrites an interrupted new image with mode='w'."""
    if repair and scenario == "new":
        scenario = "rewrite"
    if scenario == "region":
        region_of(data).visor.to_vsr(
            sample, image_type="raw", name=TARGET, mode="r+", region=KILL_REGION
        )
    else:
        data.visor.to_vsr(
            sample,
            image_type="raw",
            name=TARGET,
            mode="w" if scenario == "rewrite" else "w-",
            levels=2,
            shard_shape=KILL_SHARD,
            chunk_shape=KILL_CHUNK,
        )


def check_after_fault(
    sample: Path,
    before: dict[str, str],
    old: dict[str, np.ndarray] | None,
    new: dict[str, np.ndarray],
    keep_values: np.ndarray,
    completed: bool = False,
) -> bool:
    """The invariants of an interrupted write; returns True if the target was touched."""
    after = digest(sample)
    others = {
        k for k in before if not k.startswith(f"{RAW}/{TARGET}.zarr") and "selected" not in k
    }
    assert {k: after.get(k) for k in others} == {k: before[k] for k in others}
    np.testing.assert_array_equal(read_image(sample, IMAGE), keep_values)
    store = VsrStore(sample)
    store.info()
    selection = store.selection()
    assert IMAGE in selection.names()
    for file in sample.rglob("*.json"):  # every JSON document is complete
        json.loads(file.read_text())
    problems = validate(sample, deep=True)
    assert not [
        p for p in problems if "corrupt" in p.message or "cannot be decoded" in p.message
    ], problems
    target = sample / RAW / f"{TARGET}.zarr"
    changed = {k: v for k, v in after.items() if k.startswith(f"{RAW}/{TARGET}.zarr")} != {
        k: v for k, v in before.items() if k.startswith(f"{RAW}/{TARGET}.zarr")
    }
    if read_write_marker(target) is None:
        # no marker: the write either had not started or had finished
        assert problems == []
        if changed or completed:
            for level in ("0", "1"):
                np.testing.assert_array_equal(level_values(sample, level), new[level])
        return changed
    # interrupted: detectably incomplete, and nothing outside the target is wrong
    assert any(p.file == target / WRITE_MARKER and p.severity == "error" for p in problems)
    assert all(
        p.severity == "warning" or target in p.file.parents or p.file == target for p in problems
    ), problems
    # every shard of the target holds its old or its new content, never anything else
    for level in ("0", "1"):
        directory = target / level
        if not (directory / "zarr.json").exists():
            continue
        array = open_target(sample, level)
        shards = array.shards
        for file in shard_files(directory):
            coords = tuple(int(p) for p in file.relative_to(directory / "c").parts)
            box = tuple(slice(c * s, (c + 1) * s) for c, s in zip(coords, shards, strict=True))
            values = np.asarray(array[box])
            candidates = [new[level][box]] + ([old[level][box]] if old is not None else [])
            assert any(np.array_equal(values, c) for c in candidates), (level, coords)
    return True


def repair_and_check(
    sample: Path, scenario: str, data: xr.DataArray, new: dict[str, np.ndarray]
) -> None:
    write(sample, scenario, data, repair=True)  # the repair path: repeat the write
    assert validate(sample, deep=True) == []
    for level in ("0", "1"):
        np.testing.assert_array_equal(level_values(sample, level), new[level])
    assert not list((sample / RAW / f"{TARGET}.zarr").glob(".*partial*"))


@pytest.mark.parametrize("noisy", [0, 3, 6])
@pytest.mark.parametrize("scenario", ["new", "rewrite", "region"])
def test_killed_in_the_middle_of_a_shard_file(
    base: Path, tmp_path: Path, scenario: str, noisy: int
) -> None:
    sample = copy_of(base, tmp_path, with_target=scenario != "new")
    keep = read_image(sample, IMAGE)
    old = None if scenario == "new" else {lv: level_values(sample, lv) for lv in ("0", "1")}
    data = kill_data(noisy)
    new = expected_levels(sample, data, tmp_path, scenario)
    before = digest(sample)
    code, output = run_child(sample, scenario, noisy, limit=LIMIT)
    assert code == -signal.SIGXFSZ, output  # killed by the kernel while writing a shard
    assert check_after_fault(sample, before, old, new, keep)
    with pytest.warns(VisorWarning, match="was interrupted"):
        xr.open_dataset(sample, engine="visor", name=TARGET)
    repair_and_check(sample, scenario, data, new)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["rewrite", "region"])
def test_sigkill_at_several_moments(base: Path, tmp_path: Path, scenario: str) -> None:
    data = kill_data(2)
    calibration = copy_of(base, tmp_path / "calibration")
    code, output = run_child(calibration, scenario, 2)
    assert code == 0, output
    duration = float(output.split("DONE")[1].split()[0])
    new = {lv: level_values(calibration, lv) for lv in ("0", "1")}
    touched = 0
    for step, fraction in enumerate((0.1, 0.5, 0.9)):
        sample = copy_of(base, tmp_path / f"kill{step}")
        keep = read_image(sample, IMAGE)
        old = {lv: level_values(sample, lv) for lv in ("0", "1")}
        before = digest(sample)
        code, output = run_child(sample, scenario, 2, kill_after=fraction * duration)
        assert code in (-signal.SIGKILL, 0), output
        touched += check_after_fault(sample, before, old, new, keep, completed=code == 0)
        repair_and_check(sample, scenario, data, new)
    assert touched >= 1  # kills landed while the write was running


# ----------------------------------------------------------------- in-process faults


@pytest.fixture
def sample(base: Path, tmp_path: Path) -> Path:
    return copy_of(base, tmp_path)


def failing(data: xr.DataArray, after_blocks: int, image: Path) -> xr.DataArray:
    """``data`` as dask blocks of one shard each; once the write of ``image`` has started
    (its marker exists: blocks computed to plan the write do not count), block number
    ``after_blocks`` raises."""
    counter = {"n": 0}

    def block(values: np.ndarray) -> np.ndarray:
        counter["n"] += (image / WRITE_MARKER).exists()
        if counter["n"] > after_blocks:
            raise RuntimeError("source failed")
        return values

    chunks = tuple(min(s, n) for s, n in zip(KILL_SHARD, data.shape, strict=True))
    lazy = da.from_array(data.values, chunks=chunks).map_blocks(block, dtype=data.dtype)
    return data.copy(data=lazy)


def test_marker_exists_during_the_write_and_is_removed_after(sample: Path) -> None:
    marker = sample / RAW / "fresh.zarr" / WRITE_MARKER
    seen: list[dict[str, Any]] = []

    def block(values: np.ndarray) -> np.ndarray:
        seen.append(json.loads(marker.read_text()))
        return values

    data = kill_data(None)
    lazy = data.copy(
        data=da.from_array(data.values, chunks=KILL_SHARD).map_blocks(block, dtype=data.dtype)
    )
    lazy.visor.to_vsr(
        sample,
        image_type="raw",
        name="fresh",
        levels=2,
        shard_shape=KILL_SHARD,
        chunk_shape=KILL_CHUNK,
    )
    assert seen
    assert {(s["pid"], s["operation"], s["state"], s["levels"]) for s in seen} == {
        (os.getpid(), "write", "writing", 2)
    }
    assert not marker.exists()
    assert validate(sample) == []


def test_failed_write_is_marked_incomplete_and_repaired_by_rewriting(sample: Path) -> None:
    data = kill_data(None, seed=3)
    with pytest.raises(RuntimeError, match="source failed"):
        failing(data, after_blocks=3, image=sample / RAW / "fresh.zarr").visor.to_vsr(
            sample,
            image_type="raw",
            name="fresh",
            levels=2,
            shard_shape=KILL_SHARD,
            chunk_shape=KILL_CHUNK,
        )
    image = sample / RAW / "fresh.zarr"
    assert read_write_marker(image)["state"] == "failed"  # type: ignore[index]
    problems = validate(sample)
    assert any(p.file == image / WRITE_MARKER and p.severity == "error" for p in problems)
    with pytest.warns(VisorWarning, match="incomplete"):
        xr.open_dataset(sample, engine="visor", name="fresh")
    with pytest.raises(TargetExistsError, match="did not finish"):
        data.visor.to_vsr(sample, image_type="raw", name="fresh", mode="w-")
    data.visor.to_vsr(
        sample,
        image_type="raw",
        name="fresh",
        mode="w",
        levels=2,
        shard_shape=KILL_SHARD,
        chunk_shape=KILL_CHUNK,
    )
    assert validate(sample, deep=True) == []
    np.testing.assert_array_equal(read_image(sample, "fresh"), data.values)


def test_failed_mode_a_rewrite_is_repaired_by_mode_a(sample: Path) -> None:
    data = kill_data(None, seed=4)
    with pytest.raises(RuntimeError):
        failing(data, after_blocks=2, image=sample / RAW / f"{TARGET}.zarr").visor.to_vsr(
            sample, image_type="raw", name=TARGET, mode="a"
        )
    assert validate(sample) != []
    data.visor.to_vsr(sample, image_type="raw", name=TARGET, mode="a")
    assert validate(sample, deep=True) == []
    np.testing.assert_array_equal(read_image(sample, TARGET), data.values)


def test_failure_before_any_data_leaves_nothing(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = digest(sample, skip_hidden=False)

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk went away")

    monkeypatch.setattr(VsrStore, "create_image", broken)
    with pytest.raises(OSError, match="disk went away"):
        kill_data(None).visor.to_vsr(sample, image_type="raw", name="fresh")
    assert not (sample / RAW / "fresh.zarr").exists()
    after = digest(sample, skip_hidden=False)
    after.pop(".visor-lock", None)
    before.pop(".visor-lock", None)
    assert after == before


def test_second_writer_of_an_image_is_refused(sample: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        image = sample / RAW / f"{TARGET}.zarr"
        marker = {
            "operation": "write",
            "pid": sleeper.pid,
            "host": os.uname().nodename,
            "started": "now",
            "state": "writing",
            "pid_start": zio.process_start(sleeper.pid),
        }
        (image / WRITE_MARKER).write_text(json.dumps(marker))
        before = digest(sample)
        data = kill_data(None, seed=5)
        for call in (
            lambda: data.visor.to_vsr(sample, image_type="raw", name=TARGET, mode="w"),
            lambda: region_of(data).visor.to_vsr(
                sample, image_type="raw", name=TARGET, mode="r+", region=KILL_REGION
            ),
            lambda: add_levels(sample, image_type="raw", name=TARGET, levels=3),
        ):
            with pytest.raises(WriteInProgressError, match=f"pid {sleeper.pid}") as caught:
                call()
            assert isinstance(caught.value, BlockingIOError)
        assert digest(sample) == before
    finally:
        sleeper.kill()
        sleeper.wait()
    # the writer is gone: its marker is stale and the next write takes over
    data.visor.to_vsr(sample, image_type="raw", name=TARGET, mode="w")
    assert validate(sample, deep=True) == []


def test_marker_of_a_reused_pid_is_stale(sample: Path) -> None:
    marker = {"pid": os.getppid(), "host": os.uname().nodename, "pid_start": "1"}
    assert zio.marker_is_stale(marker) == (zio.process_start(os.getppid()) is not None)
    assert not zio.marker_is_stale({"pid": os.getppid(), "host": "elsewhere"})
    assert zio.marker_is_stale({"pid": os.getpid(), "host": os.uname().nodename, "token": "x"})
    assert zio.marker_is_stale({"state": "failed", "pid": os.getppid()})


def test_disk_error_mid_shard_keeps_the_old_shard(sample: Path) -> None:
    """EFBIG while zarrs writes a shard (file-size limit, SIGXFSZ ignored as Python does):
    the write fails, the previously complete shard is untouched."""
    before = {f: f.read_bytes() for f in shard_files(sample / RAW / f"{TARGET}.zarr" / "0")}
    data = kill_data(5)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, hard))
    try:
        # zarrs' error for the failed file write (EFBIG: "File too large")
        with pytest.raises((OSError, RuntimeError), match=r"too large|os error 27"):
            region_of(data).visor.to_vsr(
                sample, image_type="raw", name=TARGET, mode="r+", region=KILL_REGION
            )
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    after = {f: f.read_bytes() for f in shard_files(sample / RAW / f"{TARGET}.zarr" / "0")}
    changed = [f for f in before if after.get(f) != before[f]]
    assert len(changed) < len(before)  # the big shard (and maybe others) kept old content
    assert not [p for p in validate(sample, deep=True) if "corrupt" in p.message]
    assert not list((sample / RAW / f"{TARGET}.zarr").glob(".*partial*"))


def test_add_levels_interrupted_leaves_the_image_as_it_was(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from visor_xarray.write import levels as write_levels  # where add_levels looks it up

    before_attrs = (sample / RAW / f"{TARGET}.zarr" / "zarr.json").read_bytes()
    original = write_levels.run_streams

    def fail_after_first_level(jobs: Any) -> None:
        original(jobs[:1])  # level 2 is written, then the user presses Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(write_levels, "run_streams", fail_after_first_level)
    with pytest.raises(KeyboardInterrupt):
        add_levels(sample, image_type="raw", name=TARGET, levels=4)
    monkeypatch.setattr(write_levels, "run_streams", original)
    assert (sample / RAW / f"{TARGET}.zarr" / "zarr.json").read_bytes() == before_attrs
    assert VsrStore(sample).levels("raw", TARGET) == ("0", "1")
    problems = validate(sample)
    assert {(p.file.name, p.severity) for p in problems} == {
        (WRITE_MARKER, "error"),
        ("2", "warning"),
        ("3", "warning"),
    }
    add_levels(sample, image_type="raw", name=TARGET, levels=4)  # repair: run it again
    assert VsrStore(sample).levels("raw", TARGET) == ("0", "1", "2", "3")
    assert validate(sample, deep=True) == []


def test_region_write_failing_midway_keeps_every_shard_old_or_new(
    sample: Path, tmp_path: Path
) -> None:
    keep = read_image(sample, IMAGE)
    old = {lv: level_values(sample, lv) for lv in ("0", "1")}
    data = kill_data(None, seed=9)
    new = expected_levels(sample, data, tmp_path, "region")
    before = digest(sample)
    with pytest.raises(RuntimeError):
        region_of(
            failing(data, after_blocks=3, image=sample / RAW / f"{TARGET}.zarr")
        ).visor.to_vsr(sample, image_type="raw", name=TARGET, mode="r+", region=KILL_REGION)
    assert check_after_fault(sample, before, old, new, keep)
    repair_and_check(sample, "region", data, new)


def test_stale_scratch_directories_are_removed_by_the_next_write(sample: Path) -> None:
    image = sample / RAW / f"{TARGET}.zarr"
    (image / ".0.partial-123-abc").mkdir()
    (image / ".0.partial-123-abc" / "c.0.0.0.0.0").write_bytes(b"half a shard")
    assert any(p.severity == "warning" for p in validate(sample))
    data = kill_data(None, seed=2)
    region_of(data).visor.to_vsr(
        sample, image_type="raw", name=TARGET, mode="r+", region=KILL_REGION
    )
    assert not list(image.glob(".*partial*"))
    assert validate(sample) == []


def test_reads_during_own_write_do_not_warn(sample: Path) -> None:
    """The writer reads its own levels back (pyramid): no warning about its own marker."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", VisorWarning)
        add_levels(sample, image_type="raw", name=TARGET, levels=3)


def crash_mid_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every zarrs write end like a crash: files half written, then an error."""
    from zarrs.pipeline import ZarrsCodecPipeline

    original = ZarrsCodecPipeline.write

    async def write(self: Any, batch_info: Any, value: Any, drop_axes: Any = ()) -> None:
        batch_info = list(batch_info)
        await original(self, batch_info, value, drop_axes)
        for setter, *_ in batch_info:
            file = Path(setter.store.root) / setter.path
            if file.exists():
                file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
        raise OSError(errno.EIO, "simulated crash in the middle of a shard write")

    monkeypatch.setattr(ZarrsCodecPipeline, "write", write)

    from visor_xarray.zarr_io import shard_stream  # to_vsr streams shards itself

    def write_half(descriptor: int, payload: bytes) -> None:
        os.write(descriptor, payload[: len(payload) // 2])
        raise OSError(errno.EIO, "simulated crash in the middle of a shard write")

    monkeypatch.setattr(shard_stream, "_write_all", write_half)


def test_seed_api_writes_are_atomic_too(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``Image.open()`` / ``create()`` arrays commit whole shards: a write that crashes
    half-way through a shard file leaves the stored shard as it was."""
    array = vx.Image(sample, name=TARGET, mode="r+").open(0)
    file = shard_files(sample / RAW / f"{TARGET}.zarr" / "0")[0]
    before = file.read_bytes()
    with monkeypatch.context() as patch:
        crash_mid_write(patch)
        with pytest.raises(OSError, match="simulated crash"):
            array[0, 0, 0:2, 0:2, 0:2] = 5
        with pytest.raises(OSError, match="simulated crash"):
            array[0, 0, 0:32, 0:64, 0:64] = 5  # a whole shard
    assert file.read_bytes() == before
    assert validate(sample, deep=True) == []
    array[0, 0, 0:2, 0:2, 0:2] = 5
    assert (np.asarray(array[0, 0, 0:2, 0:2, 0:2]) == 5).all()
    assert file.read_bytes() != before
    assert not list((sample / RAW / f"{TARGET}.zarr").glob(".*partial*"))


def test_crashing_to_vsr_keeps_the_previous_image_readable(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every shard write crashes half-way: the write fails, nothing is committed -- not
    even by tasks still running after the failure (their commits check the marker)."""
    old = read_image(sample, TARGET)
    data = kill_data(None, seed=11)
    with monkeypatch.context() as patch:
        crash_mid_write(patch)
        with pytest.raises(OSError, match="simulated crash"):
            region_of(data).visor.to_vsr(
                sample, image_type="raw", name=TARGET, mode="r+", region=KILL_REGION
            )
    time.sleep(1.0)  # let tasks still running after the failure finish (unpatched)
    assert not [p for p in validate(sample, deep=True) if "corrupt" in p.message]
    with pytest.warns(VisorWarning):
        np.testing.assert_array_equal(read_image(sample, TARGET), old)


def test_all_fill_shard_write_removes_the_shard_file(sample: Path) -> None:
    array = vx.Image(sample, name=TARGET, mode="r+").open(0)
    file = shard_files(sample / RAW / f"{TARGET}.zarr" / "0")[0]
    array[0, 0, 0:32, 0:64, 0:64] = 0
    assert not file.exists()
    assert (np.asarray(array[0, 0, 0:32, 0:64, 0:64]) == 0).all()


def test_tasks_still_running_after_a_failure_do_not_commit(sample: Path) -> None:
    """dask reports the first failed task while others still run; their shards must not
    land in the image after the write was marked failed (another writer may own it)."""
    import dask

    old = read_image(sample, TARGET)
    data = kill_data(None, seed=13)
    finished: list[int] = []

    def block(values: np.ndarray, block_info: Any = None) -> np.ndarray:
        if values.size == 0:  # dask's meta inference
            return values
        location = block_info[0]["chunk-location"]
        if location[0] == 0 and location[3:] == (0, 0):
            time.sleep(0.2)
            raise RuntimeError("source failed")
        time.sleep(0.8)  # still running when the failure is reported
        finished.append(1)
        return values

    lazy = da.from_array(data.values, chunks=KILL_SHARD).map_blocks(block, dtype=data.dtype)
    # one thread per block (8): all run at once, the failing one ends first
    with dask.config.set(scheduler="threads", num_workers=8), pytest.raises(RuntimeError):
        data.copy(data=lazy).visor.to_vsr(
            sample,
            image_type="raw",
            name=TARGET,
            mode="a",
            shard_shape=KILL_SHARD,
            chunk_shape=KILL_CHUNK,
        )
    time.sleep(2.0)  # the other tasks finish now
    assert finished
    assert read_write_marker(sample / RAW / f"{TARGET}.zarr")["state"] == "failed"  # type: ignore[index]
    # mode 'a' emptied the image before writing: no shard of the failed write was committed
    assert shard_files(sample / RAW / f"{TARGET}.zarr" / "0") == []
    del old
