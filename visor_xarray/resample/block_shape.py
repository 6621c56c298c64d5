"""The shape of the output blocks: the memory budget of one block task.

The user's ``chunks=`` (:func:`normalise_chunks`), or by default blocks of 1-2 M output
voxels shaped so that the source footprint read per output voxel is smallest
(:func:`default_block`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np

from visor_xarray.resample.footprint import footprint_margin
from visor_xarray.resample.grid import SPATIAL_DIMS
from visor_xarray.transforms.model import Affine

__all__ = ["DEFAULT_BLOCK", "Chunks", "default_block", "normalise_chunks"]

#: An output block shape as users give it: one edge, three ``(z, y, x)``, or ``{dim: edge}``.
Chunks = int | Sequence[int] | Mapping[str, int]

#: Default edge of an output block (voxels per axis), see :func:`normalise_chunks`.
DEFAULT_BLOCK = 128

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


def normalise_chunks(chunks: Chunks | None, shape: Sequence[int]) -> tuple[int, int, int]:
    """Block shape of the output from the user's ``chunks=`` argument.

    Parameters
    ----------
    chunks : int, sequence of 3 ints, mapping or None
        None gives :data:`DEFAULT_BLOCK` (128) voxels per axis; one int applies to every
        axis; a mapping may give some of ``z``/``y``/``x`` (the others take the default);
        -1 means the whole axis.
    shape : sequence of int
        The output grid shape (each block is clipped to it).

    Returns
    -------
    tuple of int
        ``(bz, by, bx)``.

    Raises
    ------
    ValueError
        For a size that is neither positive nor -1.
    """
    if chunks is None:
        sizes: list[int] = [DEFAULT_BLOCK] * 3
    elif isinstance(chunks, Mapping):
        unknown = set(chunks) - set(SPATIAL_DIMS)
        if unknown:
            raise ValueError(f"chunks may name only z, y and x, got {sorted(unknown)}")
        sizes = [int(chunks.get(d, DEFAULT_BLOCK)) for d in SPATIAL_DIMS]
    elif isinstance(chunks, int | np.integer):
        sizes = [int(chunks)] * 3
    else:
        sizes = [int(c) for c in chunks]
        if len(sizes) != 3:
            raise ValueError(f"chunks must give 3 sizes (z, y, x), got {chunks!r}")
    out = []
    for size, extent in zip(sizes, shape, strict=True):
        if size == -1:
            size = extent
        if size < 1:
            raise ValueError(f"chunk sizes must be positive (or -1 for a whole axis), got {sizes}")
        out.append(min(size, int(extent)))
    return (out[0], out[1], out[2])
