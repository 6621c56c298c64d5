"""Many readers at once, writers of different images at once, one writer per image.

- 16 threads share one Dataset (and open their own) and read random selections;
  2 processes read the same sample at once: every result equals the reference.
- Writers of different images of one sample, as threads and as processes, at the same
  time: every write completes and ``selected.json`` lists every image. (Its
  read-modify-write is serialised by the sample lock; without it entries are lost.)
- A second writer of an image that is being written is refused with
  ``WriteInProgressError`` (thread or process), and the first write is unharmed.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from _reliability_helpers import read_image, volume
from sample_files import IMAGE

from visor_xarray.store import VsrStore
from visor_xarray.testing import make_sample
from visor_xarray.validate import validate
from visor_xarray.zarr_io import WriteInProgressError, sample_lock

HELPERS = str(Path(__file__).resolve().parent)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample(tmp_path_factory.mktemp("concurrency") / "R.vsr", shape=(24, 40, 48))


def selections(seed: int, count: int, shape: tuple[int, ...]) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    out: list[dict[str, object]] = []
    for _ in range(count):
        pick: dict[str, object] = {}
        for dim, size in zip(("vs", "ch", "z", "y", "x"), shape, strict=True):
            kind = rng.integers(0, 4)
            if kind == 0:
                pick[dim] = int(rng.integers(0, size))
            elif kind == 1:
                start = int(rng.integers(0, size))
                pick[dim] = slice(start, int(rng.integers(start + 1, size + 1)))
            elif kind == 2:
                pick[dim] = slice(int(rng.integers(0, size)), None, int(rng.integers(2, 5)))
            else:
                pick[dim] = np.sort(rng.choice(size, size=min(size, 3), replace=False))
        out.append(pick)
    return out


def test_many_threads_read_one_sample(shared: Path) -> None:
    reference = read_image(shared, IMAGE)
    dataset = xr.open_dataset(shared, engine="visor", name=IMAGE)
    picks = selections(0, 192, reference.shape)

    def work(worker: int) -> int:
        own = (
            xr.open_dataset(shared, engine="visor", name=IMAGE, chunks={}) if worker % 2 else None
        )
        for pick in picks[worker::16]:
            source = dataset if own is None else own
            got = source["image"].isel(pick).values  # type: ignore[arg-type]
            expected = xr.DataArray(reference, dims=source["image"].dims).isel(pick).values  # type: ignore[arg-type]
            np.testing.assert_array_equal(got, expected)
        return worker

    with concurrent.futures.ThreadPoolExecutor(16) as pool, dask.config.set(scheduler="threads"):
        assert sorted(pool.map(work, range(16))) == list(range(16))


READER = textwrap.dedent(
    """
    import sys, hashlib
    sys.path[:0] = [sys.argv[1], sys.argv[1].rsplit("/", 1)[0]]  # tests/reliability, tests
    import numpy as np, xarray as xr
    from test_concurrency import selections
    sample, seed = sys.argv[2], int(sys.argv[3])
    ds = xr.open_dataset(sample, engine="visor", name="slice_1_10x", chunks={})
    digest = hashlib.sha256()
    for pick in selections(seed, 30, ds["image"].shape):
        digest.update(np.ascontiguousarray(ds["image"].isel(pick).values).tobytes())
    print(digest.hexdigest())
    """
)


def test_several_processes_read_one_sample(shared: Path) -> None:
    import hashlib

    reference = xr.DataArray(read_image(shared, IMAGE), dims=("vs", "ch", "z", "y", "x"))
    expected = []
    for seed in range(2):
        digest = hashlib.sha256()
        for pick in selections(seed, 30, reference.shape):
            digest.update(np.ascontiguousarray(reference.isel(pick).values).tobytes())  # type: ignore[arg-type]
        expected.append(digest.hexdigest())
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", READER, HELPERS, str(shared), str(seed)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in range(2)
    ]
    results = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [r[1] for r in results]
    assert [r[0].strip() for r in results] == expected


WRITER = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [sys.argv[1], sys.argv[1].rsplit("/", 1)[0]]  # tests/reliability, tests
    import dask
    import visor_xarray
    from _reliability_helpers import volume
    sample, prefix, count = sys.argv[2], sys.argv[3], int(sys.argv[4])
    with dask.config.set(scheduler="synchronous"):
        for i in range(count):
            volume((1, 1, 4, 8, 8), seed=i).visor.to_vsr(
                sample, image_type="raw", name=f"{prefix}_{i}"
            )
    print("ok")
    """
)


