"""open -> select -> (resample ->) to_vsr on a dask.distributed cluster of worker *processes*.

The module-scoped ``client`` fixture (tests/conftest.py: 2 worker processes, 1 thread each) is
reused: add cluster tests below. Everything sent to the workers must pickle: the backend
array, the level arrays (read-only and writable), the resampling blocks and the write
targets; an array is rebuilt on a worker under the pipeline settings it was opened with
(``zarrs_threads``, ``validate_checksums``), not the worker's defaults, and so is the
array ``resample`` re-reads from the file (``level="auto"``).
"""

from __future__ import annotations

import io
import pickle
import shutil
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from _reliability_helpers import read_image
from sample_files import IMAGE, level_dir, shard_files

import visor_xarray as vx
from visor_xarray.backend.array import VisorBackendArray
from visor_xarray.errors import CorruptDataError
from visor_xarray.store import LevelSource
from visor_xarray.testing import make_sample
from visor_xarray.transforms import deskew
from visor_xarray.validate import validate
from visor_xarray.zarr_io import SafeAsyncArray

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample(tmp_path_factory.mktemp("distributed") / "D.vsr", shape=(24, 40, 48))


def test_backend_and_level_arrays_pickle(sample: Path) -> None:
    with vx.set_options(zarrs_threads=1, validate_checksums=False):
        array = vx.Image(sample, name=IMAGE).open(0)
        writable = vx.Image(sample, name=IMAGE, mode="r+").open(0)
    for original in (array, writable, VisorBackendArray(array)):
        copy = pickle.loads(pickle.dumps(original))
        assert type(copy) is type(original)
    copy = pickle.loads(pickle.dumps(array))
    assert copy.pipeline_settings == {
        "codec_pipeline.path": "zarrs.ZarrsCodecPipeline",
        "codec_pipeline.validate_checksums": False,
        "threading.max_workers": 1,
        "codec_pipeline.chunk_concurrent_maximum": 1,
    }
    assert vx.pipeline_name(copy) == "zarrs.ZarrsCodecPipeline"
    np.testing.assert_array_equal(copy[...], array[...])
    with pytest.raises(vx.ReadOnlyError):
        copy[0, 0, 0, 0, 0] = 1


def test_open_select_write_on_the_cluster(
    client: distributed.Client, sample: Path, tmp_path: Path
) -> None:
    out = tmp_path / "OUT.vsr"
    with vx.set_options(zarrs_threads=1):
        ds = xr.open_dataset(sample, engine="visor", name=IMAGE, chunks={})
        picked = ds["image"].sel(vs=["stack_3"], ch=["488"]).isel(z=slice(2, 22))
        expected = picked.values  # computed on the cluster (the client is the default)
        with distributed.get_task_stream(client) as stream:
            report = picked.visor.to_vsr(
                out,
                image_type="raw",
                name="picked",
                levels=2,
                shard_shape=(1, 1, 8, 16, 16),
                chunk_shape=(1, 1, 8, 8, 8),
            )
    ran = {task["worker"] for task in stream.data if "write-shards-" in str(task["key"])}
    assert ran  # the shard writes ran on the worker processes
    assert len(report.levels) == 2
    got = read_image(out, "picked")
    np.testing.assert_array_equal(got, expected)
    assert validate(out, deep=True) == []
    # the workers (other pids) committed the shards: no scratch directories are left
    assert not list(out.rglob(".*partial*"))


def test_visor_compute_on_the_cluster_falls_back_to_compute(
    client: distributed.Client, sample: Path
) -> None:
    """Workers do not share this process's memory: a preallocated result would stay empty."""
    ds = xr.open_dataset(sample, engine="visor", name=IMAGE, chunks={})
    picked = ds["image"].isel(vs=[2, 0], z=slice(3, 20))
    with distributed.get_task_stream(client) as stream:
        result = picked.visor.compute()
    assert {task["worker"] for task in stream.data}  # it ran on the workers
    expected = picked.compute(scheduler="synchronous")
    xr.testing.assert_identical(result, expected)


