"""The default output block shape: the memory budget of one block task.

Blocks of 1-2 M output voxels, shaped so that the source footprint read per output voxel is
smallest (see :func:`default_block`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from visor_xarray.resample.footprint import footprint_margin
from visor_xarray.resample.grid import normalise_chunks
from visor_xarray.transforms.model import Affine

__all__ = ["default_block"]

#: Block edges considered by :func:`default_block`, and the voxel count of a block.
_BLOCK_EDGES = (64, 128, 256, 512)
_BLOCK_VOXELS = (2**20, 2**21)


def default_block(
    maps: Sequence[Affine], shape: Sequence[int], order: int
) -> tuple[int, int, int]:
    """The default output block shape: 1-2 M voxels with the smallest footprints.

    The footprint of a block of edges ``b`` (output voxels) spans ``|A| @ b`` source voxels
    per axis (``A``: output index -> source index), plus the interpolation margin. Among
    edges 64, 128, 256, 512 with 2^20 to 2^21 voxels per block, the shape with the least
    footprint per output voxel (the worst over ``maps``) is chosen, the most cubic one among
    those within 5 % of it. An axis-aligned map gives 128 x 128 x 128; a 45-degree deskew,
    whose footprint is sheared along z, gets blocks elongated along z (e.g. 512 x 64 x 64),
    which read about half as much source per output voxel. Edges are clipped to ``shape``.

    Parameters
    ----------
    maps : sequence of Affine
        Output index -> source index, one per stack/channel.
    shape : sequence of int
        The output grid shape.
    order : int
        Interpolation order (sets the margin).

    Returns
    -------
    tuple of int
        ``(bz, by, bx)``.
    """
    margin = 2 * footprint_margin(order) + 1
    ratios: list[tuple[float, float, tuple[int, int, int]]] = []
    for edges in itertools.product(_BLOCK_EDGES, repeat=3):
        clipped = [min(e, int(n)) for e, n in zip(edges, shape, strict=True)]
        voxels = int(np.prod(clipped))
        if not _BLOCK_VOXELS[0] <= int(np.prod(edges)) <= _BLOCK_VOXELS[1]:
            continue
        worst = max(
            float(np.prod(np.abs(m.matrix) @ np.asarray(clipped, dtype=np.float64) + margin))
            for m in maps
        )
        spread = float(np.ptp(np.log2(edges)))
        ratios.append((worst / voxels, spread, (edges[0], edges[1], edges[2])))
    best = min(r[0] for r in ratios)
    candidates = [r for r in ratios if r[0] <= best * 1.05]
    chosen = min(candidates, key=lambda r: (r[1], r[0]))[2]
    return normalise_chunks(chosen, shape)
