"""Interpolation kernels for one block: scipy's ``affine_transform`` and a separable fast path.

Both compute ``out[o] = interpolate(data, matrix @ o + offset)`` with scipy's semantics
(spline order, boundary ``mode``, ``cval``, rounding of integer outputs), so a block gives
the same values whichever kernel computed it.

The fast path applies to orders 0 and 1 with modes ``"constant"`` and ``"nearest"`` when
one axis of the map is *decoupled* (its input coordinate depends only on its own output
coordinate, and no other input coordinate depends on it): the VISoR deskew leaves x
alone, so raw -> ortho always qualifies, as do translations and scalings. Linear
interpolation weights are then a product ``w_decoupled * w_plane``, and the block is a
1-D interpolation along the decoupled axis followed by, for every output row, a weighted
sum of 4 (order 1) or 1 (order 0) input rows: a sparse matrix (4 entries per row) times
the rows. That is ~10x faster than ``affine_transform``, which evaluates the full
trilinear stencil point by point.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage, sparse

__all__ = ["SEPARABLE_MODES", "affine_block", "decoupled_axis", "separable_block"]

#: Boundary modes the separable kernel reproduces exactly.
SEPARABLE_MODES = ("constant", "nearest")

# Output rows per step of the separable kernel are chosen to keep the float64 temporaries
# of one step near this size.
_SLAB_BYTES = 2**20

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


def decoupled_axis(matrix: npt.NDArray[np.float64]) -> int | None:
    """An axis whose input coordinate depends on its own output coordinate only.

    Parameters
    ----------
    matrix : numpy.ndarray
        The 3x3 output-index -> input-index matrix.

    Returns
    -------
    int or None
        The last such axis (x is preferred: no transposes), or None.
    """
    for axis in (2, 1, 0):
        others = [a for a in range(3) if a != axis]
        if not np.any(matrix[axis, others]) and not np.any(matrix[others, axis]):
            return axis
    return None


def affine_block(
    data: npt.NDArray[Any],
    matrix: FloatArray,
    offset: FloatArray,
    shape: tuple[int, int, int],
    *,
    order: int,
    mode: str,
    cval: float,
    dtype: np.dtype[Any],
    prefilter: bool = True,
) -> npt.NDArray[Any]:
    """One block through :func:`scipy.ndimage.affine_transform` (any order and mode).

    Parameters
    ----------
    data : numpy.ndarray
        The block's footprint.
    matrix, offset : numpy.ndarray
        Output index -> footprint index.
    shape : tuple of int
        Output block shape.
    order, mode, cval, dtype, prefilter
        As in scipy.

    Returns
    -------
    numpy.ndarray
        The block, ``dtype``.
    """
    out = np.empty(shape, dtype=dtype)
    ndimage.affine_transform(
        data,
        matrix,
        offset=offset,
        output_shape=shape,
        output=out,
        order=order,
        mode=mode,
        cval=cval,
        prefilter=prefilter,
    )
    return out


def _axis(
    coordinate: FloatArray, size: int, order: int, mode: str, limits: tuple[float, float]
) -> tuple[npt.NDArray[np.bool_], IntArray, FloatArray | None, IntArray | None]:
    """Inside mask, low neighbour, weight of the high neighbour and high neighbour per point.

    ``limits`` are the first and last voxel of the whole source in footprint coordinates:
    "inside" is decided against them (scipy's rule on the whole volume), while neighbours
    are clamped to the footprint, which holds every neighbour an inside point needs.
    """
    first, last = limits
    if mode == "nearest":
        inside = np.ones(coordinate.shape, dtype=bool)
        coordinate = np.clip(coordinate, first, last)
    else:  # scipy's "constant": points outside [0, n - 1] of the source are not interpolated
        inside = (coordinate >= first) & (coordinate <= last)
    clipped = np.clip(coordinate, 0, size - 1)
    if order == 0:  # scipy rounds half up
        return inside, np.floor(clipped + 0.5).astype(np.intp), None, None
    low = np.floor(clipped).astype(np.intp)
    return inside, low, clipped - low, np.minimum(low + 1, size - 1)


def _to_dtype(values: FloatArray, dtype: np.dtype[Any], finite: bool) -> npt.NDArray[Any]:
    """Cast like scipy: integers round half away from zero and saturate (NaN -> 0).

    ``values`` is overwritten. ``finite`` says no NaN can occur (integer source data).
    """
    if dtype.kind == "u":
        if not finite:
            np.nan_to_num(values, copy=False, nan=0.0)
        np.add(values, 0.5, out=values)
        # after clipping at 0 the cast truncates, i.e. floors: floor(v + 0.5)
        np.clip(values, 0, np.iinfo(dtype).max, out=values)
    elif dtype.kind == "i":
        signed = np.iinfo(dtype)
        if not finite:
            np.nan_to_num(values, copy=False, nan=0.0)
        values = np.where(values > 0, np.floor(values + 0.5), np.ceil(values - 0.5))
        np.clip(values, signed.min, signed.max, out=values)
    return values.astype(dtype, copy=False)


def separable_block(
    data: npt.NDArray[Any],
    matrix: FloatArray,
    offset: FloatArray,
    shape: tuple[int, int, int],
    *,
    order: int,
    mode: str,
    cval: float,
    dtype: np.dtype[Any],
    axis: int = 2,
    limits: tuple[tuple[float, float], ...] | None = None,
    origin: tuple[int, int, int] = (0, 0, 0),
) -> npt.NDArray[Any]:
    """One block by separable interpolation (orders 0/1, a decoupled ``axis``).

    Parameters
    ----------
    data : numpy.ndarray
        The block's footprint.
    matrix, offset : numpy.ndarray
        Output index -> footprint index; ``axis`` must be decoupled (see
        :func:`decoupled_axis`).
    shape : tuple of int
        Output block shape.
    order : {0, 1}
    mode : {"constant", "nearest"}
    cval : float
    dtype : numpy.dtype
    axis : int, default 2
        The decoupled axis.
    limits : tuple of (float, float), optional
        Per axis, the first and last voxel of the whole source in ``data``'s index space
        (default: ``data`` is the whole source, ``(0, n - 1)``). Points outside them are
        outside (``mode="constant"``) or clamped to them (``"nearest"``); ``data`` must
        hold every neighbour of the points inside.
    origin : tuple of int, default (0, 0, 0)
        Output index of the first voxel computed: the result is the part of the block
        ``[origin, origin + shape)``, each voxel computed exactly as in the whole block.

    Returns
    -------
    numpy.ndarray
        The block, equal to :func:`affine_block`'s up to float rounding.

    Raises
    ------
    ValueError
        For an order above 1, another mode, or an axis that is not decoupled.
    """
    if order > 1 or mode not in SEPARABLE_MODES or decoupled_axis(matrix) is None:
        raise ValueError(
            "the separable kernel needs order 0/1, constant/nearest, a decoupled axis"
        )
    if limits is None:
        limits = tuple((0.0, float(n - 1)) for n in data.shape)
    if axis != 2:
        # move the decoupled axis last (a copy of the footprint, then of the block)
        order_axes = [a for a in range(3) if a != axis] + [axis]
        permuted = matrix[np.ix_(order_axes, order_axes)]
        result = separable_block(
            np.moveaxis(data, axis, 2),
            permuted,
            offset[order_axes],
            tuple(shape[a] for a in order_axes),  # type: ignore[arg-type]
            order=order,
            mode=mode,
            cval=cval,
            dtype=dtype,
            limits=tuple(limits[a] for a in order_axes),
            origin=(origin[order_axes[0]], origin[order_axes[1]], origin[order_axes[2]]),
        )
        return np.ascontiguousarray(np.moveaxis(result, 2, axis))
    bz, by, bx = shape
    nz, ny, nx = data.shape
    rows_in = np.ascontiguousarray(data).reshape(nz * ny, nx)
    finite = data.dtype.kind in "uib" and np.isfinite(cval)
    z0, y0, x0 = origin
    x_inside, ix0, tx, ix1 = _axis(
        matrix[2, 2] * np.arange(x0, x0 + bx) + offset[2], nx, order, mode, limits[2]
    )
    # integer steps along x (the deskew keeps x): a plain slice instead of interpolation
    plain_x = (tx is None or not tx.any()) and (bx == 1 or bool(np.all(np.diff(ix0) == 1)))
    oz = np.arange(z0, z0 + bz, dtype=np.float64)[:, None]
    oy = np.arange(y0, y0 + by, dtype=np.float64)[None, :]
    plane = [(matrix[a, 0] * oz + matrix[a, 1] * oy + offset[a]).ravel() for a in (0, 1)]
    z_inside, iz0, tz, iz1 = _axis(plane[0], nz, order, mode, limits[0])
    y_inside, iy0, ty, iy1 = _axis(plane[1], ny, order, mode, limits[1])
    rows_outside = ~(z_inside & y_inside)
    x_outside = ~x_inside
    out = np.empty((bz * by, bx), dtype=dtype)
    rows = bz * by
    step = max(1, _SLAB_BYTES // (8 * bx))
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        if order == 0:
            columns = (iz0[start:stop] * ny + iy0[start:stop])[:, None]
            weights = None
        else:
            assert tz is not None
            assert ty is not None
            assert iz1 is not None
            assert iy1 is not None
            low_z, high_z = iz0[start:stop] * ny, iz1[start:stop] * ny
            columns = np.stack(
                [
                    low_z + iy0[start:stop],
                    low_z + iy1[start:stop],
                    high_z + iy0[start:stop],
                    high_z + iy1[start:stop],
                ],
                axis=1,
            )
            uz, uy = tz[start:stop], ty[start:stop]
            weights = np.stack(
                [(1 - uz) * (1 - uy), (1 - uz) * uy, uz * (1 - uy), uz * uy], axis=1
            )
        # only the input rows this slab touches (a contiguous range of flattened (z, y)
        # rows would hold every y row of every z in reach: several times more)
        first = int(columns.min())
        touched = np.zeros(int(columns.max()) - first + 1, dtype=bool)
        touched[columns - first] = True
        needed = np.flatnonzero(touched) + first
        local = (np.cumsum(touched) - 1)[columns - first]  # position of each row in `needed`
        window = rows_in[needed]
        if plain_x:
            along_x: npt.NDArray[Any] = window[:, int(ix0[0]) : int(ix0[0]) + bx]
        elif order == 0:
            along_x = window[:, ix0]
        else:
            assert tx is not None
            assert ix1 is not None
            along_x = window[:, ix0] * (1 - tx) + window[:, ix1] * tx
        if weights is None:
            values = np.asarray(along_x[local.reshape(-1)], dtype=np.float64)
        else:
            count = stop - start
            matrix_rows = sparse.csr_matrix(
                (weights.ravel(), local.reshape(-1), np.arange(0, 4 * count + 1, 4)),
                shape=(count, needed.size),
            )
            values = np.asarray(matrix_rows @ np.asarray(along_x, dtype=np.float64))
        outside = rows_outside[start:stop]
        if outside.any():
            values[outside] = cval
        if x_outside.any():
            values[:, x_outside] = cval
        out[start:stop] = _to_dtype(values, dtype, finite)
    return out.reshape(shape)
