"""The dask graph of a resampling (or stitching): one task per output block.

Two ways to wire blocks to their source:

* :func:`lazy_blocks`, for sources read through a :class:`~visor_xarray.resample.readers.
  Reader` (a stored level, in-memory data): one ``map_blocks`` layer whose tasks each get
  the plan, the reader (one shared graph node) and their block index, and find their
  footprint themselves. Building it does no per-block work, so its cost does not grow
  with the output, and slicing the lazy result keeps only the blocks asked for.
* :func:`chunked_blocks`, for dask sources used as they are (data changed after opening):
  each task depends on the source chunks its footprints overlap, which must be planned
  per block when the graph is built.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np
import numpy.typing as npt
from dask.highlevelgraph import HighLevelGraph

from visor_xarray.resample.footprint import chunk_boundaries, footprint_pieces
from visor_xarray.resample.plan import ResamplePlan
from visor_xarray.resample.readers import ChunkReader, Reader

__all__ = ["BlockJob", "chunked_blocks", "lazy_blocks"]


@dataclass(frozen=True, eq=False)
class BlockJob:
    """The plan and the reader of a resampling: one graph node shared by every block task."""

    plan: ResamplePlan
    reader: Reader


def _compute_block(job: BlockJob, block_id: Sequence[int] | None = None) -> npt.NDArray[Any]:
    assert block_id is not None  # map_blocks passes it
    return job.plan.compute_block(job.reader, block_id)


def _meta(dtype: np.dtype[Any], ndim: int) -> npt.NDArray[Any]:
    return np.empty((0,) * ndim, dtype=dtype)


def lazy_blocks(
    plan: ResamplePlan,
    reader: Reader,
    *,
    lead_chunks: Sequence[tuple[int, ...]],
    name: str,
) -> da.Array:
    """A dask array of the plan's output blocks, each reading through ``reader``.

    Parameters
    ----------
    plan : ResamplePlan
        Output blocks and footprints (a :class:`~visor_xarray.resample.blend.StitchPlan`
        stitches).
    reader : Reader
        Picklable; one graph node, shared by every task.
    lead_chunks : sequence of tuple of int
        Chunks of the output's leading dims (all ones).
    name : str
        The array's name (a token of everything that determines its values).

    Returns
    -------
    dask.array.Array
    """
    job = dask.delayed(BlockJob(plan, reader), name=f"{name}-job", traverse=False)  # type: ignore[attr-defined]
    dtype = plan.interpolation.dtype
    chunks = (*lead_chunks, *plan.chunks)
    result: da.Array = da.map_blocks(  # type: ignore[no-untyped-call]
        _compute_block,
        job,
        name=name,
        chunks=chunks,
        dtype=dtype,
        meta=_meta(dtype, len(chunks)),
    )
    return result


def _compute_from_chunks(
    plan: ResamplePlan,
    block_id: tuple[int, ...],
    layout: Sequence[tuple[tuple[int, ...], tuple[int, ...], Sequence[tuple[Any, Any]]]],
    chunks: Sequence[npt.NDArray[Any]],
) -> npt.NDArray[Any]:
    parts: dict[tuple[int, ...], Any] = {}
    arrays = iter(chunks)
    for position, shape, pieces in layout:
        parts[position] = (
            shape,
            [(next(arrays), index, target) for index, target in pieces],
        )
    return plan.compute_block(ChunkReader(parts), block_id)


def chunked_blocks(
    plan: ResamplePlan,
    source: da.Array,
    *,
    lead_chunks: Sequence[tuple[int, ...]],
    name: str,
) -> da.Array:
    """A dask array of the plan's output blocks, each depending on the source chunks it reads.

    Parameters
    ----------
    plan : ResamplePlan
        Output blocks and footprints.
    source : dask.array.Array
        Dims ``(*lead, z, y, x)``, used as it is.
    lead_chunks : sequence of tuple of int
        Chunks of the output's leading dims (all ones).
    name : str
        The array's name.

    Returns
    -------
    dask.array.Array
    """
    bounds = [chunk_boundaries(c) for c in source.chunks]
    plan_key = f"{name}-plan"
    layer: dict[Any, Any] = {plan_key: plan}
    lead_counts = [len(c) for c in lead_chunks]
    spatial_counts = [len(c) for c in plan.chunks]
    for lead in itertools.product(*(range(n) for n in lead_counts)):
        for ijk in itertools.product(*(range(n) for n in spatial_counts)):
            start, shape = plan.block(ijk)
            keys: list[Any] = []
            layout = []
            for position in plan.positions(lead):
                footprint = plan.footprint(position, start, shape)
                if footprint is None:
                    continue
                low = np.asarray(footprint.low, dtype=np.int64)
                high = np.asarray(footprint.high, dtype=np.int64)
                chunk_keys, pieces = footprint_pieces(source.name, bounds, position, low, high)
                keys.extend(chunk_keys)
                layout.append((position, footprint.shape, pieces))
            block_id = (*lead, *ijk)
            layer[(name, *block_id)] = (_compute_from_chunks, plan_key, block_id, layout, keys)
    graph = HighLevelGraph.from_collections(name, layer, dependencies=[source])  # type: ignore[list-item]
    dtype = plan.interpolation.dtype
    chunks = (*lead_chunks, *plan.chunks)
    return da.Array(  # type: ignore[no-untyped-call]
        graph, name, chunks=chunks, dtype=dtype, meta=_meta(dtype, len(chunks))
    )
