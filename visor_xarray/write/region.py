"""Region writes: :func:`write_region` into part of level 0, then the levels above it.

Shards fully inside the region are written straight from the data; shards the region
only touches are read, merged and rewritten whole in memory (one shard per task), and
each coarser level recomputes just the blocks the region covers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
import zarr
from dask.base import compute
from dask.delayed import delayed

from visor_xarray.errors import InvalidArrayError
from visor_xarray.schema import ImageAttrs
from visor_xarray.store import VsrStore
from visor_xarray.write.image import _canonical
from visor_xarray.write.pyramid import downsample
from visor_xarray.write.report import LevelReport, WriteReport, _workers, predicted_peak
from visor_xarray.write.shards import _from_array
from visor_xarray.zarr_io import guard_writes, image_write

__all__ = ["write_region"]


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
