"""Interrupted copies (a real SIGKILL of a copying process) and the memory of a copy.

A killed copy leaves a destination that is detectably incomplete (its marker, reported
by ``validate`` and warned about by readers), holds no truncated file, and is repaired by
repeating the copy with ``overwrite=True``. A re-encoding copy holds a bounded number of
shards in memory however large the image.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr
import zarr.codecs

import visor_xarray as vx
from visor_xarray.errors import TargetExistsError, VisorWarning
from visor_xarray.validate import validate
from visor_xarray.zarr_io import WRITE_MARKER

SHAPE = (2, 1, 32, 128, 128)
SHARD = (1, 1, 8, 32, 32)  # 128 shards at level 0

CHILD = textwrap.dedent(
    """
    import shutil, sys, time
    import dask, zarr.codecs
    from dask.callbacks import Callback
    import visor_xarray as vx

    source, target, mode = sys.argv[1:4]
    # slow the copy down so that the kill lands in the middle of it
    if mode == "bytes":
        copy = shutil.copyfileobj
        def slow(*args, **kwargs):
            time.sleep(0.02)
            return copy(*args, **kwargs)
        shutil.copyfileobj = slow
        kwargs = {}
    else:
        class Slow(Callback):
            def _pretask(self, key, dsk, state):
                time.sleep(0.05)
        Slow().register()
        kwargs = {"compressors": zarr.codecs.BloscCodec(cname="zstd", clevel=3)}
    print("READY", flush=True)
    with dask.config.set(scheduler="threads", num_workers=2):
        vx.copy_sample(source, target, **kwargs)
    print("DONE", flush=True)
    """
)


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    }


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kill") / "S.vsr"
    rng = np.random.default_rng(3)
    data = xr.DataArray(
        rng.integers(0, 4000, size=SHAPE, dtype=np.uint16),
        dims=("vs", "ch", "z", "y", "x"),
        coords={
            "vs": ["stack_1", "stack_2"],
            "ch": ["488"],
            "z": 3.5 * np.arange(SHAPE[2]),
            "y": 1.03 * np.arange(SHAPE[3]),
            "x": 1.03 * np.arange(SHAPE[4]),
        },
    )
    data.visor.to_vsr(
        root,
        image_type="raw",
        name="slice_1_10x",
        shard_shape=SHARD,
        chunk_shape=(1, 1, 8, 16, 16),
    )
    return root


def shards_in(level: Path) -> list[Path]:
    return [p for p in (level / "c").rglob("*") if p.is_file()] if (level / "c").is_dir() else []


@pytest.mark.parametrize("mode", ["bytes", "reencode"])
def test_killed_copy_is_detectable_never_truncated_and_repaired(
    source: Path, tmp_path: Path, mode: str
) -> None:
    target = tmp_path / "C.vsr"
    level = target / "visor_raw_images" / "slice_1_10x.zarr" / "0"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(source), str(target), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().startswith("READY")
    deadline = time.monotonic() + 120
    while len(shards_in(level)) < 16 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    out, err = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL, out + err
    assert 16 <= len(shards_in(level)) < 128

    marker = json.loads((target / WRITE_MARKER).read_text())
    assert (marker["operation"], marker["state"]) == ("copy_sample", "writing")
    problems = validate(target, deep=True)
    assert not [p for p in problems if "corrupt" in p.message or "decoded" in p.message]
    assert problems[0].file == target / WRITE_MARKER  # errors first
    assert any(
        "incomplete sample" in p.message and "was interrupted" in p.message for p in problems
    )
    with pytest.warns(VisorWarning, match="was interrupted"):
        vx.info(target)

    original = files(source)
    copied = files(target)
    reference = zarr.open_array(str(source / "visor_raw_images/slice_1_10x.zarr/0"), mode="r")
    for key, content in copied.items():
        if mode == "bytes" or "slice_1_10x.zarr/0/" not in key:
            assert content == original[key], key  # complete, never truncated
    if mode == "reencode":  # each committed shard decodes to the source's values
        written = zarr.open_array(str(level), mode="r")
        for shard in shards_in(level):
            coords = tuple(int(p) for p in shard.relative_to(level / "c").parts)
            box = tuple(slice(c * s, (c + 1) * s) for c, s in zip(coords, SHARD, strict=True))
            np.testing.assert_array_equal(written[box], reference[box])

    with pytest.raises(TargetExistsError, match="did not finish"):
        vx.copy_sample(source, target)
    codec = zarr.codecs.BloscCodec(cname="zstd", clevel=3)
    kwargs = {} if mode == "bytes" else {"compressors": codec}
    vx.copy_sample(source, target, overwrite=True, **kwargs)
    assert not (target / WRITE_MARKER).exists()
    assert validate(target, deep=True) == []
    if mode == "bytes":
        assert files(target) == original
    np.testing.assert_array_equal(zarr.open_array(str(level), mode="r")[...], reference[...])


MEMORY = textwrap.dedent(
    """
    import json, resource, sys
    import dask, numcodecs, numpy as np, zarr
    import visor_xarray as vx
    from visor_xarray.testing.legacy import legacy_attributes
    from visor_xarray.testing import image_attributes

    root, budget = sys.argv[1], int(sys.argv[2])
    def legacy(sample, shape):
        raw = f"{sample}/visor_raw_images"
        group = zarr.open_group(f"{raw}/big.zarr", mode="w", zarr_format=2)
        group.attrs.update(legacy_attributes(
            image_attributes("big", stacks=["stack_1", "stack_2"], channels=["488"])))
        array = group.create_array(
            name="0", shape=shape, chunks=(1, 1, 32, 128, 128), dtype="uint16",
            compressors=numcodecs.Blosc(cname="zstd", clevel=1), fill_value=0,
            chunk_key_encoding={"name": "v2", "separator": "/"})
        for s in range(shape[0]):
            for z in range(0, shape[2], 32):  # cheap, compressible, deterministic content
                block = np.empty((32, shape[3], shape[4]), np.uint16)
                block[...] = (np.arange(shape[4], dtype=np.uint16) * 7 + z + s) % 3000
                array[s, 0, z : z + 32] = block
        open(f"{sample}/info.json", "w").write("{}")
        open(f"{raw}/selected.json", "w").write("[]")
    legacy(f"{root}/warm.vsr", (2, 1, 32, 128, 128))
    legacy(f"{root}/big.vsr", (2, 1, 128, 512, 512))  # 128 MiB of uint16
    settings = dict(scheduler="threads", num_workers=2)
    with vx.set_options(write_memory_budget=budget), dask.config.set(**settings):
        vx.copy_sample(f"{root}/warm.vsr", f"{root}/warm-copy.vsr")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    with vx.set_options(write_memory_budget=budget), dask.config.set(**settings):
        report = vx.copy_sample(f"{root}/big.vsr", f"{root}/big-copy.vsr")
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    shard = zarr.open_array(f"{root}/big-copy.vsr/visor_raw_images/big.zarr/0").shards
    print(json.dumps({"before": before, "after": after, "shard": shard,
                      "shards": report.shards_written}))
    """
)


@pytest.mark.slow
def test_converting_a_large_legacy_image_stays_within_the_budget(tmp_path: Path) -> None:
    budget = 48 * 2**20
    result = subprocess.run(
        [sys.executable, "-c", MEMORY, str(tmp_path), str(budget)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout.strip().splitlines()[-1])
    # VISoR's standard raw shard (one per stack and channel, whole frames), as to_vsr
    # writes it: 64 MiB each, larger than the budget allows to hold twice; streamed
    assert tuple(stats["shard"]) == (1, 1, 128, 512, 512)
    assert int(np.prod(stats["shard"])) * 2 * 2 > budget
    assert stats["shards"] == 2
    grown = stats["after"] - stats["before"]
    assert grown <= budget + 24 * 2**20, f"peak RSS grew by {grown / 2**20:.0f} MiB ({stats})"
    source = zarr.open_array(str(tmp_path / "big.vsr/visor_raw_images/big.zarr/0"), mode="r")
    copy = zarr.open_array(str(tmp_path / "big-copy.vsr/visor_raw_images/big.zarr/0"), mode="r")
    np.testing.assert_array_equal(copy[:, :, 60:70], source[:, :, 60:70])
    assert (
        hashlib.sha256(np.ascontiguousarray(copy[1]).tobytes()).digest()
        == hashlib.sha256(np.ascontiguousarray(source[1]).tobytes()).digest()
    )
