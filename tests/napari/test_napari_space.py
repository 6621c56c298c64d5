"""space="ortho": each raw stack is a layer placed by its stored transform, not resampled."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import pytest
import SimpleITK as sitk
import xarray as xr
from fixture_data import VISOR001
from napari.components import ViewerModel
from napari_helpers import STACK_SHIFT

import visor_xarray as vx
from visor_xarray.demo import DEMO_VERSION
from visor_xarray.napari import layer_data

STACKS = ("stack_1", "stack_2", "stack_4")


def _layers(path: Path, **kwargs: Any) -> list[Any]:
    viewer = ViewerModel()
    return [viewer.add_image(d, **k) for d, k, _ in layer_data(path, **kwargs)]


def test_one_layer_per_stack_and_channel(tiled_demo: Path) -> None:
    layers = _layers(tiled_demo, name="slice_1_10x", space="ortho")
    assert [layer.name for layer in layers] == [
        f"slice_1_10x · {s} · {c} nm" for s in STACKS for c in ("488", "561")
    ]
    for layer in layers:
        assert layer.multiscale
        assert len(layer.data) == 3
        assert [level.shape for level in layer.data] == [(48, 40, 64), (48, 20, 32), (48, 10, 16)]
        assert tuple(layer.axis_labels) == ("z", "y", "x")
    # one channel's limits are shared by its stacks, so the tiles match
    assert layers[0].contrast_limits == layers[2].contrast_limits == layers[4].contrast_limits


def test_world_position_of_a_raw_voxel_is_the_stored_transform(tiled_demo: Path) -> None:
    layers = _layers(tiled_demo, name="slice_1_10x", space="ortho")
    stored = vx.Transform(tiled_demo, version=DEMO_VERSION, name="slice_1_10x")
    rng = np.random.default_rng(3)
    voxels = rng.integers(0, (48, 40, 64), size=(20, 3)).astype(float)
    for layer in layers:
        stack, channel = layer.metadata["stack"], layer.metadata["channel"]
        transform = stored.load("raw_to_ortho", stack=stack, channel=channel)
        for voxel in voxels:
            world = np.array(layer.data_to_world(voxel))
            np.testing.assert_allclose(world, transform.apply(voxel), atol=1e-9)
    # the stacks are tiled: stack_4's first voxel sits two shifts from stack_1's
    first = [np.array(layer.data_to_world((0, 0, 0))) for layer in layers[::2]]
    np.testing.assert_allclose(first[2] - first[0], 2 * STACK_SHIFT, atol=1e-9)


def test_coarser_levels_line_up(tiled_demo: Path) -> None:
    layer = _layers(tiled_demo, name="slice_2_10x", space="ortho", stacks=["stack_2"])[1]
    transform = vx.Transform(tiled_demo, version=DEMO_VERSION, name="slice_2_10x").load(
        "raw_to_ortho", stack="stack_2", channel="561"
    )
    for k in (1, 2):
        level = xr.open_dataset(tiled_demo, engine="visor", name="slice_2_10x", resolution=k)
        factors = layer.downsample_factors[k]
        for index in [(0, 0, 0), (10, 4, 6), (47, 40 // 2**k - 1, 64 // 2**k - 1)]:
            world = np.array(layer.data_to_world(np.array(index) * factors))
            coordinate = np.array([level[d].values[i] for d, i in zip("zyx", index, strict=True)])
            raw_index = coordinate / np.array([3.5, 1.03, 1.03])  # level-0 coords start at 0
            truth = transform.apply(raw_index)
            # within one voxel of that level, mapped into ortho space
            step = np.abs(transform.matrix) @ np.array([1.0, 2.0**k, 2.0**k])
            assert np.all(np.abs(world - truth) <= step + 1e-9)
            if k == 1 and index == (10, 4, 6):
                assert not np.allclose(world, truth)  # the half-voxel of block means


def _names(collection: Any) -> set[str]:
    """The array names of a dask collection's (or scheduled expression's) graph keys."""
    return {k[0] if isinstance(k, tuple) else str(k) for k in collection.__dask_graph__()}


def test_opening_computes_only_the_coarsest_level(tiled_demo: Path) -> None:
    graphs: list[set[str]] = []

    def recording(dsk: Any, keys: Any, **kwargs: Any) -> Any:
        graphs.append(_names(dsk))
        return dask.get(dsk, keys, **kwargs)

    with dask.config.set(scheduler=recording):
        layers = layer_data(tiled_demo, space="ortho")
    assert len(layers) == 12
    assert len(graphs) == 2  # one contrast pass per image
    finer: set[str] = set()
    for data, kwargs, _ in layers:
        assert "affine" in kwargs
        for level in data:
            assert isinstance(level, da.Array)
            assert not any("resampl" in name for name in _names(level))
        for level in data[:-1]:
            finer |= _names(level)
    computed = set().union(*graphs)
    assert not computed & finer
    assert not any("resampl" in name for name in computed)


def test_a_model_transform_needs_resampling() -> None:
    with pytest.raises(vx.UnsupportedTransformError, match=r"resample\(to_space='brain'"):
        layer_data(VISOR001, name="slice_1_10x", space="brain")


def test_a_displacement_field_needs_resampling(tiled_demo: Path, tmp_path: Path) -> None:
    path = shutil.copytree(tiled_demo, tmp_path / "demo.vsr")
    slice_dir = path / "visor_recon_transforms" / DEMO_VERSION / "slice_1_10x"
    field = sitk.Image([4, 4, 4], sitk.sitkVectorFloat64, 3)
    (slice_dir / "ortho_to_slice").mkdir()
    sitk.WriteImage(field, str(slice_dir / "ortho_to_slice" / "dense displacement field.mha"))
    listing = json.loads((slice_dir / "transforms.json").read_text())
    listing.append({"name": "ortho_to_slice", "type": "dense displacement field", "format": "mha"})
    (slice_dir / "transforms.json").write_text(json.dumps(listing))
    assert layer_data(path, name="slice_1_10x", space="ortho")  # the affine part still works
    with pytest.raises(vx.UnsupportedTransformError, match="resample"):
        layer_data(path, name="slice_1_10x", space="slice")


def test_space_needs_a_raw_image(tiled_demo: Path) -> None:
    with pytest.raises(ValueError, match="raw"):
        layer_data(tiled_demo, image_type="recon", space="ortho")
    with pytest.raises(vx.UnknownTransformError, match="chain of transforms"):
        layer_data(tiled_demo, name="slice_1_10x", space="slice")