def test_writers_of_different_images_in_several_processes(tmp_path: Path) -> None:
    sample = make_sample(tmp_path / "W.vsr", shape=(4, 8, 8), levels=1)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, HELPERS, str(sample), f"p{n}", "4"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    results = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0] * 3, [r[1] for r in results]
    expected = {IMAGE} | {f"p{n}_{i}" for n in range(3) for i in range(4)}
    assert set(VsrStore(sample).selection().names()) == expected
    assert validate(sample) == []
    for n in range(3):
        np.testing.assert_array_equal(
            read_image(sample, f"p{n}_3"), volume((1, 1, 4, 8, 8), seed=3).values
        )


def test_writers_of_different_images_in_threads(tmp_path: Path) -> None:
    sample = make_sample(tmp_path / "T.vsr", shape=(4, 8, 8), levels=1)
    barrier = threading.Barrier(8)

    def work(n: int) -> None:
        barrier.wait()
        for i in range(4):
            volume((1, 1, 4, 8, 8), seed=n).visor.to_vsr(
                sample, image_type="raw", name=f"t{n}_{i}"
            )

    with (
        dask.config.set(scheduler="synchronous"),
        concurrent.futures.ThreadPoolExecutor(8) as pool,
    ):
        list(pool.map(work, range(8)))
    expected = {IMAGE} | {f"t{n}_{i}" for n in range(8) for i in range(4)}
    assert set(VsrStore(sample).selection().names()) == expected
    assert validate(sample) == []


def slow(
    shape: tuple[int, ...], started: threading.Event | None = None, pause: float = 0.3
) -> xr.DataArray:
    base = volume(shape, seed=1)

    def block(values: np.ndarray) -> np.ndarray:
        if values.size:  # not dask's meta inference
            if started is not None:
                started.set()
            time.sleep(pause)
        return values

    return base.copy(
        data=da.from_array(base.values, chunks=(1, 1, 4, 16, 16)).map_blocks(
            block, dtype=base.dtype
        )
    )


def test_second_writer_of_one_image_is_refused_thread(tmp_path: Path) -> None:
    sample = make_sample(tmp_path / "S.vsr", shape=(4, 8, 8), levels=1)
    started = threading.Event()
    first = slow((1, 1, 8, 32, 32), started)
    with dask.config.set(scheduler="threads"), concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = pool.submit(
            first.visor.to_vsr,
            sample,
            image_type="raw",
            name="busy",
            shard_shape=(1, 1, 4, 16, 16),
            chunk_shape=(1, 1, 4, 16, 16),
        )
        assert started.wait(30)
        with pytest.raises(WriteInProgressError, match="another write is in progress"):
            volume((1, 1, 8, 32, 32)).visor.to_vsr(sample, image_type="raw", name="busy", mode="w")
        running.result(timeout=120)
    np.testing.assert_array_equal(read_image(sample, "busy"), first.values)
    assert validate(sample) == []


SLOW_WRITER = textwrap.dedent(
    """
    import sys, time
    sys.path[:0] = [sys.argv[1], sys.argv[1].rsplit("/", 1)[0]]  # tests/reliability, tests
    import dask, dask.array as da
    import visor_xarray
    from _reliability_helpers import volume
    base = volume((1, 1, 8, 32, 32), seed=1)
    def block(values):
        if values.size:  # not dask's meta inference
            print("STARTED", flush=True)
            time.sleep(0.4)
        return values
    slow = base.copy(data=da.from_array(base.values, chunks=(1, 1, 4, 16, 16)).map_blocks(
        block, dtype=base.dtype))
    with dask.config.set(scheduler="threads", num_workers=1):
        slow.visor.to_vsr(sys.argv[2], image_type="raw", name="busy",
                          shard_shape=(1, 1, 4, 16, 16), chunk_shape=(1, 1, 4, 16, 16))
    print("DONE", flush=True)
    """
)


