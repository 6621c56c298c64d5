"""What ``to_vsr`` writes into ``attributes.visor``: channel fields that ``sel(ch=...)`` left
scalar, ``sources`` and ``transform_version`` from a resampled array's provenance, and the
Dataset form of ``to_vsr``. Real samples on disk, read back through the engine and as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

import visor_xarray as vx
from visor_xarray.demo import DEMO_VERSION, make_demo_sample

IMAGE = "slice_1_10x"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo_sample(tmp_path_factory.mktemp("metadata") / "demo.vsr")


@pytest.fixture
def image(demo: Path) -> xr.DataArray:
    return xr.open_dataset(demo, engine="visor", name=IMAGE, chunks={})["image"]


def visor_attrs(sample: Path, image_type: str, name: str) -> dict[str, Any]:
    document = sample / f"visor_{image_type}_images" / f"{name}.zarr" / "zarr.json"
    visor: dict[str, Any] = json.loads(document.read_text())["attributes"]["visor"]
    return visor


def stored_channel(sample: Path, label: str) -> dict[str, Any]:
    channels = visor_attrs(sample, "raw", IMAGE)["channels"]
    return next(c for c in channels if c["wavelength"] == label)


def test_readme_recon_example_keeps_channel_fields_and_provenance(
    demo: Path, image: xr.DataArray, tmp_path: Path
) -> None:
    ortho = image.sel(vs="stack_2", ch="561").visor.resample(
        to_space="ortho", version=DEMO_VERSION
    )
    out = tmp_path / "OUT.vsr"
    ortho.expand_dims("ch").visor.to_vsr(out, image_type="recon", name="ortho_561", levels=2)
    written = visor_attrs(out, "recon", "ortho_561")
    source = stored_channel(demo, "561")
    (channel,) = written["channels"]
    # every scalar acquisition field of the source channel, not only index and wavelength
    expected = {k: v for k, v in source.items() if not isinstance(v, list)}
    assert channel == {**expected, "index": 0}
    assert written["sources"] == [{"path": f"visor_raw_images/{IMAGE}.zarr", "channels": ["561"]}]
    assert written["transform_version"] == DEMO_VERSION
    back = xr.open_dataset(out, engine="visor", image_type="recon")
    assert float(back["power"].item()) == source["power"]
    assert back["filter"].item() == source["filter"] == "593/40"
    assert back.attrs["transform_version"] == DEMO_VERSION
    assert back.attrs["sources"] == [f"visor_raw_images/{IMAGE}.zarr"]


def test_resampled_stacks_and_channels_name_their_source(
    image: xr.DataArray, tmp_path: Path
) -> None:
    ortho = image.isel(z=slice(0, 16)).visor.resample(
        to_space="ortho", version=DEMO_VERSION, level=None
    )
    out = tmp_path / "OUT.vsr"
    ortho.astype("uint16").visor.to_vsr(out, image_type="recon", name="all")
    written = visor_attrs(out, "recon", "all")
    assert written["sources"] == [
        {"path": f"visor_raw_images/{IMAGE}.zarr", "channels": ["488", "561"]}
    ]
    assert written["transform_version"] == DEMO_VERSION
    assert [c["exposure"] for c in written["channels"]] == [4.0, 4.0]
    # explicit attrs= still win over the provenance
    ortho.astype("uint16").visor.to_vsr(
        out, image_type="recon", name="other", attrs={"transform_version": "vx_20991231"}
    )
    assert visor_attrs(out, "recon", "other")["transform_version"] == "vx_20991231"


def test_only_marked_scalar_coordinates_become_channel_fields(
    image: xr.DataArray, tmp_path: Path
) -> None:
    one = image.isel(vs=0, z=slice(0, 16)).sel(ch="488").compute()
    one = one.assign_coords(operator="me", z_offset=np.float64(1.5)).expand_dims("ch")
    out = tmp_path / "OUT.vsr"
    one.visor.to_vsr(out, image_type="raw", name="one")
    (channel,) = visor_attrs(out, "raw", "one")["channels"]
    assert "operator" not in channel  # a scalar coordinate the engine did not mark
    assert "z_offset" not in channel
    assert "vs" not in channel
    assert "position_x" not in channel
    assert channel["power"] == 60.0  # marked by the engine: kept


def test_dataset_to_vsr_writes_its_image(demo: Path, tmp_path: Path) -> None:
    dataset = xr.open_dataset(demo, engine="visor", name=IMAGE, chunks={})
    picked = dataset.sel(vs=["stack_4"], ch=["561"])
    report = picked.visor.to_vsr(tmp_path / "A.vsr", image_type="raw", name="picked", levels=2)
    assert [level.path for level in report.levels] == ["0", "1"]
    picked["image"].visor.to_vsr(tmp_path / "B.vsr", image_type="raw", name="picked", levels=2)
    a = xr.open_dataset(tmp_path / "A.vsr", engine="visor", name="picked")
    b = xr.open_dataset(tmp_path / "B.vsr", engine="visor", name="picked")
    xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())
    assert visor_attrs(tmp_path / "A.vsr", "raw", "picked") == visor_attrs(
        tmp_path / "B.vsr", "raw", "picked"
    )
    np.testing.assert_array_equal(
        a["image"].values, dataset["image"].sel(vs=["stack_4"], ch=["561"]).values
    )


def test_dataset_to_vsr_needs_one_image_variable(demo: Path, tmp_path: Path) -> None:
    dataset = xr.open_dataset(demo, engine="visor", name=IMAGE)
    pair = xr.Dataset({"a": dataset["image"], "b": dataset["image"] * 2}, attrs=dataset.attrs)
    with pytest.raises(vx.InvalidArrayError, match=r"has \['a', 'b'\]"):
        pair.visor.to_vsr(tmp_path / "X.vsr", image_type="raw", name="x")
    assert not (tmp_path / "X.vsr").exists()
    renamed = dataset.rename({"image": "signal"}).isel(vs=[0], ch=[0], z=slice(0, 16))
    renamed.visor.to_vsr(tmp_path / "Y.vsr", image_type="raw", name="y")
    assert xr.open_dataset(tmp_path / "Y.vsr", engine="visor")["image"].shape == (1, 1, 16, 40, 64)
