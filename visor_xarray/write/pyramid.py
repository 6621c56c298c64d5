"""Block-reduction downsampling for multiscale pyramids (lazy, dask).

Edge rule: a dimension whose length ``n`` is not a multiple of the factor ``f`` gets
``ceil(n / f)`` output voxels; the last one reduces only the ``n mod f`` voxels that
exist (no padding, so no dark or duplicated border). Rounding: integer dtypes are
rounded half to even (``numpy.rint``) and cast back, so a uint16 mean stays uint16.
The voxel centre of output ``i`` is at input position ``f * i + (f - 1) / 2``; writers
record that as the level's OME translation ``(f - 1) / 2`` (level-0 voxel units).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import dask.array as da
import numpy as np

__all__ = ["METHODS", "block_reduce", "default_factors", "downsample", "level_factors"]

_REDUCERS = {"mean": np.add, "max": np.maximum, "min": np.minimum}
#: Reduction methods; ``"mean"`` is the format's ``type: "mean"``.
METHODS = tuple(_REDUCERS)


def block_reduce(data: np.ndarray, factors: Sequence[int], method: str = "mean") -> np.ndarray:
    """Reduce non-overlapping blocks of ``data`` (partial edge blocks use the voxels they have).

    Parameters
    ----------
    data : numpy.ndarray
        Input block.
    factors : sequence of int
        Block size per axis (1 keeps an axis).
    method : {"mean", "max", "min"}
        Reduction.

    Returns
    -------
    numpy.ndarray
        Same dtype as ``data``; shape ``ceil(shape / factors)``. Integer means are exact
        sums divided once and rounded half to even; float means are summed in float64.

    Notes
    -----
    Integers are summed in int64: 64-bit data whose block sums leave the int64 range
    (values near 2**63) wrap around.
    """
    if method not in _REDUCERS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if len(factors) != data.ndim or any(int(f) < 1 for f in factors):
        raise ValueError(
            f"factors {tuple(factors)} need one positive int per axis of {data.shape}"
        )
    factors = tuple(int(f) for f in factors)
    slabs = _slabs(data.shape, data.itemsize, factors)
    if slabs is None:
        return _reduce_block(data, factors, method)
    # Reducing slab by slab keeps the wide temporaries (float sums) small: allocating and
    # first-touching block-sized temporaries costs more than the arithmetic.
    axis, step = slabs
    shape = tuple(-(-n // f) for n, f in zip(data.shape, factors, strict=True))
    out = np.empty(shape, dtype=data.dtype)
    for start in range(0, data.shape[axis], step):
        source = [slice(None)] * data.ndim
        target = [slice(None)] * data.ndim
        source[axis] = slice(start, start + step)
        target[axis] = slice(start // factors[axis], (start + step) // factors[axis])
        out[tuple(target)] = _reduce_block(data[tuple(source)], factors, method)
    return out


#: Input bytes reduced at a time. The temporaries then stay below numpy's 4 MiB
#: huge-page threshold and in cache; measured 2.6-3 GB/s against 1.6 GB/s with 4 MiB.
_SLAB_BYTES = 2**20


def _slabs(shape: Sequence[int], itemsize: int, factors: Sequence[int]) -> tuple[int, int] | None:
    """(axis, slab length) to reduce a large block in pieces, or None for one piece.

    The slab axis is the outermost one longer than its factor; slab lengths are multiples
    of its factor, so blocks never straddle two slabs.
    """
    total = math.prod(shape) * itemsize
    if total <= 2 * _SLAB_BYTES:
        return None
    for axis, (size, factor) in enumerate(zip(shape, factors, strict=True)):
        if size <= factor:
            continue
        per_block_row = total // size * factor
        step = max(1, _SLAB_BYTES // max(1, per_block_row)) * factor
        return (axis, step) if step < size else None
    return None


def _reduce_block(data: np.ndarray, factors: tuple[int, ...], method: str) -> np.ndarray:
    reducer = _REDUCERS[method]
    accumulator = _accumulator(data.dtype, factors, data.shape) if method == "mean" else data.dtype
    # the largest factor first: later passes then work on the smallest intermediate
    order = sorted(range(len(factors)), key=lambda axis: -factors[axis])
    out = data
    divisor = np.ones((1,) * data.ndim, dtype=np.float64)
    for axis in order:
        factor = int(factors[axis])
        if factor == 1 or out.shape[axis] == 0:
            continue
        size = out.shape[axis]
        out = _reduce_axis(out, axis, factor, reducer, accumulator)
        starts = np.arange(0, size, factor)
        counts = np.minimum(starts + factor, size) - starts
        shape = [1] * out.ndim
        shape[axis] = len(counts)
        divisor = divisor * counts.reshape(shape)
    if method != "mean":
        return out if out is not data else data.copy()
    if out is data:  # every factor is 1
        return data.copy()
    if out.dtype.kind == "f":  # float sums divide in place
        mean: np.ndarray = np.divide(out, divisor, out=out, dtype=out.dtype)
    else:
        mean = np.divide(out, divisor, dtype=np.float64)
    if data.dtype.kind in "ui":
        np.rint(mean, out=mean)
        if data.dtype.itemsize >= 4:  # float rounding of a wide integer may leave its range
            info = np.iinfo(data.dtype)
            np.clip(mean, info.min, info.max, out=mean)
    return mean.astype(data.dtype, copy=False)


def _reduce_axis(
    data: np.ndarray, axis: int, factor: int, reducer: np.ufunc, accumulator: np.dtype
) -> np.ndarray:
    """Reduce one axis by ``factor`` with strided in-place ufunc calls.

    One pass per offset in the block (``factor`` strided views added into the output)
    is several times faster than ``ufunc.reduceat`` on the small factors of a pyramid.
    """
    size = data.shape[axis]
    whole, rest = divmod(size, factor)

    def along(part: slice) -> tuple[slice, ...]:
        index = [slice(None)] * data.ndim
        index[axis] = part
        return tuple(index)

    shape = list(data.shape)
    shape[axis] = whole + (1 if rest else 0)
    out = np.empty(shape, dtype=accumulator)
    if whole:
        head = out[along(slice(0, whole))]

        def offset_view(offset: int) -> np.ndarray:
            view: np.ndarray = data[along(slice(offset, whole * factor, factor))]
            return view

        # dtype= makes the ufunc loop run in the accumulator type (no overflow, no copy)
        reducer(offset_view(0), offset_view(1), out=head, dtype=accumulator)
        for offset in range(2, factor):
            reducer(head, offset_view(offset), out=head, dtype=accumulator)
    if rest:
        tail = data[along(slice(whole * factor, size))]
        out[along(slice(whole, whole + 1))] = reducer.reduce(
            tail, axis=axis, keepdims=True, dtype=accumulator
        )
    return out


def _accumulator(dtype: np.dtype, factors: Sequence[int], shape: Sequence[int]) -> np.dtype:
    """An exact, compact sum type.

    float32 holds every integer up to 2**24 exactly, so sums of up to 256 values of 8- or
    16-bit integers are exact in it, and the mean is then divided in place; wider or
    larger sums use int64 (exact) and float data float64.
    """
    # Python ints: a product of huge factors must not wrap around like numpy's int64
    block = math.prod(min(int(f), int(n)) for f, n in zip(factors, shape, strict=True))
    if dtype.kind in "ui" and dtype.itemsize <= 2 and block <= 256:
        return np.dtype(np.float32)
    if dtype.kind in "ui":
        return np.dtype(np.int64)
    return np.dtype(np.float64)


def default_factors(dims: Sequence[str], image_type: str) -> tuple[int, ...]:
    """Default per-level factors: raw images halve ``y``, ``x``; other types halve ``z`` too."""
    halved = {"y", "x"} if image_type == "raw" else {"z", "y", "x"}
    return tuple(2 if dim in halved else 1 for dim in dims)


def level_factors(
    dims: Sequence[str],
    image_type: str,
    levels: int | Sequence[Sequence[int] | Mapping[str, int]] | None,
) -> list[tuple[int, ...]]:
    """Relative factor of each level to the previous one (level 0 excluded).

    Parameters
    ----------
    dims : sequence of str
        Dimension names in array order.
    image_type : str
        Chooses the default factors (see :func:`default_factors`).
    levels : int, sequence or None
        None: no extra level. An int ``N``: ``N`` levels in total (``N - 1`` extra ones)
        with the default factors. A sequence: one entry per extra level, each a tuple
        with one factor per dim or a mapping ``{dim: factor}`` (missing dims: 1).

    Returns
    -------
    list of tuple of int
    """
    if levels is None:
        return []
    if isinstance(levels, int) and not isinstance(levels, bool):
        if levels < 1:
            raise ValueError(f"levels must be >= 1 (level 0 included), got {levels}")
        return [default_factors(dims, image_type)] * (levels - 1)
    if isinstance(levels, bool):
        raise TypeError("levels must be an int or a sequence of per-level factors, not a bool")
    out = []
    for entry in levels:
        if isinstance(entry, Mapping):
            unknown = set(entry) - set(dims)
            if unknown:
                raise ValueError(
                    f"level factors name unknown dims {sorted(unknown)}; dims are {list(dims)}"
                )
            factors = tuple(int(entry.get(dim, 1)) for dim in dims)
        else:
            factors = tuple(int(f) for f in entry)
            if len(factors) != len(dims):
                raise ValueError(f"level factors {factors} need one value per dim {list(dims)}")
        for dim, factor in zip(dims, factors, strict=True):
            if factor < 1 or (dim in ("vs", "ch") and factor != 1):
                raise ValueError(f"invalid factor {factor} for dim {dim!r}")
        out.append(factors)
    return out


def downsample(array: da.Array, factors: Sequence[int], method: str = "mean") -> da.Array:
    """Lazily downsample a dask array by non-overlapping block reduction.

    Input chunks are first made multiples of the factors (so every block but the last
    along an axis is whole) and each chunk is reduced on its own: memory stays bounded
    by the chunk size.

    Parameters
    ----------
    array : dask.array.Array
    factors : sequence of int
    method : {"mean", "max", "min"}

    Returns
    -------
    dask.array.Array
    """
    aligned = []
    for chunks, factor, size in zip(array.chunks, factors, array.shape, strict=True):
        step = max(factor, (max(chunks) // factor) * factor) if chunks else factor
        pieces = [step] * (size // step)
        if size % step:
            pieces.append(size % step)
        aligned.append(tuple(pieces) or (0,))
    source = array.rechunk(tuple(aligned))  # type: ignore[no-untyped-call]
    out_chunks = tuple(
        tuple(-(-c // f) for c in chunks) for chunks, f in zip(source.chunks, factors, strict=True)
    )
    reduced: da.Array = source.map_blocks(
        block_reduce, factors=tuple(factors), method=method, chunks=out_chunks, dtype=array.dtype
    )
    return reduced
