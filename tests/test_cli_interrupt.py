"""Ctrl-C during a long ``visor-xarray`` write, pressed as a user at a terminal would.

Real subprocesses on real files, no mocks: the running command gets SIGINT (what a terminal
sends on Ctrl-C), then the sample is compared byte for byte with what it was before,
validated, read, and repaired by running the same command again.
"""

from __future__ import annotations

import hashlib
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

from visor_xarray import VisorWarning
from visor_xarray.api import Image
from visor_xarray.testing import make_sample
from visor_xarray.testing.samples import image_attributes, synthetic_volume
from visor_xarray.transforms.stored import Transform
from visor_xarray.validate import Problem, validate

NAME = "big"
MARKER = ".visor-write.json"
COMMAND = ("pyramid", "--image", f"raw/{NAME}", "--levels", "4")
NEW_LEVELS = ("1", "2", "3")
#: dask's progress bar, as the CLI draws it on stderr
PROGRESS = re.compile(r"\[[# ]+\] \| +\d+% Completed \|")
#: the CLI's whole answer to Ctrl-C (no traceback)
INTERRUPTED = (
    "interrupted: finished shards and JSON documents are intact; an image being written is "
    "marked incomplete (see `visor-xarray validate`); rerun to repair it"
)
#: z-depths of the image tried in turn: 2 x 64 x 512 x 512 uint16 (64 MiB) keeps the
#: pyramid busy for about a second after its first shard on a 2-CPU machine; a machine
#: fast enough to finish before Ctrl-C lands gets four times the data.
DEPTHS = (64, 256)


def build_sample(path: Path, depth: int) -> np.ndarray:
    """A sample with a large one-level raw image, two small images and a transform.

    Returns the large image's level 0.
    """
    make_sample(path, levels=2)  # raw/slice_1_10x, info.json, selected.json
    make_sample(path, name="other", image_type="icorr", stacks=None, channels=("488",))
    # A 128 x 128 tile of microscopy-like content repeated over 512 x 512, plus 6 bits of
    # camera noise so that the shards do not compress to nothing: fast to make, realistic
    # to encode.
    data = np.tile(synthetic_volume((2, 1, depth, 128, 128), seed=1), (1, 1, 1, 4, 4))
    data += np.random.default_rng(2).integers(0, 64, size=data.shape, dtype=np.uint16)
    attrs = image_attributes(
        NAME, stacks=("stack_1", "stack_2"), channels=("488",), translations=True
    )
    array = Image(path, type="raw", name=NAME, mode="w-").create(
        resolution=0,
        dtype=np.uint16,
        attr=attrs,
        shape=data.shape,
        shard_size=(1, 1, 16, 256, 256),
        chunk_size=(1, 1, 16, 128, 128),
    )
    array[...] = data
    Transform(path, version="vx_20261124", name=NAME).save(np.eye(4), stack=0, channel=0)
    return data


def digest(root: Path) -> dict[str, str]:
    """SHA-256 of every file below ``root``, by relative path."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def start(sample: Path, workdir: Path, *extra: str) -> tuple[subprocess.Popen[bytes], Path]:
    """Start the pyramid command (progress bar on, as by default); stderr goes to a file."""
    stderr = workdir / "stderr.txt"
    with stderr.open("wb") as sink:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "visor_xarray", COMMAND[0], str(sample), *COMMAND[1:], *extra],
            stdout=subprocess.PIPE,
            stderr=sink,
            preexec_fn=_as_from_a_terminal,
        )
    return process, stderr


def _as_from_a_terminal() -> None:
    """SIGINT handled by default in the command, as a terminal's shell starts it: a test
    run launched as a background job inherits SIGINT ignored (POSIX shells ignore it for
    asynchronous commands), and Python then keeps ignoring it in the child."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes]) -> bool:
    """Poll ``condition`` until it holds (True) or the process has exited (False)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if condition():
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.002)
    raise AssertionError("the command neither started writing nor exited within 120 s")


def committed_shards(image: Path) -> dict[str, list[Path]]:
    """Shard files already committed under each new level's chunk keys (``{level}/c/...``)."""
    return {
        level: sorted(p for p in (image / level / "c").rglob("*") if p.is_file())
        for level in NEW_LEVELS
        if (image / level / "c").is_dir()
    }


def writing(image: Path) -> bool:
    """Whether a new level has a committed shard (the command is truly writing)."""
    return any(committed_shards(image).values())


def shard_values(image: Path, level: str, files: list[Path]) -> dict[Path, np.ndarray]:
    """Decode each listed shard file of a level (the array read directly, not via the image)."""
    array = zarr.open_array(image / level, mode="r")
    shard = array.shards or array.chunks
    out = {}
    for file in files:
        key = [int(part) for part in file.relative_to(image / level / "c").parts]
        region = tuple(slice(k * s, (k + 1) * s) for k, s in zip(key, shard, strict=True))
        out[file] = np.asarray(array[region])
    return out


def kinds(problems: list[Problem], image: Path) -> list[str]:
    """Name each problem validate found, failing on any the interruption may not cause."""
    named = []
    for problem in problems:
        file = Path(problem.file)
        if problem.severity == "error" and file == image / MARKER:
            assert "add_levels" in problem.message
            assert "was interrupted" in problem.message  # the writer is gone, not running
            named.append("marker")
        elif problem.severity == "warning" and "present but not listed" in problem.message:
            assert file.parent == image
            assert file.name in NEW_LEVELS
            named.append("unlisted level")
        elif problem.severity == "warning" and "scratch directory" in problem.message:
            assert file.parent == image
            named.append("scratch")
        else:
            raise AssertionError(f"unexpected problem after Ctrl-C: {problem}")
    return named


