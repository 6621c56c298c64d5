"""block_reduce against a per-block numpy reference, whole and slab by slab."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from visor_xarray.write import pyramid
from visor_xarray.write.pyramid import block_reduce

DTYPES = (
    np.uint8,
    np.int8,
    np.uint16,
    np.int16,
    np.uint32,
    np.int32,
    np.int64,
    np.float32,
    np.float64,
)


def reference(data: np.ndarray, factors: tuple[int, ...], method: str) -> np.ndarray:
    """One numpy reduction per output voxel (slow, obviously right)."""
    shape = tuple(-(-n // f) for n, f in zip(data.shape, factors, strict=True))
    out = np.empty(shape, dtype=np.float64)
    for index in np.ndindex(*shape):
        block = data[tuple(slice(i * f, (i + 1) * f) for i, f in zip(index, factors, strict=True))]
        if method == "mean":
            out[index] = block.astype(np.float64).mean()
        else:
            out[index] = getattr(block, method)()
    if data.dtype.kind in "ui":
        out = np.rint(out)
    return out.astype(data.dtype)


@st.composite
def cases(draw: st.DrawFn) -> tuple[np.ndarray, tuple[int, ...], str]:
    ndim = draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(1, 11), min_size=ndim, max_size=ndim)))
    factors = tuple(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if dtype.kind in "ui":  # the whole range, extremes and negative values included
        info = np.iinfo(dtype)
        low, high = max(int(info.min), -(2**40)), min(int(info.max), 2**40)
        data = rng.integers(low, high, size=shape, endpoint=True).astype(dtype)
        if dtype.itemsize <= 4:  # int64 sums of int64 extremes overflow (documented)
            data.flat[:: max(1, data.size // 3)] = info.max if seed % 2 else info.min
    else:
        data = rng.integers(-30_000, 30_000, size=shape).astype(dtype)
    if dtype.kind == "f":
        data = data + rng.random(shape).astype(dtype)
    return data, factors, draw(st.sampled_from(("mean", "max", "min")))


@settings(max_examples=150, deadline=None)
@given(case=cases(), slab_bytes=st.sampled_from((8, 64, 4 * 2**20)))
def test_block_reduce_matches_reference(
    case: tuple[np.ndarray, tuple[int, ...], str], slab_bytes: int
) -> None:
    data, factors, method = case
    original = pyramid._SLAB_BYTES
    pyramid._SLAB_BYTES = slab_bytes  # small slabs force the slab-by-slab path
    try:
        result = block_reduce(data, factors, method)
    finally:
        pyramid._SLAB_BYTES = original
    expected = reference(data, factors, method)
    assert result.dtype == data.dtype
    assert result.shape == expected.shape
    if data.dtype.kind == "f" and method == "mean":
        np.testing.assert_allclose(result, expected, rtol=1e-6)
    else:
        np.testing.assert_array_equal(result, expected)


def test_block_reduce_returns_a_new_array_when_no_axis_is_reduced() -> None:
    data = np.arange(6, dtype=np.uint16).reshape(2, 3)
    for method in ("mean", "max"):
        result = block_reduce(data, (1, 1), method)
        assert result is not data
        np.testing.assert_array_equal(result, data)


@pytest.mark.parametrize("factors", [(2,), (1, 0), (2, 2, 2)])
def test_block_reduce_refuses_bad_factors(factors: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="factors"):
        block_reduce(np.zeros((4, 4), np.uint16), factors)


def test_huge_factors_do_not_wrap_the_block_size() -> None:
    # 2**33 * 2**31 wraps to 0 in int64; the sum must still be exact (2.5 -> 2, 65534.67)
    np.testing.assert_array_equal(
        block_reduce(np.array([[1, 2], [3, 4]], np.uint16), (2**33, 2**31)), [[2]]
    )
    np.testing.assert_array_equal(
        block_reduce(np.array([65535, 65534, 65535], np.uint16), (2**40,)), [65535]
    )


def test_uint16_mean_of_large_values_stays_in_range() -> None:
    data = np.full((3, 3), 65535, dtype=np.uint16)
    np.testing.assert_array_equal(block_reduce(data, (2, 2)), np.full((2, 2), 65535))
