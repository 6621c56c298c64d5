"""Write DataArrays as ``.vsr`` images: whole shards at a time, bounded memory, pyramids.

Why whole shards: the zarrs pipeline rewrites an entire shard on any partial-shard write
(it decodes the whole shard, updates it and re-encodes it; zarrs-python 0.2.3,
``store_chunk_subset_bytes``). So every write task here owns exactly one shard and hands
zarrs the complete shard: level 0 is streamed from the source rechunked to the shard
grid; each coarser level is computed from the level before it while that level's
shard-sized blocks are in memory (one dask graph for all levels, so level 0 is never read
back; ``add_levels`` reads the coarsest stored level in shard-footprint pieces); and
region writes that cover part of a shard merge with the stored shard in memory first.
One task never shares a shard with another, so tasks can run in parallel threads or on a
dask.distributed cluster.

Memory: a task holds its decoded shard plus the source block it came from; the peak of
a write is about ``workers * shard_bytes * PEAK_FACTOR`` (see :func:`predicted_peak`).

Interruptions (docs/reliability.md): every shard is committed atomically (the arrays
from :mod:`visor_xarray.zarr_io` encode a shard in a scratch directory and rename the
finished file onto its key), so a killed write never leaves a truncated shard; and every
write holds the image's in-progress marker (``{image}.zarr/.visor-write.json``) from
before its first byte to after its last, so an interrupted image is detectably
incomplete (``validate`` reports it, readers warn) until it is rewritten, and a second
writer of the same image is refused. ``add_levels`` writes the new levels before it
lists them, so an interrupted run leaves the image as it was.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import dask
import dask.array as da
import numpy as np
import xarray as xr
import zarr
from dask.base import compute
from dask.delayed import delayed

from visor_xarray import layout
from visor_xarray.chunking import shard_shape_for_budget
from visor_xarray.errors import InvalidArrayError, MetadataError, TargetExistsError
from visor_xarray.options import OPTIONS
from visor_xarray.schema import ImageAttrs
from visor_xarray.store import VsrStore
from visor_xarray.write.metadata import CANONICAL_DIMS, image_attrs_from_dataarray
from visor_xarray.write.pyramid import downsample, level_factors
from visor_xarray.zarr_io import (
    WRITE_MARKER,
    default_compressor,
    guard_writes,
    image_write,
    read_write_marker,
    sample_lock,
)

__all__ = ["PEAK_FACTOR", "LevelReport", "WriteReport", "predicted_peak", "write_dataarray"]

#: Bytes held per write task, in units of one decoded shard: the source block, the
#: shard handed to zarrs and zarrs' encoded output (measured in benchmarks/bench_write.py).
PEAK_FACTOR = 6.0
_DEFAULT_INNER = 64


@dataclass(frozen=True)
class LevelReport:
    """One written resolution level.

    Parameters
    ----------
    path : str
        Level path (``"0"``, ``"1"``, ...).
    shape, shard_shape, chunk_shape : tuple of int
        Array, shard and inner chunk shapes.
    """

    path: str
    shape: tuple[int, ...]
    shard_shape: tuple[int, ...]
    chunk_shape: tuple[int, ...]


@dataclass(frozen=True)
class WriteReport:
    """What :func:`write_dataarray` wrote.

    Parameters
    ----------
    path : pathlib.Path
        The sample.
    image_type, name : str
        The image.
    levels : tuple of LevelReport
        The levels written.
    predicted_peak_bytes : int
        The memory the write was planned to stay under (:func:`predicted_peak`).
    seconds : float
        Wall time.
    workers : int
        Write tasks that could run at once.
    notes : tuple of str, optional
        Remarks about the write.
    """

    path: Path
    image_type: str
    name: str
    levels: tuple[LevelReport, ...]
    predicted_peak_bytes: int
    seconds: float
    workers: int
    notes: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        levels = ", ".join(f"{lv.path}: {lv.shape}" for lv in self.levels)
        return (
            f"wrote {self.image_type}/{self.name} to {self.path} in {self.seconds:.2f} s "
            f"({levels}); predicted peak memory {self.predicted_peak_bytes / 2**20:.0f} MiB"
        )


def _workers() -> int:
    configured = dask.config.get("num_workers", None)
    return int(configured) if configured else (os.cpu_count() or 1)


def predicted_peak(shard_shape: Sequence[int], itemsize: int, workers: int) -> int:
    """Predicted peak memory of a write: ``workers * shard_bytes * PEAK_FACTOR``.

    Parameters
    ----------
    shard_shape : sequence of int
    itemsize : int
        Bytes per element.
    workers : int
        Write tasks running at once.

    Returns
    -------
    int
        Bytes.
    """
    return int(workers * math.prod(shard_shape) * itemsize * PEAK_FACTOR)


def _canonical(array: xr.DataArray) -> xr.DataArray:
    order = [d for d in CANONICAL_DIMS if d in array.dims]
    missing = [d for d in array.dims if d not in CANONICAL_DIMS]
    if missing:
        raise MetadataError(
            None, "dims", f"unknown dimensions {missing}; VISoR images use {CANONICAL_DIMS}"
        )
    return array.transpose(*order)


def _inner_chunks(
    dims: Sequence[str], shape: Sequence[int], given: Sequence[int] | None
) -> tuple[int, ...]:
    if given is not None:
        chunks = tuple(int(c) for c in given)
        if len(chunks) != len(dims) or any(c <= 0 for c in chunks):
            raise InvalidArrayError(
                f"chunk_shape {given} must give one positive size per dim {tuple(dims)}"
            )
        return chunks
    return tuple(
        1 if dim in ("vs", "ch") else max(1, min(_DEFAULT_INNER, size))
        for dim, size in zip(dims, shape, strict=True)
    )


def _shards(
    dims: Sequence[str],
    shape: Sequence[int],
    chunks: Sequence[int],
    itemsize: int,
    given: Sequence[int] | None,
    workers: int,
) -> tuple[int, ...]:
    if given is not None:
        shards = tuple(int(s) for s in given)
        if len(shards) != len(dims) or any(s % c for s, c in zip(shards, chunks, strict=True)):
            raise InvalidArrayError(
                f"shard_shape {given} must give one size per dim {tuple(dims)}, each a multiple "
                f"of the inner chunk {tuple(chunks)}"
            )
        return shards
    budget = OPTIONS["write_memory_budget"] / (workers * PEAK_FACTOR)
    return shard_shape_for_budget(chunks, shape, itemsize, int(budget))


def _shard_grid(shape: Sequence[int], shards: Sequence[int]) -> tuple[tuple[int, ...], ...]:
    grid = []
    for size, shard in zip(shape, shards, strict=True):
        pieces = [shard] * (size // shard)
        if size % shard:
            pieces.append(size % shard)
        grid.append(tuple(pieces) or (0,))
    return tuple(grid)


class _NoCopy:
    """A numpy array seen through ``__getitem__`` only.

    ``dask.array.from_array`` copies (and, with a default name, SHA1-hashes) any array
    with a ``.copy`` method: a whole in-memory volume, measured at +1.26 GiB peak for a
    1 GiB write. Hiding ``.copy`` and passing ``name=False`` avoids both.
    """

    def __init__(self, values: np.ndarray) -> None:
        self._values = values
        self.shape = values.shape
        self.dtype = values.dtype
        self.ndim = values.ndim

    def __getitem__(self, key: Any) -> np.ndarray:
        part: np.ndarray = self._values[key]
        return part


def _from_array(values: Any, chunks: Any = "auto") -> da.Array:
    """``dask.array.from_array`` without copying or hashing numpy input (typed)."""
    if isinstance(values, np.ndarray):
        meta = np.empty((0,) * values.ndim, dtype=values.dtype)
        wrapped: da.Array = da.from_array(  # type: ignore[no-untyped-call]
            _NoCopy(values), chunks=chunks, name=False, meta=meta
        )
        return wrapped
    result: da.Array = da.from_array(values, chunks=chunks)  # type: ignore[no-untyped-call]
    return result


def _store_shards(pieces: Sequence[tuple[da.Array, zarr.Array[Any]]]) -> None:
    """Write dask arrays whose chunks are each target's shard grid: one task per shard.

    All pieces go into one graph, so a level computed from the level before it in memory
    (a pyramid) shares that level's blocks instead of reading them back from disk. Each
    target is a :class:`visor_xarray.zarr_io.SafeArray`: a task's shard is encoded in a
    scratch directory and renamed onto its key, so a killed task never truncates a shard.
    """
    sources: list[Any] = []
    targets: list[Any] = []
    for data, target in pieces:
        grid = _shard_grid(data.shape, target.shards or target.chunks)
        sources.append(cast(Any, data).rechunk(grid))
        targets.append(target)
    da.store(sources, targets, lock=False, compute=True)


def _level_shards(
    shard0: Sequence[int], cumulative: Sequence[int], chunks: Sequence[int], shape: Sequence[int]
) -> tuple[int, ...]:
    """Shard shape of a coarser level: the level-0 shard's footprint, in inner chunks."""
    out = []
    for s, f, c, n in zip(shard0, cumulative, chunks, shape, strict=True):
        size = max(c, -(-max(1, s // f) // c) * c)
        out.append(min(size, -(-n // c) * c) if n else size)
    return tuple(out)


def _check_target(store: VsrStore, image_type: str, name: str, mode: str) -> bool:
    directory = layout.image_dir(store.path, image_type, name)
    exists = (directory / "zarr.json").exists()
    if exists and mode == "w-":
        hint = "mode='w-' refuses to replace it; use mode='w'"
        if read_write_marker(directory) is not None:
            hint = (
                "an earlier write of it did not finish (it is incomplete); mode='w-' refuses "
                "to replace it; use mode='w' or mode='a' to rewrite it"
            )
        raise TargetExistsError(directory, "image", hint)
    return exists


def _clear_image(directory: Path) -> None:
    """Delete an image's contents, keeping the in-progress marker (rewrite in place)."""
    for entry in directory.iterdir():
        if entry.name == WRITE_MARKER:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def write_dataarray(
    array: xr.DataArray,
    path: str | os.PathLike[str],
    *,
    image_type: str,
    name: str,
    mode: str = "w-",
    levels: int | Sequence[Sequence[int] | Mapping[str, int]] | None = None,
    shard_shape: Sequence[int] | None = None,
    chunk_shape: Sequence[int] | None = None,
    compressors: Any = None,
    attrs: Mapping[str, Any] | None = None,
    progress: bool = False,
    method: str = "mean",
) -> WriteReport:
    """Write a DataArray as a ``.vsr`` image (see ``DataArray.visor.to_vsr``).

    Every shard is committed atomically and the image carries an in-progress marker
    until the last level and its metadata are written (see the module documentation).

    Parameters
    ----------
    array : xarray.DataArray
        The data, with VISoR dims and coordinates.
    path : str or os.PathLike
        The ``.vsr`` sample (created if missing).
    image_type, name : str
        The image.
    mode : {"w-", "w", "a"}, default "w-"
        ``"w-"`` refuses an existing image; ``"w"`` and ``"a"`` replace it (and repair an
        interrupted one).
    levels : int or sequence, optional
        As for ``DataArray.visor.to_vsr``.
    shard_shape, chunk_shape : sequence of int, optional
        As for ``DataArray.visor.to_vsr``.
    compressors : zarr codec or sequence of codecs, optional
        As for ``DataArray.visor.to_vsr``: all levels. Default: blosc zstd 5 with
        shuffle for level 0, zstd at the ``pyramid_clevel`` option (2) for the others.
    attrs : mapping, optional
        As for ``DataArray.visor.to_vsr``.
    progress : bool, default False
        Show a progress bar.
    method : {"mean", "max", "min"}, default "mean"
        Downsampling of the pyramid.

    Returns
    -------
    WriteReport

    Raises
    ------
    TargetExistsError
        With ``mode="w-"`` when the image exists.
    WriteInProgressError
        When another live writer is writing the image.
    """
    if mode not in ("w-", "w", "a"):
        raise ValueError(f"mode must be 'w-', 'w' or 'a' for a whole-image write, got {mode!r}")
    started = time.perf_counter()
    array = _canonical(array)
    dims = tuple(str(d) for d in array.dims)
    dtype = np.dtype(array.dtype)
    if dtype.kind not in "uif" or dtype.byteorder == ">":
        raise InvalidArrayError(f"cannot write dtype {dtype} (use a native integer or float type)")
    factors = level_factors(dims, image_type, levels)
    image_attrs = image_attrs_from_dataarray(
        array, name=name, factors=factors, visor_overrides=attrs
    )
    workers = _workers()
    chunks = _inner_chunks(dims, array.shape, chunk_shape)
    shards = _shards(dims, array.shape, chunks, dtype.itemsize, shard_shape, workers)

    store = VsrStore(Path(path), "a")
    directory = layout.image_dir(store.path, image_type, name)
    source = (
        array.data
        if isinstance(array.data, da.Array)
        else _from_array(np.asarray(array.data), chunks=shards)
    )
    reports = []
    details = {"image_type": image_type, "name": name, "mode": mode, "levels": len(factors) + 1}
    # The marker makes an interrupted write detectable and refuses a second writer; every
    # shard is committed atomically (zarr_io.SafeArray), so a kill never truncates one.
    with image_write(
        directory,
        store.path,
        operation="write",
        details=details,
        precheck=lambda: _check_target(store, image_type, name, mode),
    ) as marker:
        guard = (directory, marker["token"])
        # "w" and "a" on an existing image replace its levels with this data (metadata
        # included); the directory is emptied here (keeping the marker), not deleted.
        _clear_image(directory)
        with sample_lock(store.path):  # selected.json is read, modified and written
            store.create_image(image_type, name, image_attrs, "a")
        with _progress(progress):
            target = store.create_level(
                image_type,
                name,
                "0",
                shape=array.shape,
                dtype=dtype,
                chunk_shape=chunks,
                shard_shape=shards,
                compressors=compressors,
                attrs=image_attrs,
            )
            target = guard_writes(target, *guard)
            level0 = (
                cast(Any, source)
                .astype(dtype, copy=False)
                .rechunk(_shard_grid(array.shape, shards))
            )
            # Coarser levels come from level 0's shards while they are in memory: no
            # read-back of level 0, and each level is computed from the one before it.
            pieces, level_reports = _pyramid_levels(
                store,
                image_type,
                name,
                image_attrs,
                level0,
                factors,
                shards,
                chunks,
                compressors,
                method,
                guard=guard,
            )
            _store_shards([(level0, target), *pieces])
            reports.append(LevelReport("0", tuple(array.shape), shards, chunks))
            reports.extend(level_reports)
    return WriteReport(
        path=store.path,
        image_type=image_type,
        name=name,
        levels=tuple(reports),
        predicted_peak_bytes=predicted_peak(shards, dtype.itemsize, workers),
        seconds=time.perf_counter() - started,
        workers=workers,
    )


def _pyramid_compressors(compressors: Any) -> Any:
    """The compressors of levels 1.. : the caller's, else zstd at ``pyramid_clevel``."""
    clevel = OPTIONS["pyramid_clevel"]
    if compressors is not None or clevel is None:
        return compressors
    return default_compressor(clevel)


def _pyramid_levels(
    store: VsrStore,
    image_type: str,
    name: str,
    image_attrs: ImageAttrs,
    base: da.Array,
    factors: Sequence[Sequence[int]],
    shard0: Sequence[int],
    chunks: Sequence[int],
    compressors: Any,
    method: str,
    first_level: int = 1,
    guard: tuple[Path, str] | None = None,
) -> tuple[list[tuple[da.Array, zarr.Array[Any]]], list[LevelReport]]:
    """Create the coarser level arrays and their lazy data, each from the level before it.

    ``base`` is the data of level ``first_level - 1``: the level-0 source being written
    (the pyramid is then computed from its in-memory shards) or a stored level read back
    in shard-footprint pieces (``add_levels``). ``guard`` (image directory, marker token)
    stops shard commits once the write fails. Returns ``(data, target)`` pairs for
    :func:`_store_shards` and the level reports.
    """
    pieces: list[tuple[da.Array, zarr.Array[Any]]] = []
    reports = []
    compressors = _pyramid_compressors(compressors)
    cumulative = np.ones(len(shard0), dtype=np.int64)
    for offset in range(first_level - 1):
        cumulative *= np.asarray(factors[offset])
    previous = base
    for level in range(first_level, len(factors) + 1):
        step = factors[level - 1]
        cumulative = cumulative * np.asarray(step)
        shape = tuple(-(-n // f) for n, f in zip(previous.shape, step, strict=True))
        shards = _level_shards(shard0, cumulative.tolist(), chunks, shape)
        level_chunks = tuple(min(c, s) for c, s in zip(chunks, shards, strict=True))
        target = store.create_level(
            image_type,
            name,
            str(level),
            shape=shape,
            dtype=previous.dtype,
            chunk_shape=level_chunks,
            shard_shape=shards,
            compressors=compressors,
            attrs=image_attrs,
            overwrite=True,
        )
        if guard is not None:
            target = guard_writes(target, *guard)
        previous = downsample(previous, step, method)
        pieces.append((previous, target))
        reports.append(LevelReport(str(level), shape, shards, level_chunks))
    return pieces, reports


class _progress:
    """dask's progress bar when asked for (a no-op otherwise)."""

    def __init__(self, enabled: bool) -> None:
        self._bar: Any = None
        if enabled:
            from dask.diagnostics import progress

            self._bar = progress.ProgressBar()  # type: ignore[no-untyped-call]

    def __enter__(self) -> None:
        if self._bar is not None:
            self._bar.__enter__()

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


# ------------------------------------------------------------------- existing images


def add_levels(
    path: str | os.PathLike[str],
    *,
    image_type: str,
    name: str,
    levels: int | Sequence[Sequence[int] | Mapping[str, int]],
    method: str = "mean",
    compressors: Any = None,
) -> WriteReport:
    """Add coarser levels to an existing image without rewriting the levels it has.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.vsr`` sample.
    image_type, name : str
        The image.
    levels : int or sequence
        An int ``N``: make the image have ``N`` levels in total (default factors);
        a sequence: the relative factors of each *new* level.
    method : {"mean", "max", "min"}
    compressors : zarr codec, optional
        Default: blosc zstd with shuffle at the ``pyramid_clevel`` option (2).

    Returns
    -------
    WriteReport
        The levels added.
    """
    started = time.perf_counter()
    store = VsrStore(Path(path), "r+")
    attrs = store.image_attrs(image_type, name)
    multiscale = attrs.multiscale
    existing = len(multiscale.levels)
    dims = multiscale.dims
    if isinstance(levels, int) and not isinstance(levels, bool):
        new = level_factors(dims, image_type, levels)[existing - 1 :] if levels > existing else []
    else:
        new = level_factors(dims, image_type, levels)
    if not new:
        return WriteReport(
            store.path, image_type, name, (), 0, time.perf_counter() - started, _workers()
        )
    old_scales = [np.asarray(level.scale) for level in multiscale.levels]
    relative = [
        tuple(round(float(v)) for v in old_scales[i] / old_scales[i - 1])
        for i in range(1, existing)
    ]
    all_factors = [*relative, *new]
    from dataclasses import replace

    from visor_xarray.schema import Level

    cumulative = old_scales[-1].copy()
    added = []
    for index, step in enumerate(new, start=existing):
        cumulative = cumulative * np.asarray(step)
        added.append(
            Level(
                path=str(index),
                scale=tuple(float(v) for v in cumulative),
                translation=tuple(float(v) for v in (cumulative - 1) / 2),
            )
        )
    updated = replace(
        attrs,
        ome=replace(
            attrs.ome,
            multiscales=(
                replace(multiscale, levels=(*multiscale.levels, *added)),
                *attrs.ome.multiscales[1:],
            ),
        ),
    )
    directory = store.image_dir(image_type, name)
    details = {"image_type": image_type, "name": name, "levels": existing + len(new)}
    with image_write(directory, store.path, operation="add_levels", details=details) as marker:
        last = store.level_array(
            image_type, name, multiscale.level_paths[-1], writable=True, attrs=attrs
        )
        level0 = store.level_array(image_type, name, multiscale.level_paths[0], attrs=attrs)
        shard0 = level0.shards or level0.chunks
        # The first new level reads the coarsest stored one in pieces of one output
        # shard's footprint; the levels after it come from that in memory.
        step = all_factors[existing - 1]
        first_shards = _level_shards(
            shard0,
            (old_scales[-1] / old_scales[0] * np.asarray(step)).round().astype(int).tolist(),
            level0.chunks,
            tuple(-(-n // f) for n, f in zip(last.shape, step, strict=True)),
        )
        base = _from_array(
            last, chunks=tuple(s * f for s, f in zip(first_shards, step, strict=True))
        )
        # New levels first, metadata last: a killed run leaves the image as it was (plus
        # unlisted level arrays that the next run overwrites).
        pieces, reports = _pyramid_levels(
            store,
            image_type,
            name,
            updated,
            base,
            all_factors,
            shard0,
            level0.chunks,
            compressors,
            method,
            first_level=existing,
            guard=(directory, marker["token"]),
        )
        _store_shards(pieces)
        store.write_image_attrs(image_type, name, updated)
    itemsize = np.dtype(level0.dtype).itemsize
    return WriteReport(
        store.path,
        image_type,
        name,
        tuple(reports),
        predicted_peak(shard0, itemsize, _workers()),
        time.perf_counter() - started,
        _workers(),
    )


def _region_slices(
    region: Mapping[str, slice], dims: Sequence[str], shape: Sequence[int]
) -> tuple[slice, ...]:
    unknown = set(region) - set(dims)
    if unknown:
        raise ValueError(
            f"region names unknown dims {sorted(unknown)}; the image has {tuple(dims)}"
        )
    out = []
    for dim, size in zip(dims, shape, strict=True):
        selection = region.get(dim, slice(None))
        if not isinstance(selection, slice) or selection.step not in (None, 1):
            raise ValueError(f"region[{dim!r}] must be a unit-step slice, got {selection!r}")
        start, stop, _ = selection.indices(size)
        out.append(slice(start, stop))
    return tuple(out)


def write_region(
    array: xr.DataArray,
    path: str | os.PathLike[str],
    *,
    image_type: str,
    name: str,
    region: Mapping[str, slice],
    method: str = "mean",
) -> WriteReport:
    """Write ``array`` into a region of level 0 of an existing image; update coarser levels.

    Shards fully inside the region are written straight from the data; shards the region
    only touches are read, merged and rewritten whole (one shard in memory per task).

    Raises
    ------
    InvalidArrayError
        If the data's shape or dtype differs from the region / the image.
    """
    started = time.perf_counter()
    array = _canonical(array)
    store = VsrStore(Path(path), "r+")
    attrs = store.image_attrs(image_type, name)
    dims = attrs.multiscale.dims
    if tuple(array.dims) != dims:
        raise InvalidArrayError(
            f"{store.path}: data dims {tuple(array.dims)} differ from the image's {dims}"
        )
    target = store.level_array(
        image_type, name, attrs.multiscale.level_paths[0], writable=True, attrs=attrs
    )
    slices = _region_slices(region, dims, target.shape)
    expected = tuple(s.stop - s.start for s in slices)
    if tuple(array.shape) != expected:
        raise InvalidArrayError(
            f"{store.path}: data shape {tuple(array.shape)} differs from the region shape "
            f"{expected}"
        )
    if np.dtype(array.dtype) != np.dtype(target.dtype):
        raise InvalidArrayError(
            f"{store.path}: data dtype {array.dtype} differs from the image's {target.dtype}"
        )
    source = (
        array.data if isinstance(array.data, da.Array) else _from_array(np.asarray(array.data))
    )
    shards = target.shards or target.chunks
    details = {
        "image_type": image_type,
        "name": name,
        "region": {d: [s.start, s.stop] for d, s in zip(dims, slices, strict=True)},
    }
    directory = store.image_dir(image_type, name)
    with image_write(directory, store.path, operation="region", details=details) as marker:
        guard = (directory, marker["token"])
        reports = _write_region_levels(
            store,
            image_type,
            name,
            attrs,
            source,
            guard_writes(target, *guard),
            slices,
            shards,
            method,
            guard,
        )
    return WriteReport(
        store.path,
        image_type,
        name,
        tuple(reports),
        predicted_peak(shards, np.dtype(target.dtype).itemsize, _workers()),
        time.perf_counter() - started,
        _workers(),
    )


def _write_region_levels(
    store: VsrStore,
    image_type: str,
    name: str,
    attrs: ImageAttrs,
    source: da.Array,
    target: zarr.Array[Any],
    slices: tuple[slice, ...],
    shards: Sequence[int],
    method: str,
    guard: tuple[Path, str],
) -> list[LevelReport]:
    """Merge ``source`` into level 0 at ``slices``, then recompute what it covers above."""
    _merge_region(source, target, slices, shards)
    # propagate to coarser levels: recompute the blocks the region touched
    previous, previous_slices = target, slices
    reports = [LevelReport("0", tuple(target.shape), tuple(shards), tuple(target.chunks))]
    scales = [np.asarray(level.scale) for level in attrs.multiscale.levels]
    for index in range(1, len(scales)):
        step = tuple(round(float(v)) for v in scales[index] / scales[index - 1])
        level = guard_writes(
            store.level_array(
                image_type, name, attrs.multiscale.level_paths[index], writable=True, attrs=attrs
            ),
            *guard,
        )
        level_slices = tuple(
            slice(s.start // f, -(-s.stop // f))
            for s, f in zip(previous_slices, step, strict=True)
        )
        read = tuple(
            slice(s.start * f, min(s.stop * f, n))
            for s, f, n in zip(level_slices, step, previous.shape, strict=True)
        )
        block = _from_array(previous, chunks=previous.shards or previous.chunks)[read]
        _merge_region(
            downsample(block, step, method), level, level_slices, level.shards or level.chunks
        )
        reports.append(
            LevelReport(
                str(index),
                tuple(level.shape),
                tuple(level.shards or level.chunks),
                tuple(level.chunks),
            )
        )
        previous, previous_slices = level, level_slices
    return reports


def _merge_region(
    source: da.Array, target: zarr.Array[Any], slices: Sequence[slice], shards: Sequence[int]
) -> None:
    """Write ``source`` at ``slices`` of ``target`` one whole shard at a time."""
    tasks = []
    ranges = [range(s.start // n, -(-s.stop // n)) for s, n in zip(slices, shards, strict=True)]
    for shard_index in np.ndindex(*[len(r) for r in ranges]):
        bounds = []
        for axis, position in enumerate(shard_index):
            number = ranges[axis][position]
            low = number * shards[axis]
            bounds.append(slice(low, min(low + shards[axis], target.shape[axis])))
        inside = tuple(
            slice(max(b.start, s.start), min(b.stop, s.stop))
            for b, s in zip(bounds, slices, strict=True)
        )
        piece = source[
            tuple(
                slice(i.start - s.start, i.stop - s.start)
                for i, s in zip(inside, slices, strict=True)
            )
        ]
        tasks.append(delayed(_write_shard)(target, tuple(bounds), inside, piece))
    compute(*tasks)  # type: ignore[no-untyped-call]


def _write_shard(
    target: zarr.Array[Any],
    bounds: tuple[slice, ...],
    inside: tuple[slice, ...],
    piece: np.ndarray,
) -> None:
    if bounds == inside:
        target[bounds] = piece
        return
    shard = np.asarray(target[bounds])
    shard[
        tuple(
            slice(i.start - b.start, i.stop - b.start) for i, b in zip(inside, bounds, strict=True)
        )
    ] = piece
    target[bounds] = shard
