"""The separable block kernel reproduces scipy's affine_transform (orders 0/1)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
import xarray as xr

from visor_xarray.resample import OutputGrid, resample_to_grid
from visor_xarray.resample.kernels import affine_block, decoupled_axis, separable_block
from visor_xarray.transforms import deskew


def _decoupled(axis: int, seed: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    rng = np.random.default_rng(seed)
    matrix = np.zeros((3, 3))
    others = [a for a in range(3) if a != axis]
    matrix[np.ix_(others, others)] = rng.normal(0, 0.4, (2, 2)) + np.eye(2) * 0.8
    matrix[axis, axis] = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.3)
    # the output centre maps near the input centre, so most of the block sees data
    centre_in, centre_out = (np.array([13, 17, 11]) - 1) / 2, (np.array([15, 12, 14]) - 1) / 2
    return matrix, centre_in - matrix @ centre_out + rng.uniform(-3, 3, 3)


def test_decoupled_axis() -> None:
    assert decoupled_axis(np.eye(3)) == 2
    skew = deskew(45, (3.5, 1.03, 1.03), 30).inverse().matrix
    assert decoupled_axis(skew) == 2
    assert decoupled_axis(np.array([[1.0, 0, 0], [0, 1, 0.2], [0, 0.3, 1]])) == 0
    assert decoupled_axis(np.array([[1.0, 0.1, 0.2], [0, 1, 0.2], [0.4, 0.3, 1]])) is None


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("mode", ["constant", "nearest"])
@pytest.mark.parametrize("dtype", ["float64", "uint16", "int16"])
def test_separable_equals_scipy(axis: int, order: int, mode: str, dtype: str) -> None:
    rng = np.random.default_rng(axis * 10 + order)
    data = rng.uniform(-50 if dtype == "int16" else 0, 3000, (13, 17, 11))
    if dtype != "float64":
        data = np.round(data).astype(dtype)
    matrix, offset = _decoupled(axis, seed=order + 3 * axis)
    shape = (15, 12, 14)
    kwargs = {"order": order, "mode": mode, "cval": 7.0, "dtype": np.dtype(dtype)}
    ours = separable_block(data, matrix, offset, shape, axis=axis, **kwargs)  # type: ignore[arg-type]
    theirs = affine_block(data, matrix, offset, shape, **kwargs)  # type: ignore[arg-type]
    assert ours.dtype == theirs.dtype
    assert ours.shape == theirs.shape
    if dtype == "float64":
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    else:
        # exact .5 ties may round the other way: coordinates differ in the last bits
        assert np.abs(ours.astype(np.int64) - theirs).max() <= 1
        assert np.mean(ours == theirs) > 0.995
    assert np.mean(theirs == 7) < 0.75  # a good part of the block sees data


def test_separable_degenerate_shapes() -> None:
    data = np.arange(2 * 3 * 1, dtype=np.float64).reshape(2, 3, 1)
    matrix, offset = np.diag([0.5, 1.0, 1.0]), np.array([0.2, 0.0, 0.0])
    for shape in [(3, 3, 1), (1, 1, 1)]:
        ours = separable_block(
            data,
            matrix,
            offset,
            shape,
            order=1,
            mode="constant",
            cval=0.0,
            dtype=np.dtype("float64"),
        )
        theirs = affine_block(
            data,
            matrix,
            offset,
            shape,
            order=1,
            mode="constant",
            cval=0.0,
            dtype=np.dtype("float64"),
        )
        np.testing.assert_allclose(ours, theirs, atol=1e-12)
    with pytest.raises(ValueError, match="separable"):
        separable_block(
            data,
            matrix,
            offset,
            (1, 1, 1),
            order=3,
            mode="constant",
            cval=0.0,
            dtype=np.dtype("float64"),
        )


@pytest.mark.parametrize("order", [0, 1])
def test_kernel_choice_does_not_change_results(order: int) -> None:
    rng = np.random.default_rng(order)
    volume = rng.uniform(0, 4000, (20, 30, 25)).astype(np.float32)
    source = xr.DataArray(
        volume,
        dims=("z", "y", "x"),
        coords={
            d: s * np.arange(n)
            for d, s, n in zip("zyx", (3.5, 1.03, 1.03), volume.shape, strict=True)
        },
    )
    transform = deskew(45, (1.0, 1.0, 1.0), 30)  # on coordinates (µm)
    low, high = transform.transform_bounds([0, 0, 0], [66.5, 29.87, 24.72])
    grid = OutputGrid.from_bounds(low, high, 0.77)
    fast = resample_to_grid(source, transform, grid, order=order, chunks=16, dtype="float64")
    slow = resample_to_grid(
        source, transform, grid, order=order, chunks=16, dtype="float64", kernel="scipy"
    )
    np.testing.assert_allclose(fast.values, slow.values, atol=1e-9)
    with pytest.raises(ValueError, match="kernel"):
        resample_to_grid(source, transform, grid, kernel="fast")


def test_default_block_shapes() -> None:
    from visor_xarray.resample import OutputGrid
    from visor_xarray.resample.block_shape import default_block
    from visor_xarray.transforms import Affine

    assert default_block([Affine.identity()], (500, 500, 500), 1) == (128, 128, 128)
    assert default_block([Affine.identity()], (50, 500, 500), 1) == (50, 128, 128)
    transform = deskew(45, (3.5, 1.03, 1.03), 256)
    low, high = transform.transform_bounds([0, 0, 0], [255, 255, 255])
    grid = OutputGrid.from_bounds(low, high, 1.03, snap=True)
    pull = transform.inverse() @ grid.index_to_space()
    block = default_block([pull], grid.shape, 1)
    assert block[0] > block[1]  # elongated along the shear
    assert 2**20 <= np.prod(block) <= 2**21

    def footprint_per_voxel(edges: tuple[int, int, int]) -> float:
        return float(np.prod(np.abs(pull.matrix) @ np.asarray(edges, float) + 3) / np.prod(edges))

    assert footprint_per_voxel(block) < 0.7 * footprint_per_voxel((128, 128, 128))
