"""``to_vsr`` into samples on a loopback S3 server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from conftest import upload_tree
from fixture_data import VISOR001

import visor_xarray as vx
from visor_xarray.errors import TargetExistsError
from visor_xarray.testing import make_sample
from visor_xarray.zarr_io.markers import WRITE_MARKER
from visor_xarray.zarr_io.remote_path import RemotePath


@pytest.fixture
def image(tmp_path: Path) -> xr.DataArray:
    sample = make_sample(tmp_path / "S.vsr", shape=(24, 40, 48))
    return xr.open_dataset(sample, engine="visor", chunks={})["image"]


def test_to_vsr_writes_a_remote_sample_that_reads_back(
    image: xr.DataArray, s3_bucket: str, s3_options: dict[str, Any]
) -> None:
    url = f"s3://{s3_bucket}/new/OUT.vsr"
    report = image.visor.to_vsr(
        url, image_type="raw", name="slice_1_10x", levels=2, storage_options=s3_options
    )
    assert str(report.path) == url
    assert [level.path for level in report.levels] == ["0", "1"]
    back = xr.open_dataset(url, engine="visor", name="slice_1_10x", storage_options=s3_options)
    np.testing.assert_array_equal(back["image"].values, image.values)
    xr.testing.assert_equal(back["image"].drop_attrs(), image.compute().drop_attrs())
    level1 = xr.open_dataset(
        url, engine="visor", name="slice_1_10x", resolution=1, storage_options=s3_options
    )
    assert level1["image"].shape[-1] == image.shape[-1] // 2
    remote = RemotePath(url, s3_options)
    assert not (remote / "visor_raw_images" / "slice_1_10x.zarr" / WRITE_MARKER).is_file()
    summary = vx.info(url, storage_options=s3_options)
    assert summary.image_types == ("raw",)


def test_a_second_image_joins_the_selection_and_w_minus_refuses(
    image: xr.DataArray, s3_bucket: str, s3_options: dict[str, Any]
) -> None:
    url = f"s3://{s3_bucket}/OUT.vsr"
    image.visor.to_vsr(url, image_type="raw", name="slice_1_10x", storage_options=s3_options)
    image.visor.to_vsr(url, image_type="raw", name="slice_2_10x", storage_options=s3_options)
    selected = json.loads(
        RemotePath(url, s3_options).joinpath("visor_raw_images", "selected.json").read_text()
    )
    assert [entry["name"] for entry in selected] == ["slice_1_10x", "slice_2_10x"]
    with pytest.raises(TargetExistsError, match="slice_1_10x"):
        image.visor.to_vsr(url, image_type="raw", name="slice_1_10x", storage_options=s3_options)
    doubled = image * 2
    doubled.attrs = image.attrs
    doubled.visor.to_vsr(
        url, image_type="raw", name="slice_1_10x", mode="w", storage_options=s3_options
    )
    back = xr.open_dataset(url, engine="visor", name="slice_1_10x", storage_options=s3_options)
    np.testing.assert_array_equal(back["image"].values, (image * 2).values)


def test_region_writes_and_new_levels_change_a_remote_image(
    image: xr.DataArray, s3_bucket: str, s3_options: dict[str, Any]
) -> None:
    url = f"s3://{s3_bucket}/OUT.vsr"
    image.visor.to_vsr(url, image_type="raw", name="slice_1_10x", storage_options=s3_options)
    patch = (image.isel(z=slice(8, 16)) + 7).compute()
    patch.attrs = image.attrs
    report = patch.visor.to_vsr(
        url,
        image_type="raw",
        name="slice_1_10x",
        mode="r+",
        region={"z": slice(8, 16)},
        storage_options=s3_options,
    )
    assert str(report.path) == url
    expected = image.values.copy()
    expected[:, :, 8:16] += 7
    back = xr.open_dataset(url, engine="visor", name="slice_1_10x", storage_options=s3_options)
    np.testing.assert_array_equal(back["image"].values, expected)

    added = vx.add_levels(
        url, image_type="raw", name="slice_1_10x", levels=3, storage_options=s3_options
    )
    assert [level.path for level in added.levels] == ["1", "2"]
    coarse = xr.open_dataset(
        url, engine="visor", name="slice_1_10x", resolution=2, storage_options=s3_options
    )
    assert coarse["image"].shape[-1] == image.shape[-1] // 4
    remote = RemotePath(url, s3_options) / "visor_raw_images" / "slice_1_10x.zarr"
    assert not (remote / WRITE_MARKER).is_file()
    with pytest.raises(vx.UnknownImageError, match="nope"):
        vx.add_levels(url, image_type="raw", name="nope", levels=2, storage_options=s3_options)


def test_transforms_are_saved_into_a_remote_sample(
    image: xr.DataArray, s3_bucket: str, s3_options: dict[str, Any]
) -> None:
    from visor_xarray.transforms import deskew

    url = f"s3://{s3_bucket}/OUT.vsr"
    image.visor.to_vsr(url, image_type="raw", name="slice_1_10x", storage_options=s3_options)
    shear = deskew(45, (3.5, 1.03, 1.03), image.sizes["y"])
    saver = vx.Transform(url, "v1", "slice_1_10x", storage_options=s3_options)
    saved = saver.save(shear, stack=0, channel=0)
    by_label = saver.save(shear, stack="stack_1", channel="488", overwrite=True)  # labels too
    assert by_label == saved
    assert str(saved).startswith(url)
    loaded = vx.Transform(url, "v1", "slice_1_10x", mode="r", storage_options=s3_options)
    np.testing.assert_allclose(
        loaded.load("raw_to_ortho", stack=0, channel=0).matrix, shear.matrix
    )
    assert [r.version for r in vx.list_transform(url, storage_options=s3_options)] == ["v1"]
    ortho = (
        xr.open_dataset(
            url, engine="visor", name="slice_1_10x", chunks={}, storage_options=s3_options
        )["image"]
        .isel(vs=0, ch=0)
        .visor.resample(to_space="ortho", version="v1")
    )
    assert ortho.notnull().any()


def test_remote_whole_image_writes_check_their_mode_and_target(
    image: xr.DataArray,
    tmp_path: Path,
    s3_bucket: str,
    s3_options: dict[str, Any],
    http_root: tuple[Path, str],
) -> None:

    from visor_xarray.errors import LegacyLayoutError, RemoteUnsupportedError
    from visor_xarray.testing import make_legacy_sample
    from visor_xarray.zarr_io.markers import WriteInProgressError

    url = f"s3://{s3_bucket}/OUT.vsr"
    image.visor.to_vsr(url, image_type="raw", name="slice_1_10x", storage_options=s3_options)
    before = xr.open_dataset(url, engine="visor", name="slice_1_10x", storage_options=s3_options)
    with pytest.raises(ValueError, match="mode must be"):
        (image * 0).visor.to_vsr(
            url, image_type="raw", name="slice_1_10x", mode="r+", storage_options=s3_options
        )
    after = xr.open_dataset(url, engine="visor", name="slice_1_10x", storage_options=s3_options)
    np.testing.assert_array_equal(after["image"].values, before["image"].values)

    # a live writer's marker (another host) refuses a second writer of that image
    marker = RemotePath(url, s3_options) / "visor_raw_images" / "slice_1_10x.zarr" / WRITE_MARKER
    marker.write_text(
        json.dumps({"operation": "write", "state": "writing", "host": "elsewhere", "pid": 1})
    )
    with pytest.raises(WriteInProgressError, match="another write is in progress"):
        image.visor.to_vsr(
            url, image_type="raw", name="slice_1_10x", mode="w", storage_options=s3_options
        )
    marker.unlink()

    legacy = make_legacy_sample(tmp_path / "L.vsr")
    endpoint = s3_options["endpoint_url"]
    upload_tree(legacy, endpoint, s3_bucket, "L.vsr")
    with pytest.raises(LegacyLayoutError):
        image.visor.to_vsr(
            f"s3://{s3_bucket}/L.vsr", image_type="raw", name="new", storage_options=s3_options
        )
    with pytest.raises(RemoteUnsupportedError, match="read-only"):
        image.visor.to_vsr(f"{http_root[1]}/W.vsr", image_type="raw", name="slice_1_10x")


def test_uploads_leave_local_locks_behind(s3_bucket: str, s3_options: dict[str, Any]) -> None:
    url = f"s3://{s3_bucket}/C.vsr"
    vx.copy_sample(VISOR001, url, storage_options=s3_options)
    names = {p.name for p in RemotePath(url, s3_options).rglob_files()}
    assert ".visor-lock" not in names
    assert WRITE_MARKER not in names