def test_pipeline_settings_travel_to_workers(
    client: distributed.Client, sample: Path, tmp_path: Path
) -> None:
    """Arrays opened with checksums off read a shard with a bad checksum on the workers:
    the workers use the array's settings, not their own defaults (checksums on)."""
    copy = tmp_path / "D.vsr"
    shutil.copytree(sample, copy)
    file = shard_files(level_dir(copy))[0]
    raw = file.read_bytes()
    file.write_bytes(raw[:-1] + bytes([raw[-1] ^ 0xFF]))  # the index checksum only
    with vx.set_options(validate_checksums=False, zarrs_threads=1):
        relaxed = xr.open_dataset(copy, engine="visor", name=IMAGE, chunks={})
    strict = xr.open_dataset(copy, engine="visor", name=IMAGE, chunks={})
    np.testing.assert_array_equal(relaxed["image"].values, read_image(sample, IMAGE))
    with pytest.raises(CorruptDataError) as caught:
        _ = strict["image"].values
    assert caught.value.path == file

    def settings_on_worker(array: vx.zarr_io.SafeArray) -> dict[str, object]:
        return array.pipeline_settings

    with vx.set_options(zarrs_threads=1):
        array = vx.Image(copy, name=IMAGE).open(0)
    on_workers = client.submit(settings_on_worker, array, pure=False).result()
    assert on_workers["threading.max_workers"] == 1
    # a worker-wide default for arrays opened *on* the workers
    client.run(vx.set_options, zarrs_threads=1)
    assert set(client.run(lambda: vx.get_options()["zarrs_threads"]).values()) == {1}
    client.run(vx.set_options, zarrs_threads=None)


# ------------------------------------------------------------------ resampling on the cluster

#: Raw voxel size of the synthetic sample (10x: z 3.5 µm, y/x 1.03 µm) and its raw shape.
SPACING = (3.5, 1.03, 1.03)
RAW_SHAPE = (24, 40, 48)
#: The stack and channel resampled, by label (stack_3 is index 1 on the ``vs`` axis).
STACK, CHANNEL = "stack_3", "488"
#: Output blocks of the resampling: small, so that the ortho volume is dozens of tasks.
BLOCK = (16, 16, 16)


@pytest.fixture(scope="module")
def deskew_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """make_sample's raw image (3 stacks x 2 channels, 24x40x48 uint16, 0.55 MB raw) with
    transform version v1: the 45-degree raw -> ortho deskew of every stack/channel."""
    path = make_sample(tmp_path_factory.mktemp("deskew") / "R.vsr", shape=RAW_SHAPE)
    saver = vx.Transform(path, version="v1", name=IMAGE)
    for stack in range(3):
        for channel in range(2):
            saver.save(deskew(45, SPACING, RAW_SHAPE[1]), stack=stack, channel=channel)
    return path


