"""Assembly of the dask graph of a resampling: one task per output block.

:func:`_build` plans every output block (its footprint, clipped to the source, and its
kernel), and wires it to the source: indexable sources are read through one shared
:class:`~visor_xarray.resample.blocks._Reader`, dask sources through the chunks each
footprint overlaps. Blocks whose footprint misses the source are filled without reading.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from visor_xarray.resample.blocks import (
    _Block,
    _block_from_chunks,
    _block_from_reader,
    _fill_block,
    _Reader,
)
from visor_xarray.resample.footprint import (
    _TIGHT_SLACK,
    _boundaries,
    _footprints,
    _pieces,
    footprint_margin,
)
from visor_xarray.resample.grid import OutputGrid
from visor_xarray.resample.kernels import SEPARABLE_MODES, decoupled_axis
from visor_xarray.transforms.model import Affine

__all__: list[str] = []


def _build(
    source: xr.DataArray,
    maps: Mapping[tuple[int, ...], Affine],
    grid: OutputGrid,
    block_shape: tuple[int, int, int],
    lead_dims: tuple[str, ...],
    order: int,
    mode: str,
    fill: float,
    dtype: np.dtype[Any],
    prefilter: bool,
    kernel: str,
) -> da.Array:
    spatial_chunks = [
        tuple(min(b, n - s) for s in range(0, n, b))
        for b, n in zip(block_shape, grid.shape, strict=True)
    ]
    starts = [_boundaries(c)[:-1] for c in spatial_chunks]
    stops = [_boundaries(c)[1:] for c in spatial_chunks]
    source_shape = np.asarray(source.shape[-3:], dtype=np.int64)
    margin = footprint_margin(order)
    # .chunks, not .data: .data would load a lazily indexed (backend) array whole
    is_dask = source.chunks is not None
    token = tokenize(
        source.data.name if is_dask else uuid.uuid4().hex,
        {k: v.homogeneous.tobytes() for k, v in maps.items()},
        grid,
        block_shape,
        order,
        mode,
        fill,
        str(dtype),
        prefilter,
        kernel,
    )
    name = f"resample-{token}"
    layer: dict[Any, Any] = {}
    dependencies: list[Any] = []
    if is_dask:
        array: da.Array = source.data
        dependencies.append(array)
        bounds = [_boundaries(c) for c in array.chunks]
    else:
        reader_key = f"resample-source-{token}"
        layer[reader_key] = _Reader(source.variable)
    for position, affine in maps.items():
        matrix = affine.matrix
        separable = kernel == "auto" and order <= 1 and mode in SEPARABLE_MODES
        axis = decoupled_axis(matrix) if separable else None
        low, high = _footprints(matrix, affine.offset, starts, stops)
        if axis is not None:
            # The separable kernel tests "inside" against the whole source, not the
            # footprint, so the footprint can be tight: the two neighbours of every point
            # (with a 1e-7 voxel slack for rounding; an axis mapped onto integer positions,
            # like x under a deskew, then reads no extra storage chunk).
            lo = np.floor(low - _TIGHT_SLACK).astype(np.int64)
            hi = np.ceil(high - _TIGHT_SLACK).astype(np.int64) + 1
        else:
            lo = np.floor(low).astype(np.int64) - margin
            hi = np.floor(high).astype(np.int64) + margin + 2
        shape3 = source_shape.reshape(3, 1, 1, 1)
        if mode == "nearest":
            # beyond an edge the nearest edge voxel is the value: keep at least one voxel
            lo = np.clip(lo, 0, shape3 - 1)
            hi = np.clip(hi, lo + 1, shape3)
        else:
            lo = np.clip(lo, 0, shape3)
            hi = np.clip(hi, 0, shape3)
        for i, j, k in itertools.product(*(range(len(s)) for s in starts)):
            key = (name, *position, i, j, k)
            block_start = np.array([starts[0][i], starts[1][j], starts[2][k]], dtype=np.float64)
            shape = (
                int(spatial_chunks[0][i]),
                int(spatial_chunks[1][j]),
                int(spatial_chunks[2][k]),
            )
            box_lo = lo[:, i, j, k]
            box_hi = hi[:, i, j, k]
            block = _Block(
                shape=shape,
                matrix=matrix,
                offset=matrix @ block_start + affine.offset - box_lo,
                order=int(order),
                mode=mode,
                cval=fill,
                dtype=dtype,
                prefilter=prefilter,
                lead=len(position),
                separable_axis=axis,
                limits=tuple(
                    (float(-a), float(n - 1 - a))
                    for a, n in zip(box_lo, source_shape, strict=True)
                ),
            )
            if np.any(box_hi <= box_lo):
                layer[key] = (_fill_block, block)
                continue
            spatial = tuple(slice(int(a), int(b)) for a, b in zip(box_lo, box_hi, strict=True))
            if not is_dask:
                layer[key] = (
                    _block_from_reader,
                    reader_key,
                    replace(block, read=(*position, *spatial)),
                )
                continue
            keys, pieces = _pieces(array.name, bounds, position, box_lo, box_hi)
            z, y, x = (int(b - a) for a, b in zip(box_lo, box_hi, strict=True))
            layer[key] = (
                _block_from_chunks,
                keys,
                replace(block, box_shape=(z, y, x), pieces=pieces),
            )
    graph = HighLevelGraph.from_collections(name, layer, dependencies=dependencies)
    chunks = (*((1,) * n for n in (source.sizes[d] for d in lead_dims)), *spatial_chunks)
    return da.Array(  # type: ignore[no-untyped-call]
        graph, name, chunks=chunks, dtype=dtype, meta=np.empty((0,) * len(chunks), dtype)
    )
