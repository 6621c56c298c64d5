"""VISoR's standard storage layouts: the inner chunk and shard an image is written with.

The format's schema gives typical values (``vsr-format.md`` §4): inner chunk
``(1, 1, 64, 64, 64)``; a raw stack-channel in one shard, ``(1, 1, 8192, 832, 2048)``
(the frame of 788 x 2048 rounded up to whole chunks, up to 8192 frames); recon images in
``(1, 1, 2048, 2048, 2048)`` shards (for the 4-D ``(ch, z, y, x)`` recon: one channel,
2048 voxels a side). Writes stream shards in bounded memory, so these are the defaults
whatever the memory budget:

* images with stacks (``vs, ch, z, y, x``: raw, and processed stacks such as ``compr``):
  one shard per stack and channel, whole frames, at most 8192 frames deep;
* images without stacks whose spatial axes are z, y, x (``recon``): at most 2048 a side;
* anything else (e.g. a ``projn`` projection, ``vs, ch, y, x``): the schema gives no
  typical shard; these are small images, written with at most 2048 a side as recon.

Every shard is clipped to the image, rounded up to a power of two of inner chunks
(:func:`clip_shard`): small images get one small shard per stack and channel, and shards
stay multiples of the power-of-two blocks resampling and stitching compute (a 1317-frame
recon gets 2048-deep shards that 512-deep blocks tile, not 1344-deep ones they straddle).
Raw frames keep their whole extent (832 rows: the schema's shard).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "DEFAULT_INNER",
    "RAW_MAX_FRAMES",
    "RECON_SIDE",
    "clip_shard",
    "default_chunks",
    "standard_shards",
]

#: Inner chunk edge of the spatial axes (vs and ch are always 1).
DEFAULT_INNER = 64
#: Frames of the standard raw shard.
RAW_MAX_FRAMES = 8192
#: Side of the standard recon shard.
RECON_SIDE = 2048

_LEADING = ("vs", "ch")


def default_chunks(dims: Sequence[str], shape: Sequence[int]) -> tuple[int, ...]:
    """The standard inner chunk: 1 along ``vs``/``ch``, 64 (or less, the size) elsewhere.

    Parameters
    ----------
    dims : sequence of str
    shape : sequence of int

    Returns
    -------
    tuple of int
    """
    return tuple(
        1 if dim in _LEADING else max(1, min(DEFAULT_INNER, int(size)))
        for dim, size in zip(dims, shape, strict=True)
    )


def clip_shard(size: int, extent: int, chunk: int) -> int:
    """A shard size clipped to an extent: whole chunks, a power of two of them.

    Parameters
    ----------
    size : int
        The shard size (a multiple of ``chunk``).
    extent : int
        The array's size along the axis.
    chunk : int
        The inner chunk size.

    Returns
    -------
    int
        ``min(size, chunk * 2**k)`` for the smallest ``chunk * 2**k >= extent``.
    """
    chunks = max(1, -(-int(extent) // int(chunk)))
    return min(int(size), int(chunk) * (1 << (chunks - 1).bit_length()))


def standard_shards(
    dims: Sequence[str], shape: Sequence[int], chunks: Sequence[int]
) -> tuple[int, ...]:
    """The standard shard of an image (see the module documentation).

    Parameters
    ----------
    dims : sequence of str
        The image's dims, in array order.
    shape : sequence of int
        Its shape.
    chunks : sequence of int
        Its inner chunk.

    Returns
    -------
    tuple of int
        A multiple of ``chunks``.
    """
    stacks = "vs" in dims and "z" in dims
    out = []
    for dim, size, chunk in zip(dims, shape, chunks, strict=True):
        if dim in _LEADING:
            out.append(int(chunk))
        elif stacks and dim != "z":
            out.append(-(-max(1, int(size)) // int(chunk)) * int(chunk))  # whole frames
        else:
            limit = RAW_MAX_FRAMES if stacks else RECON_SIDE
            out.append(clip_shard(max(chunk, (limit // chunk) * chunk), size, chunk))
    return tuple(out)
