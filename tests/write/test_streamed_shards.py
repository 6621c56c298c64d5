"""Shards assembled by the streaming writer, read by every peer: zarrs, zarr-python's
default pipeline, tensorstore and visor-py; their indexes checked by ``validate --deep``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorstore as ts
import visor
import xarray as xr
import zarr

from visor_xarray import validate
from visor_xarray.options import DEFAULT_PIPELINE, ZARRS_PIPELINE

SHAPE = (2, 1, 48, 96, 80)
SHARD = (1, 1, 32, 64, 64)
CHUNK = (1, 1, 16, 32, 32)
REGION = {"z": slice(16, 32), "y": slice(32, 96)}
EMPTY = 2**64 - 1


def holey_volume(seed: int = 0) -> xr.DataArray:
    """Noisy values with whole inner chunks of fill value (0), which must not be stored."""
    values = np.random.default_rng(seed).integers(1, 4000, size=SHAPE, dtype=np.uint16)
    values[0, 0, :16, :32, :32] = 0
    values[1, 0, 32:, 64:, :] = 0
    return xr.DataArray(
        values,
        dims=("vs", "ch", "z", "y", "x"),
        coords={
            "vs": [f"stack_{i + 1}" for i in range(SHAPE[0])],
            "ch": ["488"],
            "z": 3.5 * np.arange(SHAPE[2]),
            "y": 1.03 * np.arange(SHAPE[3]),
            "x": 1.03 * np.arange(SHAPE[4]),
        },
    )


def shard_files(level: Path) -> list[Path]:
    """Every stored shard file of a level array, sorted."""
    return sorted(p for p in (level / "c").rglob("*") if p.is_file())


def fill_chunks(values: np.ndarray) -> int:
    """Number of inner chunks whose values are all 0."""
    count = 0
    grid = [range(0, n, c) for n, c in zip(values.shape, CHUNK, strict=True)]
    for corner in np.ndindex(*[len(g) for g in grid]):
        start = [g[i] for g, i in zip(grid, corner, strict=True)]
        part = values[tuple(slice(s, s + c) for s, c in zip(start, CHUNK, strict=True))]
        count += not part.any()
    return count


def shard_index(raw: bytes, at_start: bool) -> np.ndarray:
    """``(offset, length)`` per inner chunk of a shard's bytes (bytes codec, crc32c)."""
    count = int(np.prod([s // c for s, c in zip(SHARD, CHUNK, strict=True)]))
    size = 16 * count + 4
    body = raw[: size - 4] if at_start else raw[-size:-4]
    return np.frombuffer(body, dtype="<u8").reshape(-1, 2)


def peer_values(level: Path) -> dict[str, np.ndarray]:
    """The level array as each peer reads it."""
    values = {}
    for label, pipeline in (("zarrs", ZARRS_PIPELINE), ("zarr-python", DEFAULT_PIPELINE)):
        with zarr.config.set({"codec_pipeline.path": pipeline}):
            values[label] = np.asarray(zarr.open_array(level, mode="r")[...])
    spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(level)}}
    values["tensorstore"] = np.asarray(ts.open(spec, read=True).result().read().result())
    image = level.parent
    sample = image.parent.parent
    kind = image.parent.name.removeprefix("visor_").removesuffix("_images")
    values["visor-py"] = np.asarray(
        visor.Image(sample, kind, image.name.removesuffix(".zarr")).load(level.name)[...]
    )
    return values


def assert_peers_read(level: Path, expected: np.ndarray) -> None:
    values = peer_values(level)
    assert set(values) == {"zarrs", "zarr-python", "tensorstore", "visor-py"}
    for label, got in values.items():
        assert got.dtype == expected.dtype, label
        np.testing.assert_array_equal(got, expected, err_msg=label)


def write(path: Path, data: xr.DataArray, name: str = "img") -> Path:
    data.visor.to_vsr(
        path, image_type="raw", name=name, shard_shape=SHARD, chunk_shape=CHUNK, mode="a"
    )
    return path / "visor_raw_images" / f"{name}.zarr" / "0"


def write_region_and_check(sample: Path, level: Path, data: xr.DataArray, seed: int) -> None:
    """Write new values into ``REGION`` of the image; every peer reads the result."""
    new = holey_volume(seed=seed).isel(REGION)
    new.visor.to_vsr(sample, image_type="raw", name="img", mode="r+", region=REGION)
    expected = data.values.copy()
    expected[:, :, REGION["z"], REGION["y"]] = new.values
    assert_peers_read(level, expected)
    assert validate(sample, deep=True) == []


def move_index_to_start(level: Path) -> None:
    """Rewrite a level array with its shard indexes at the start, as another writer may."""
    values = np.asarray(zarr.open_array(level, mode="r")[...])
    meta_file = level / "zarr.json"
    meta = json.loads(meta_file.read_text())
    meta["codecs"][0]["configuration"]["index_location"] = "start"
    meta_file.write_text(json.dumps(meta))
    for file in shard_files(level):
        file.unlink()
    with zarr.config.set({"codec_pipeline.path": DEFAULT_PIPELINE}):
        zarr.open_array(level, mode="r+")[...] = values


def test_streamed_shards_are_read_identically_by_every_peer(tmp_path: Path) -> None:
    data = holey_volume()
    level = write(tmp_path / "S.vsr", data)
    assert_peers_read(level, data.values)
    assert validate(tmp_path / "S.vsr", deep=True) == []


def test_empty_inner_chunks_are_not_stored(tmp_path: Path) -> None:
    data = holey_volume()
    level = write(tmp_path / "S.vsr", data)
    stored = sum(
        int((shard_index(f.read_bytes(), False)[:, 0] != EMPTY).sum()) for f in shard_files(level)
    )
    chunks = int(np.prod([-(-n // c) for n, c in zip(SHAPE, CHUNK, strict=True)]))
    assert fill_chunks(data.values) == 1 + 3  # the two holes, in whole chunks
    assert stored == chunks - fill_chunks(data.values)
    # the second hole covers two edge shards whole: they are no files at all
    assert len(shard_files(level)) == 2 * 2 * 2 * 2 - 2
    # a shard whose every chunk is fill value is no file at all, as zarr writes it
    zeros = data.copy(data=np.zeros(SHAPE, dtype=np.uint16))
    zeros_level = write(tmp_path / "S.vsr", zeros, name="zeros")
    assert shard_files(zeros_level) == []
    assert_peers_read(zeros_level, zeros.values)


@pytest.mark.parametrize("at_start", [False, True], ids=["index-at-end", "index-at-start"])
def test_region_write_copies_untouched_chunks_unchanged(tmp_path: Path, at_start: bool) -> None:
    sample = tmp_path / "S.vsr"
    data = holey_volume(seed=1)
    level = write(sample, data)
    if at_start:
        move_index_to_start(level)
    old = {f: f.read_bytes() for f in shard_files(level)}
    write_region_and_check(sample, level, data, seed=2)
    copied = 0
    for file, before in old.items():
        after = file.read_bytes()
        old_index, new_index = shard_index(before, at_start), shard_index(after, at_start)
        shard = [int(p) for p in file.relative_to(level / "c").parts]
        for flat, ((o_off, o_len), (n_off, n_len)) in enumerate(
            zip(old_index.tolist(), new_index.tolist(), strict=True)
        ):
            local = np.unravel_index(flat, [s // c for s, c in zip(SHARD, CHUNK, strict=True)])
            z = shard[2] * SHARD[2] + int(local[2]) * CHUNK[2]
            y = shard[3] * SHARD[3] + int(local[3]) * CHUNK[3]
            touched = REGION["z"].start <= z < REGION["z"].stop and (
                REGION["y"].start <= y < REGION["y"].stop
            )
            if touched or o_off == EMPTY:
                continue
            assert after[n_off : n_off + n_len] == before[o_off : o_off + o_len]
            copied += 1
    assert copied > 0


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_validate_deep_checks_streamed_shard_indexes(tmp_path: Path, damage: str) -> None:
    sample = tmp_path / "S.vsr"
    level = write(sample, holey_volume())
    file = shard_files(level)[0]
    raw = bytearray(file.read_bytes())
    if damage == "flip":
        raw[-10] ^= 0xFF  # inside the index, before its crc32c
        file.write_bytes(bytes(raw))
        expected = "checksum"
    else:
        file.write_bytes(bytes(raw[: len(raw) // 3]) + bytes(raw[-(16 * 8 + 4) :]))
        expected = "outside the file"
    problems = [p for p in validate(sample, deep=True) if p.file == file]
    assert problems, validate(sample, deep=True)
    assert any(expected in p.message for p in problems)


def test_region_write_copies_through_user_space_where_the_kernel_cannot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``os.copy_file_range`` fails across some file systems: the copy falls back."""

    def unsupported(*args: object) -> int:
        raise OSError(18, "Invalid cross-device link")

    sample = tmp_path / "S.vsr"
    data = holey_volume(seed=3)
    level = write(sample, data)
    monkeypatch.setattr("os.copy_file_range", unsupported)
    write_region_and_check(sample, level, data, seed=4)


def test_writes_from_threads_that_ended_keep_encoding(tmp_path: Path) -> None:
    # each write task's thread keeps an event loop whose executor is the shared pool of
    # compression threads; a thread ending (and its loop collected) must not stop that pool
    import gc
    import threading

    volume = holey_volume()
    for attempt in range(3):
        errors: list[BaseException] = []

        def write(
            path: Path = tmp_path / f"out{attempt}.vsr", errors: list[BaseException] = errors
        ) -> None:
            try:
                volume.visor.to_vsr(
                    path, image_type="raw", name="s", shard_shape=SHARD, chunk_shape=CHUNK
                )
            except BaseException as error:  # handed to the test's thread
                errors.append(error)

        worker = threading.Thread(target=write)
        worker.start()
        worker.join()
        gc.collect()
        assert not errors, errors
        written = xr.open_dataset(tmp_path / f"out{attempt}.vsr", engine="visor", name="s")
        np.testing.assert_array_equal(written["image"].values, volume.values)
