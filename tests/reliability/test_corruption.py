"""Corrupt shards raise CorruptDataError naming the shard file, through every read path.

Faults injected into one shard file of a written sample: truncation (half, one byte, to
zero bytes), appended junk, a flipped bit in the shard index, in its checksum, at the
start of a compressed chunk, and random garbage; plus a mid-chunk bit flip that only a
per-chunk ``crc32c`` codec can detect.
"""

from __future__ import annotations

import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
import zarr
from _reliability_helpers import volume
from sample_files import IMAGE, level_dir, shard_files

import visor_xarray as vx
from visor_xarray.backend.array import VisorBackendArray
from visor_xarray.errors import CorruptDataError
from visor_xarray.validate import validate
from visor_xarray.zarr_io import (
    as_safe,
    default_compressor,
    open_level_array,
    read_outer,
    shard_file,
)


def _flip(offset: int) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        position = offset % len(data)
        return data[:position] + bytes([data[position] ^ 0xFF]) + data[position + 1 :]

    return edit


FAULTS: dict[str, Callable[[bytes], bytes]] = {
    "truncated-half": lambda b: b[: len(b) // 2],
    "truncated-1-byte": lambda b: b[:-1],
    "empty-file": lambda b: b"",
    "appended-junk": lambda b: b + b"\x00junk",
    "flipped-index-byte": _flip(-12),
    "flipped-checksum-byte": _flip(-2),
    "flipped-chunk-header": _flip(10),
    "garbage": lambda b: bytes(np.random.default_rng(0).integers(0, 256, len(b), dtype=np.uint8)),
}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from visor_xarray.testing import make_sample

    return make_sample(tmp_path_factory.mktemp("corrupt") / "C.vsr")


@pytest.fixture
def sample(pristine: Path, tmp_path: Path) -> Path:
    target = tmp_path / "C.vsr"
    shutil.copytree(pristine, target)
    return target


def corrupt(sample: Path, fault: str, index: int = 5) -> Path:
    file = shard_files(level_dir(sample))[index]
    file.write_bytes(FAULTS[fault](file.read_bytes()))
    return file


@pytest.mark.parametrize("fault", FAULTS)
def test_xarray_engine_names_the_shard(sample: Path, fault: str) -> None:
    bad = corrupt(sample, fault)
    with xr.open_dataset(sample, engine="visor", name=IMAGE) as ds:
        with pytest.raises(CorruptDataError) as caught:
            _ = ds["image"].values
    assert caught.value.path == bad
    assert caught.value.files == [bad]  # type: ignore[attr-defined]
    assert str(bad.relative_to(level_dir(sample))) in str(caught.value)
    assert isinstance(caught.value, OSError)
    assert caught.value.__cause__ is not None  # zarrs' own error stays attached


@pytest.mark.parametrize("fault", ["truncated-half", "flipped-chunk-header"])
def test_dask_backed_reads_name_the_shard(sample: Path, fault: str) -> None:
    bad = corrupt(sample, fault)
    with xr.open_dataset(sample, engine="visor", name=IMAGE, chunks={}) as ds:
        with dask.config.set(scheduler="threads"), pytest.raises(CorruptDataError) as caught:
            ds["image"].mean().compute()
    assert caught.value.path == bad


def test_visor_compute_names_the_shard_and_leaves_the_object_lazy(sample: Path) -> None:
    bad = corrupt(sample, "truncated-half")
    with xr.open_dataset(sample, engine="visor", name=IMAGE, chunks={}) as ds:
        with dask.config.set(scheduler="threads"), pytest.raises(CorruptDataError) as caught:
            ds.visor.compute()
        assert isinstance(ds["image"].data, da.Array)
    assert caught.value.path == bad


def test_reads_that_miss_the_bad_shard_still_work(sample: Path) -> None:
    expected = xr.open_dataset(sample, engine="visor", name=IMAGE)["image"].values
    bad = corrupt(sample, "truncated-half")
    coords = tuple(int(p) for p in bad.relative_to(level_dir(sample) / "c").parts)
    with xr.open_dataset(sample, engine="visor", name=IMAGE) as ds:
        other_stack = (coords[0] + 1) % ds.sizes["vs"]
        values = ds["image"].isel(vs=other_stack).values
    np.testing.assert_array_equal(values, expected[other_stack])


@pytest.mark.parametrize(
    "key",
    [
        (slice(None),) * 5,
        (1, slice(None), slice(2, 19), slice(None), slice(None)),
        (np.array([0, 1, 2]), 0, slice(None, None, 3), np.array([1, 5, 20]), slice(None)),
        (slice(None), slice(None), np.array([0, 19]), slice(None), slice(None)),
    ],
    ids=["all", "contiguous", "strided-and-arrays", "sparse"],
)
def test_read_outer_names_the_shard(sample: Path, key: tuple[object, ...]) -> None:
    bad = shard_files(level_dir(sample))
    for file in bad:  # every shard: whatever the selection touches is corrupt
        file.write_bytes(file.read_bytes()[:-3])
    array = vx.Image(sample, name=IMAGE).open(0)
    with pytest.raises(CorruptDataError) as caught:
        read_outer(array, key)
    assert set(caught.value.files) <= set(bad)  # type: ignore[attr-defined]
    assert caught.value.path in bad
    # also through a plain zarr array (not opened by the library) and the backend array
    plain = zarr.open_array(level_dir(sample), mode="r")
    with pytest.raises(CorruptDataError):
        read_outer(plain, key)
    with pytest.raises(CorruptDataError):
        VisorBackendArray(array)._getitem(key)


def test_image_open_arrays_name_the_shard(sample: Path) -> None:
    bad = corrupt(sample, "flipped-index-byte")
    coords = tuple(int(p) for p in bad.relative_to(level_dir(sample) / "c").parts)
    for mode in ("r", "r+"):
        array = vx.Image(sample, name=IMAGE, mode=mode).open(0)
        region = tuple(slice(c * s, c * s + 1) for c, s in zip(coords, array.shards, strict=True))
        for read in (
            lambda a=array, r=region: a[r],
            lambda a=array, r=region: a.oindex[r],
            lambda a=array, r=region: a.get_basic_selection(r),
            lambda a=array: a.blocks[coords],
        ):
            with pytest.raises(CorruptDataError) as caught:
                read()
            assert caught.value.path == bad
        assert shard_file(array, coords) == bad


def test_default_pipeline_errors_are_mapped_too(sample: Path) -> None:
    bad = corrupt(sample, "flipped-checksum-byte")
    array = open_level_array(level_dir(sample), writable=False, pipeline="default")
    assert vx.pipeline_name(array).endswith("BatchedCodecPipeline")
    with pytest.raises(CorruptDataError) as caught:
        array[...]
    assert caught.value.path == bad


def test_partial_write_into_a_corrupt_shard_is_refused_and_leaves_it(sample: Path) -> None:
    bad = corrupt(sample, "truncated-half")
    before = bad.read_bytes()
    coords = tuple(int(p) for p in bad.relative_to(level_dir(sample) / "c").parts)
    array = vx.Image(sample, name=IMAGE, mode="r+").open(0)
    corner = tuple(slice(c * s, c * s + 1) for c, s in zip(coords, array.shards, strict=True))
    with pytest.raises(CorruptDataError) as caught:
        array[corner] = 7
    assert caught.value.path == bad
    assert bad.read_bytes() == before
    # a write covering the whole shard replaces it: the repair path
    whole = tuple(
        slice(c * s, min((c + 1) * s, n))
        for c, s, n in zip(coords, array.shards, array.shape, strict=True)
    )
    array[whole] = 9
    assert (np.asarray(array[whole]) == 9).all()


def test_validate_deep_lists_every_bad_shard(sample: Path) -> None:
    files = shard_files(level_dir(sample))
    hits = {"truncated-half": files[1], "flipped-chunk-header": files[4], "garbage": files[9]}
    for fault, file in hits.items():
        file.write_bytes(FAULTS[fault](file.read_bytes()))
    assert validate(sample) == []  # shallow: metadata only
    problems = validate(sample, deep=True)
    assert sorted(p.file for p in problems) == sorted(hits.values())
    assert all(p.severity == "error" and "corrupt shard" in p.message for p in problems)


def test_checksums_can_be_turned_off(sample: Path) -> None:
    bad = corrupt(sample, "flipped-checksum-byte")
    with vx.set_options(validate_checksums=False):
        array = vx.Image(sample, name=IMAGE).open(0)
    array[...]  # the index itself is intact: only its checksum differs
    with pytest.raises(CorruptDataError):
        vx.Image(sample, name=IMAGE).open(0)[...]
    # the setting travels with the array through pickling (e.g. to dask workers)
    assert (
        pickle.loads(pickle.dumps(array)).pipeline_settings["codec_pipeline.validate_checksums"]
        is False
    )
    del bad


def test_per_chunk_crc32c_detects_a_mid_chunk_bit_flip(tmp_path: Path) -> None:
    """blosc does not checksum its payload: a flipped bit inside a chunk of noisy data
    decodes to wrong values silently. A crc32c codec per inner chunk catches it."""
    data = volume((1, 1, 16, 32, 32), seed=3)
    results = {}
    for label, compressors in {
        "blosc": None,
        "blosc+crc32c": [default_compressor(), zarr.codecs.Crc32cCodec()],
    }.items():
        sample = tmp_path / f"{label}.vsr"
        data.visor.to_vsr(
            sample,
            image_type="raw",
            name="img",
            shard_shape=(1, 1, 16, 32, 32),
            chunk_shape=(1, 1, 16, 32, 32),
            compressors=compressors,
        )
        (file,) = shard_files(level_dir(sample, "img"))
        raw = file.read_bytes()
        file.write_bytes(_flip(len(raw) // 2)(raw))
        try:
            values = xr.open_dataset(sample, engine="visor", name="img")["image"].values
            results[label] = "garbage" if not np.array_equal(values, data.values) else "intact"
        except CorruptDataError:
            results[label] = "detected"
    assert results == {"blosc": "garbage", "blosc+crc32c": "detected"}


def test_as_safe_wraps_foreign_arrays(sample: Path) -> None:
    plain = zarr.open_array(level_dir(sample), mode="r")
    safe = as_safe(plain)
    assert safe.async_array.codec_pipeline is plain.async_array.codec_pipeline
    np.testing.assert_array_equal(safe[...], plain[...])
    assert as_safe(safe) is safe
