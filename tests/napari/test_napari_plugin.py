"""The npe2 manifest, the reader, .visor.view() and the dock widget's functions, headless."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import numpy as np
import xarray as xr
from napari.components import ViewerModel
from npe2 import PluginManifest

import visor_xarray as vx
from visor_xarray.demo import DEMO_VERSION
from visor_xarray.napari import (
    add_sample_layers,
    layer_data,
    napari_get_reader,
    sample_choices,
)

PACKAGE = Path(vx.__file__).parent
ROOT = PACKAGE.parent


def _resolve(python_name: str) -> object:
    module, _, attribute = python_name.partition(":")
    return getattr(importlib.import_module(module), attribute)


def test_manifest_is_valid_and_registered() -> None:
    manifest = PluginManifest.from_file(PACKAGE / "napari" / "napari.yaml")
    assert manifest.name == "visor-xarray"
    commands = {c.id: c for c in manifest.contributions.commands or []}
    reader = (manifest.contributions.readers or [])[0]
    assert reader.accepts_directories
    assert reader.filename_patterns == ["*.vsr"]
    assert _resolve(commands[reader.command].python_name) is napari_get_reader
    widget = (manifest.contributions.widgets or [])[0]
    assert callable(_resolve(commands[widget.command].python_name))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    entry = project["entry-points"]["napari.manifest"]["visor-xarray"]
    assert entry == "visor_xarray.napari:napari.yaml"
    assert (PACKAGE / "napari" / entry.partition(":")[2]).is_file()
    assert "napari" not in " ".join(project["dependencies"])
    assert not any("qt" in d.lower() for d in project["optional-dependencies"]["test"])


def test_reader_opens_a_sample(tiled_demo: Path, tmp_path: Path) -> None:
    reader = napari_get_reader(str(tiled_demo))
    assert reader is not None
    assert napari_get_reader(str(tmp_path)) is None  # not a .vsr
    assert napari_get_reader(str(tmp_path / "missing.vsr")) is None
    layers = reader(str(tiled_demo))
    assert [k["name"] for _, k, _ in layers] == [k["name"] for _, k, _ in layer_data(tiled_demo)]
    assert len(layers) == 4
    viewer = ViewerModel()
    for data, kwargs, kind in layers:
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    assert len(viewer.layers) == 4
    assert viewer.layers[0].multiscale


def test_view_shows_an_array(tiled_demo: Path) -> None:
    ds = xr.open_dataset(tiled_demo, engine="visor", name="slice_1_10x", chunks={})
    viewer = ViewerModel()
    assert ds.visor.view(viewer=viewer) is viewer
    assert [layer.name for layer in viewer.layers] == [
        "slice_1_10x · 488 nm",
        "slice_1_10x · 561 nm",
    ]
    layer = viewer.layers[1]
    assert layer.data.shape == (3, 48, 40, 64)
    assert not layer.multiscale
    coarsest = xr.open_dataset(tiled_demo, engine="visor", name="slice_1_10x", resolution=2)
    values = coarsest["image"].sel(ch="561").values
    assert tuple(layer.contrast_limits) == (values.min(), values.max())
    subset = ds["image"].sel(vs="stack_2", ch="488").isel(z=slice(10, 20))
    subset.visor.view(viewer=viewer)
    assert viewer.layers[-1].name == "slice_1_10x · stack_2 · 488 nm"
    np.testing.assert_allclose(viewer.layers[-1].translate, [35.0, 0.0, 0.0])


def test_view_in_ortho_space_places_the_subset(tiled_demo: Path) -> None:
    image = xr.open_dataset(tiled_demo, engine="visor", name="slice_1_10x", chunks={})["image"]
    subset = image.sel(vs="stack_4", ch="561").isel(z=slice(8, 30), y=slice(5, None))
    viewer = subset.visor.view(space="ortho", viewer=ViewerModel())
    assert viewer.dims.ndisplay == 3
    (layer,) = viewer.layers
    transform = vx.Transform(tiled_demo, version=DEMO_VERSION, name="slice_1_10x").load(
        "raw_to_ortho", stack="stack_4", channel="561"
    )
    # voxel (2, 3, 4) of the subset is raw level-0 voxel (10, 8, 4)
    np.testing.assert_allclose(
        layer.data_to_world((2, 3, 4)), transform.apply([10.0, 8.0, 4.0]), atol=1e-9
    )


def test_plain_arrays_show_with_their_coordinates() -> None:
    array = xr.DataArray(
        np.arange(24.0).reshape(2, 3, 4),
        dims=("z", "y", "x"),
        coords={"z": [1.0, 3.0], "y": [0.0, 0.5, 1.0], "x": [0.0, 2.0, 4.0, 6.0]},
        name="plain",
    )
    viewer = array.visor.view(viewer=ViewerModel())
    (layer,) = viewer.layers
    assert layer.name == "plain"
    assert layer.colormap.name == "gray"
    np.testing.assert_allclose(layer.scale, [2.0, 0.5, 2.0])
    np.testing.assert_allclose(layer.translate, [1.0, 0.0, 0.0])
    assert tuple(layer.contrast_limits) == (0.0, 23.0)


def test_widget_choices_and_adding(tiled_demo: Path) -> None:
    choices = {c.image: c for c in sample_choices(tiled_demo)}
    assert list(choices) == ["raw/slice_1_10x", "raw/slice_2_10x"]
    chosen = choices["raw/slice_2_10x"]
    assert chosen.spaces == ("as recorded", f"ortho@{DEMO_VERSION}")
    assert chosen.stacks == ("stack_1", "stack_2", "stack_4")
    assert chosen.channels == ("488", "561")
    viewer = ViewerModel()
    added = add_sample_layers(
        viewer, tiled_demo, chosen.image, chosen.spaces[1], ["stack_2"], ["561"]
    )
    assert [layer.name for layer in added] == ["slice_2_10x · stack_2 · 561 nm"]
    assert viewer.dims.ndisplay == 3
    assert not np.allclose(added[0].affine.affine_matrix, np.eye(4))
    add_sample_layers(viewer, tiled_demo, "raw/slice_1_10x", "as recorded", [], [])
    assert len(viewer.layers) == 3