def test_ctrl_c_during_pyramid_exits_130_and_leaves_a_repairable_sample(tmp_path: Path) -> None:
    for depth in DEPTHS:
        sample = tmp_path / f"depth{depth}" / "S.vsr"
        level0 = build_sample(sample, depth)
        image = sample / "visor_raw_images" / f"{NAME}.zarr"
        before = digest(sample)
        process, stderr_file = start(sample, sample.parent)
        # Ctrl-C once the first new shard is committed: the command is truly writing
        started = wait_for(partial(writing, image), process)
        if started:
            process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=120)
        if process.returncode != 0:
            break
        # it finished before Ctrl-C landed (a fast machine): try again with more data
    else:
        pytest.fail(f"the command finished before Ctrl-C at every depth {DEPTHS}")
    stderr = stderr_file.read_text()

    # exit status 130 and one short message, after the progress bar
    assert started
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert PROGRESS.search(stderr), stderr
    assert stderr.rstrip("\n").rsplit("\n", 1)[-1] == INTERRUPTED
    assert stdout == b""  # no report of a finished write

    # every file that was there is byte-identical: other images, level 0 of this one, and
    # every JSON document (the image still lists one level)
    after = digest(sample)
    assert {k: after.get(k) for k in before} == before
    new = sorted(set(after) - set(before))
    prefix = f"visor_raw_images/{NAME}.zarr/"
    assert all(k.startswith(prefix) for k in new), new
    allowed = re.compile(r"(\.visor-write\.json|[123]/.*|\.[123]\.partial-[^/]+/.*)")
    assert all(allowed.fullmatch(k[len(prefix) :]) for k in new), new
    for document in sample.rglob("*.json"):
        json.loads(document.read_text())  # all JSON parses

    # the marker stays, marked failed, naming this process
    marker = json.loads((image / MARKER).read_text())
    assert marker["state"] == "failed"
    assert marker["operation"] == "add_levels"
    assert marker["pid"] == process.pid

    # validate: the image is incomplete (one error, the marker); no corrupt shard anywhere
    problems = validate(sample, deep=True)
    found = kinds(problems, image)
    assert found.count("marker") == 1
    # the level arrays begun are present but not listed (the metadata comes last)
    begun = sorted(p.name for p in image.iterdir() if p.name in NEW_LEVELS)
    unlisted = sorted(Path(p.file).name for p in problems if "not listed" in p.message)
    assert begun
    assert unlisted == begun

    # the image opens with a warning, lists its old level only, and level 0 is intact
    with pytest.warns(VisorWarning, match="interrupted"):
        ds = xr.open_dataset(sample, engine="visor", image_type="raw", name=NAME)
    assert ds.visor.levels == ("0",)
    np.testing.assert_array_equal(ds["image"].values, level0)
    # the shards committed before Ctrl-C are whole (validate reads listed levels only)
    shards = committed_shards(image)
    before_rerun = {level: shard_values(image, level, files) for level, files in shards.items()}
    assert sum(map(len, before_rerun.values())) >= 1

    # running the same command again repairs it, with a progress bar
    rerun = subprocess.run(
        [sys.executable, "-m", "visor_xarray", COMMAND[0], str(sample), *COMMAND[1:]],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert "Traceback" not in rerun.stderr
    assert PROGRESS.search(rerun.stderr), rerun.stderr
    assert "100% Completed" in rerun.stderr
    assert f"wrote raw/{NAME}" in rerun.stdout
    assert validate(sample, deep=True) == []
    assert not (image / MARKER).exists()
    repaired = digest(sample)
    changed = {k for k in before if repaired.get(k) != before[k]}
    assert changed == {f"{prefix}zarr.json"}  # the image's metadata, now listing 4 levels
    ds = xr.open_dataset(sample, engine="visor", image_type="raw", name=NAME)
    assert ds.visor.levels == ("0", *NEW_LEVELS)
    np.testing.assert_array_equal(ds["image"].values, level0)
    # what the interrupted run had committed is exactly what a complete run writes
    for level, files in shards.items():
        final = shard_values(image, level, files)
        for file, values in before_rerun[level].items():
            np.testing.assert_array_equal(values, final[file], err_msg=str(file))


def test_ctrl_c_as_the_write_finishes_prints_no_traceback(tmp_path: Path) -> None:
    """Ctrl-C after the image is complete, while the process exits: no traceback, no harm.

    Python would otherwise raise KeyboardInterrupt in its shutdown (joining dask's worker
    threads, atexit hooks): a traceback with exit status 0, or death by SIGINT.
    """
    sample = tmp_path / "S.vsr"
    level0 = build_sample(sample, 16)  # a write of a few tenths of a second: marker seen
    image = sample / "visor_raw_images" / f"{NAME}.zarr"
    process, stderr_file = start(sample, tmp_path, "--quiet")
    seen = wait_for(lambda: (image / MARKER).exists(), process)
    # the marker goes once the levels and the metadata are written
    done = seen and wait_for(lambda: not (image / MARKER).exists(), process)
    if done:
        process.send_signal(signal.SIGINT)
    stdout, _ = process.communicate(timeout=120)
    stderr = stderr_file.read_text()
    assert done, "the write was over before its marker was seen"
    assert "Traceback" not in stderr
    # 0 if Ctrl-C landed once the command was over, 130 (and the message) if just before
    assert process.returncode in (0, 130), stderr
    if process.returncode == 0:
        assert stderr == ""  # --quiet: no progress bar either
        assert f"wrote raw/{NAME}".encode() in stdout
    else:
        assert stderr.strip() == INTERRUPTED
    assert validate(sample, deep=True) == []
    ds = xr.open_dataset(sample, engine="visor", image_type="raw", name=NAME)
    assert ds.visor.levels == ("0", *NEW_LEVELS)
    np.testing.assert_array_equal(ds["image"].values, level0)
