"""layer_data: lazy multiscale layers per channel, names, colours, scale, contrast."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from fixture_data import VISOR001
from napari.components import ViewerModel

from visor_xarray.napari import channel_colormap, layer_data


def _level(path: Path, name: str, level: int) -> xr.DataArray:
    return xr.open_dataset(path, engine="visor", name=name, resolution=level, chunks={})["image"]


def test_channel_colormaps_follow_wavelength() -> None:
    assert [channel_colormap(w) for w in (405, 488, 561, 640, 785, None)] == [
        "blue",
        "green",
        "yellow",
        "magenta",
        "gray",
        "gray",
    ]


def test_layers_as_recorded(tiled_demo: Path) -> None:
    layers = layer_data(tiled_demo, name="slice_1_10x")
    assert [kwargs["name"] for _, kwargs, _ in layers] == [
        "slice_1_10x · 488 nm",
        "slice_1_10x · 561 nm",
    ]
    viewer = ViewerModel()
    added = [viewer.add_image(data, **kwargs) for data, kwargs, _ in layers]
    coarsest = _level(tiled_demo, "slice_1_10x", 2)
    for position, (layer, (data, _, kind)) in enumerate(zip(added, layers, strict=True)):
        assert kind == "image"
        assert layer.multiscale
        assert [level.shape for level in data] == [
            (3, 48, 40, 64),
            (3, 48, 20, 32),
            (3, 48, 10, 16),
        ]
        assert all(isinstance(level, da.Array) for level in data)
        assert tuple(layer.axis_labels) == ("vs", "z", "y", "x")
        np.testing.assert_allclose(layer.scale, [1.0, 3.5, 1.03, 1.03])
        channel = coarsest.isel(ch=position).values
        assert tuple(layer.contrast_limits) == (channel.min(), channel.max())
    assert [layer.colormap.name for layer in added] == ["green", "yellow"]
    assert [str(u) for u in added[0].units] == ["pixel", "micrometer", "micrometer", "micrometer"]


def test_every_level_lands_where_its_coordinates_say(tiled_demo: Path) -> None:
    (data, kwargs, _), *_ = layer_data(tiled_demo, name="slice_1_10x", channels=["561"])
    layer = ViewerModel().add_image(data, **kwargs)
    for k in range(3):
        level = _level(tiled_demo, "slice_1_10x", k)
        size = np.array([level.visor.spacing[d].magnitude for d in "zyx"])
        for index in [(0, 0, 0), (5, 3, 7), tuple(s - 1 for s in data[k].shape[1:])]:
            # napari draws level-k voxel i at level-0 data position i * (shape0 / shapek)
            world = np.array(
                layer.data_to_world((1, *(np.array(index) * layer.downsample_factors[k][1:])))
            )
            truth = np.array(
                [level.coords[d].values[i] for d, i in zip("zyx", index, strict=True)]
            )
            assert world[0] == 1.0
            if k == 0:
                np.testing.assert_allclose(world[1:], truth, atol=1e-9)
            # a coarse level's block-mean centres sit up to a voxel of that level from
            # where napari's shape-ratio model puts them (napari has no per-level offset)
            assert np.all(np.abs(world[1:] - truth) <= size + 1e-9)


def test_stack_and_channel_choices(tiled_demo: Path) -> None:
    layers = layer_data(tiled_demo, stacks=["stack_4", "stack_1"], channels=["561"])
    assert [kwargs["name"] for _, kwargs, _ in layers] == [
        "slice_1_10x · 561 nm",
        "slice_2_10x · 561 nm",
    ]
    assert layers[0][0][0].shape == (2, 48, 40, 64)
    assert layers[0][1]["colormap"] == "yellow"


def test_images_without_the_channel_are_left_out() -> None:
    names = [kwargs["name"] for _, kwargs, _ in layer_data(VISOR001, channels=["640"])]
    assert names == ["slice_1_10x_1 · 640 nm", "xxx_slice_1_10x_20241201 · 640 nm"]
    with pytest.raises(KeyError, match="slice_1_10x"):
        layer_data(VISOR001, channels=["999"])


def test_single_level_images_are_plain_arrays() -> None:
    layers = layer_data(VISOR001, image_type="raw", name="slice_1_10x")
    data, kwargs, _ = layers[0]
    assert isinstance(data, da.Array)
    assert "multiscale" not in kwargs
    layer = ViewerModel().add_image(data, **kwargs)
    assert not layer.multiscale
    assert layer.data.shape == (2, 4, 4, 4)