class _ArrayRecorder(pickle.Pickler):
    """Pickles like the workers' transport does, noting the settings of every level array
    and of every level source (what the engine opened, read by resampling tasks)."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), protocol=pickle.HIGHEST_PROTOCOL)
        self.settings: list[dict[str, Any]] = []

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, SafeAsyncArray):
            self.settings.append(obj.pipeline_settings)
        elif isinstance(obj, LevelSource):
            self.settings.append(dict(obj.settings))
        return NotImplemented  # pickle it the ordinary way


def _pickled_array_settings(array: da.Array) -> list[dict[str, Any]]:
    """Pipeline settings of the level arrays a dask graph carries (plain pickle: no
    lambdas or local objects may hide in it, as the workers must unpickle every task)."""
    recorder = _ArrayRecorder()
    recorder.dump(dict(array.__dask_graph__()))
    return recorder.settings


def _open_ortho(sample: Path, level: str | None) -> xr.DataArray:
    """open -> select by label -> resample raw -> ortho (lazy), zarrs capped at 1 thread."""
    with vx.set_options(zarrs_threads=1):
        ds = xr.open_dataset(sample, engine="visor", name=IMAGE, chunks={})
    picked = ds["image"].sel(vs=STACK, ch=CHANNEL)
    # outside the set_options block on purpose: the arrays read keep the opener's cap
    ortho: xr.DataArray = picked.visor.resample(
        to_space="ortho", version="v1", chunks=BLOCK, level=level
    )
    return ortho


def test_stored_transform_pickles(deskew_sample: Path) -> None:
    """A stored transform can be shipped to workers (e.g. in a user's own tasks)."""
    stored = vx.Transform(deskew_sample, version="v1", name=IMAGE)
    copy = pickle.loads(pickle.dumps(stored))
    want = stored.chain("raw", "ortho", stack=STACK, channel=CHANNEL)
    got = copy.chain("raw", "ortho", stack=STACK, channel=CHANNEL)
    np.testing.assert_array_equal(got.homogeneous, want.homogeneous)
    np.testing.assert_array_equal(want.matrix, deskew(45, SPACING, RAW_SHAPE[1]).matrix)


def _read_recon(sample: Path, name: str) -> xr.DataArray:
    with xr.open_dataset(sample, engine="visor", image_type="recon", name=name) as ds:
        return ds["image"].load()


@pytest.mark.parametrize(
    "level",
    [
        pytest.param("auto", id="reads-file"),  # blocks read their footprints from the file
        pytest.param(None, id="reads-dask"),  # blocks gather the opened array's dask chunks
    ],
)
def test_open_select_resample_write_on_the_cluster(
    client: distributed.Client, deskew_sample: Path, tmp_path: Path, level: str | None
) -> None:
    ortho = _open_ortho(deskew_sample, level)
    assert isinstance(ortho.data, da.Array)  # lazy: nothing was read or computed yet
    assert ortho.data.npartitions >= 8
    assert ortho.attrs["source_resolution_level"] == "0"
    assert ortho.sizes["z"] > RAW_SHAPE[0]  # the deskew spreads 24 frames over ~140 planes

    # the graph pickles, and every level array in it carries the cap it was opened with
    settings = _pickled_array_settings(ortho.data)
    assert settings
    assert [s.get("threading.max_workers") for s in settings] == [1] * len(settings)

    with distributed.get_task_stream(client) as local_stream, dask.config.set(scheduler="sync"):
        expected = ortho.values
    assert local_stream.data == []  # the reference really was computed in this process
    assert expected.dtype == np.uint16
    assert expected.any()

    out = tmp_path / "ORTHO.vsr"
    with distributed.get_task_stream(client) as stream:
        report = ortho.expand_dims("ch").visor.to_vsr(
            out,
            image_type="recon",
            name="ortho_v1",
            levels=2,
            shard_shape=(1, 32, 32, 32),
            chunk_shape=(1, 16, 16, 16),
        )
    workers = set(client.scheduler_info()["workers"])
    # output blocks only (tuple keys; dask may fuse the block with expand_dims' getitem
    # into "resample-getitem-*"), not the "resample-source-*" reader the blocks share
    resampled = [
        task
        for task in stream.data
        if isinstance(task["key"], tuple) and str(task["key"][0]).startswith("resample-")
    ]
    # every output block was interpolated on a worker process, once (the local scheduler
    # reports nothing to the task stream), and the shard writes ran there too
    assert sorted(task["key"][-3:] for task in resampled) == sorted(
        np.ndindex(*ortho.data.numblocks)
    )
    assert {task["worker"] for task in resampled} <= workers
    assert {task["worker"] for task in stream.data if "write-shards-" in str(task["key"])}
    assert len(report.levels) == 2

    got = _read_recon(out, "ortho_v1")
    assert got.dims == ("ch", "z", "y", "x")
    np.testing.assert_array_equal(got.values[0], expected)
    np.testing.assert_allclose(got.coords["z"].values, ortho.coords["z"].values, rtol=1e-12)
    # the recon image names its source and transform version, which live in the source
    # sample, not in this one: the only findings, and warnings
    problems = validate(out, deep=True)
    assert {(p.field, p.severity) for p in problems} == {
        ("attributes.visor.transform_version", "warning"),
        ("attributes.visor.sources[0].path", "warning"),
    }
    assert not list(out.rglob(".*partial*"))


def test_resample_reads_keep_the_opened_settings_on_the_cluster(
    client: distributed.Client, deskew_sample: Path, tmp_path: Path
) -> None:
    """``level="auto"`` re-opens the image to read it; the re-opened arrays take the
    settings of the arrays the user opened (checksums off here), not the options in force
    when ``resample`` is called nor the workers' defaults (checksums on)."""
    with dask.config.set(scheduler="sync"):
        expected = _open_ortho(deskew_sample, "auto").values
    copy = tmp_path / "R.vsr"
    shutil.copytree(deskew_sample, copy)
    with xr.open_dataset(copy, engine="visor", name=IMAGE) as ds:
        stack = list(ds.coords["vs"].values).index(STACK)
        channel = list(ds.coords["ch"].values).index(CHANNEL)
    file = level_dir(copy) / "c" / str(stack) / str(channel) / "0" / "0" / "0"
    assert file in shard_files(level_dir(copy))
    raw = file.read_bytes()
    file.write_bytes(raw[:-1] + bytes([raw[-1] ^ 0xFF]))  # the index checksum only

    with vx.set_options(validate_checksums=False, zarrs_threads=1):
        relaxed = xr.open_dataset(copy, engine="visor", name=IMAGE, chunks={})
    strict = xr.open_dataset(copy, engine="visor", name=IMAGE, chunks={})
    # resample under the default options (checksums on, no thread cap)
    ortho = (
        relaxed["image"]
        .sel(vs=STACK, ch=CHANNEL)
        .visor.resample(to_space="ortho", version="v1", chunks=BLOCK)
    )
    settings = _pickled_array_settings(ortho.data)
    assert settings
    for setting in settings:
        assert setting["codec_pipeline.validate_checksums"] is False
        assert setting.get("threading.max_workers") == 1
    with distributed.get_task_stream(client) as stream:
        got = ortho.values  # on the workers, through the shard with the bad checksum
    assert any("resample-" in str(task["key"]) for task in stream.data)
    np.testing.assert_array_equal(got, expected)

    checked = (
        strict["image"]
        .sel(vs=STACK, ch=CHANNEL)
        .visor.resample(to_space="ortho", version="v1", chunks=BLOCK)
    )
    with pytest.raises(CorruptDataError) as caught:
        _ = checked.values
    assert caught.value.path == file


# ------------------------------------------------------------------ a whole slice on the cluster

#: A tiled slice with pixels: 6 stacks of (256, 128, 512), neighbours overlapping by 10 %.
TILED_STACKS, TILED_RAW = 6, (256, 128, 512)
TILED_SHIFT = 0.9 * TILED_RAW[2] * SPACING[2]


def _reset_peak() -> int:
    """Reset this process's peak-RSS mark; return its RSS (bytes)."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_bytes("VmRSS")


def _status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"{field} not in /proc/self/status")


def _peak() -> int:
    return _status_bytes("VmHWM")


@pytest.fixture(scope="module")
def tiled_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    labels = tuple(f"stack_{i + 1}" for i in range(TILED_STACKS))
    path = make_sample(
        tmp_path_factory.mktemp("tiled") / "T.vsr",
        stacks=labels,
        channels=("488",),
        shape=TILED_RAW,
        chunk=(64, 64, 64),
        shard=(128, 128, 512),
        levels=1,
    )
    saver = vx.Transform(path, version="v1", name=IMAGE)
    skew = deskew(45, SPACING, TILED_RAW[1])
    for stack in range(TILED_STACKS):
        place = vx.transforms.Affine(np.eye(3), [0.0, 0.0, TILED_SHIFT * stack]) @ skew
        saver.save(place, name="raw_to_ortho", stack=stack, channel=0)
    return path


def test_whole_slice_stitch_and_pyramid_on_the_cluster(
    client: distributed.Client, tiled_slice: Path
) -> None:
    """raw -> stitch -> to_vsr(levels=3) on 2 worker processes: each worker's memory grows
    by the blocks and shards it has in flight, not by the slice; values equal the result
    computed on one machine."""
    with vx.set_options(zarrs_threads=1):
        image = xr.open_dataset(tiled_slice, engine="visor", name=IMAGE, chunks={})["image"]
    mosaic = image.visor.stitch(to_space="ortho", version="v1")
    slice_bytes = mosaic.nbytes
    block_bytes = int(np.prod([c[0] for c in mosaic.chunks])) * mosaic.dtype.itemsize
    assert slice_bytes > 100 * block_bytes  # many blocks: memory bounded by blocks shows

    out = tiled_slice  # the recon goes beside its raw image: its provenance resolves
    baseline = client.run(_reset_peak)
    with distributed.get_task_stream(client) as stream:
        report = mosaic.visor.to_vsr(out, image_type="recon", name="stitched", levels=3)
    growth = {worker: peak - baseline[worker] for worker, peak in client.run(_peak).items()}
    assert {task["worker"] for task in stream.data if "stitch-" in str(task["key"])} == set(
        baseline
    )  # both workers stitched
    # A worker (1 thread) holds one stitch task (its block, footprints and float64 blend
    # temporaries: up to four block-sized float64 arrays, 16 blocks of uint16) and one
    # write task (the report's prediction per task: its block, padded chunks and their
    # encoding); never the slice.
    bound = report.predicted_peak_bytes // report.workers + 24 * block_bytes
    assert max(growth.values()) < bound, (growth, bound)
    assert bound < slice_bytes / 2

    with dask.config.set(scheduler="threads"):
        stored = xr.open_dataset(out, engine="visor", image_type="recon", name="stitched")
        got = stored["image"]
        assert got.shape == mosaic.shape
        for z0 in range(0, mosaic.sizes["z"], 256):  # a slab at a time: bounded test memory
            part = {"z": slice(z0, z0 + 256)}
            np.testing.assert_array_equal(got.isel(part).values, mosaic.isel(part).values)
    assert len(report.levels) == 3
    assert validate(out, deep=True) == []