def test_second_writer_of_one_image_is_refused_process(tmp_path: Path) -> None:
    sample = make_sample(tmp_path / "P.vsr", shape=(4, 8, 8), levels=1)
    first = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITER, HELPERS, str(sample)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert first.stdout is not None
    assert first.stdout.readline().startswith("STARTED")
    with pytest.raises(WriteInProgressError, match=f"pid {first.pid}"):
        volume((1, 1, 8, 32, 32)).visor.to_vsr(sample, image_type="raw", name="busy", mode="w")
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    np.testing.assert_array_equal(
        read_image(sample, "busy"), volume((1, 1, 8, 32, 32), seed=1).values
    )
    assert validate(sample) == []


def test_sample_lock_is_exclusive_and_reentrant(tmp_path: Path) -> None:
    sample = make_sample(tmp_path / "L.vsr", shape=(4, 8, 8), levels=1)
    order: list[str] = []
    with sample_lock(sample):
        with sample_lock(sample):  # re-entrant in one thread
            order.append("outer")
        other = threading.Thread(
            target=lambda: (sample_lock(sample).__enter__(), order.append("other"))
        )
        other.start()
        other.join(0.3)
        assert order == ["outer"]  # the other thread waits
        order.append("release")
    other.join(10)
    assert order == ["outer", "release", "other"]
    # and across processes
    script = (
        "import sys, time; from visor_xarray.zarr_io import sample_lock\n"
        "with sample_lock(sys.argv[1]):\n    print('got', flush=True)\n"
    )
    with sample_lock(sample):
        child = subprocess.Popen(
            [sys.executable, "-c", script, str(sample)], stdout=subprocess.PIPE, text=True
        )
        time.sleep(1.0)
        assert child.poll() is None  # blocked on the lock
    assert child.communicate(timeout=60)[0].strip() == "got"


def test_multiprocessing_pool_reads(shared: Path) -> None:
    """Arrays and Datasets pickle into worker processes (spawn) and read the same values."""
    dataset = xr.open_dataset(shared, engine="visor", name=IMAGE, chunks={})
    pieces = [dataset["image"].isel(vs=i) for i in range(dataset.sizes["vs"])]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        sums = pool.map(_total, pieces)
    assert sums == [int(p.values.astype(np.int64).sum()) for p in pieces]


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_process_pool_as_dask_pool_reads(shared: Path, method: str) -> None:
    """dask's threaded scheduler running its tasks on a (non-forking) process pool."""
    image = xr.open_dataset(shared, engine="visor", name=IMAGE, chunks={})["image"]
    expected = image.compute(scheduler="synchronous")
    context = multiprocessing.get_context(method)
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        xr.testing.assert_identical(image.compute(pool=pool), expected)
        xr.testing.assert_identical(image.visor.compute(pool=pool), expected)


def _total(piece: xr.DataArray) -> int:
    with dask.config.set(scheduler="synchronous"):
        return int(piece.values.astype(np.int64).sum())


def test_integer_indices_with_slices_crossing_shards(shared: Path) -> None:
    """zarrs 0.2.3 raises "incompatible offset" for e.g. ``a[1, 0, 12:17, 8, 34]`` (integer
    indices plus a slice across a shard boundary); the library's arrays read it."""
    import zarr

    import visor_xarray as vx

    reference = np.asarray(
        zarr.open_array(shared / "visor_raw_images" / f"{IMAGE}.zarr" / "0", mode="r")[...]
    )
    array = vx.Image(shared, name=IMAGE).open(0)
    for selection in [
        (1, 0, slice(12, 17), 8, 34),
        (1, slice(1, 2), slice(12, 17), 8),
        (-1, 0, 9, slice(14, 18), -3),
        (2, 1, 20, 39, 47),
        (0,),
    ]:
        np.testing.assert_array_equal(array[selection], reference[selection])
        assert np.shape(array[selection]) == np.shape(reference[selection])
    dataset = xr.open_dataset(shared, engine="visor", name=IMAGE)
    np.testing.assert_array_equal(
        dataset["image"].isel(vs=1, ch=0, z=slice(12, 17), y=8, x=34).values,
        reference[1, 0, 12:17, 8, 34],
    )
