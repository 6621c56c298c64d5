"""Samples uploaded to and downloaded from a loopback S3 server with ``copy_sample``."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from fixture_data import VISOR001

import visor_xarray as vx
from visor_xarray.errors import ListingUnavailableError, TargetExistsError
from visor_xarray.zarr_io.markers import WRITE_MARKER
from visor_xarray.zarr_io.remote_path import RemotePath


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def test_round_trip_local_s3_local_is_byte_identical(
    tmp_path: Path, s3_bucket: str, s3_options: dict[str, Any]
) -> None:
    url = f"s3://{s3_bucket}/lab/VISOR001.vsr"
    up = vx.copy_sample(VISOR001, url, storage_options=s3_options)
    assert str(up.path) == url
    assert up.bytes_copied > 0
    remote = RemotePath(url, s3_options)
    assert not (remote / WRITE_MARKER).is_file()  # the upload finished
    down = vx.copy_sample(url, tmp_path / "back.vsr", storage_options=s3_options)
    assert str(down.source) == url
    assert _files(tmp_path / "back.vsr") == _files(VISOR001)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".visor-staging-")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "incomplete sample" warning either
        back = xr.open_datatree(tmp_path / "back.vsr", engine="visor")
    original = xr.open_datatree(VISOR001, engine="visor")
    for group in original.groups:
        if "image" in original[group].data_vars:
            np.testing.assert_array_equal(
                back[group]["image"].values, original[group]["image"].values
            )

    def problems(root: Path) -> list[tuple[str, str, str]]:
        return [
            (p.file.relative_to(root).as_posix(), p.field, p.severity) for p in vx.validate(root)
        ]

    assert problems(tmp_path / "back.vsr") == problems(VISOR001)


def test_upload_reencodes_and_selects(
    tmp_path: Path, s3_bucket: str, s3_options: dict[str, Any]
) -> None:
    url = f"s3://{s3_bucket}/one.vsr"
    vx.copy_sample(
        VISOR001,
        url,
        images=["raw/slice_1_10x"],
        chunk_shape=(2, 2, 2),
        storage_options=s3_options,
    )
    remote = xr.open_dataset(url, engine="visor", name="slice_1_10x", storage_options=s3_options)
    local = xr.open_dataset(VISOR001, engine="visor", name="slice_1_10x")
    np.testing.assert_array_equal(remote["image"].values, local["image"].values)
    level = json.loads(
        RemotePath(url, s3_options)
        .joinpath("visor_raw_images", "slice_1_10x.zarr", "0", "zarr.json")
        .read_text()
    )
    assert level["codecs"][0]["configuration"]["chunk_shape"][-3:] == [2, 2, 2]
    assert [r.name for r in vx.list_image(url, storage_options=s3_options)] == ["slice_1_10x"]


def test_upload_refuses_an_existing_sample_unless_overwrite(
    s3_bucket: str, s3_options: dict[str, Any]
) -> None:
    url = f"s3://{s3_bucket}/twice.vsr"
    vx.copy_sample(VISOR001, url, images=["raw/slice_1_10x"], storage_options=s3_options)
    with pytest.raises(TargetExistsError, match=url):
        vx.copy_sample(VISOR001, url, storage_options=s3_options)
    vx.copy_sample(VISOR001, url, overwrite=True, storage_options=s3_options)
    names = sorted(r.name for r in vx.list_image(url, storage_options=s3_options))
    assert names == sorted(r.name for r in vx.list_image(VISOR001))


def test_an_interrupted_upload_reads_as_incomplete(
    s3_bucket: str, s3_options: dict[str, Any]
) -> None:
    url = f"s3://{s3_bucket}/half.vsr"
    remote = RemotePath(url, s3_options)
    for file in sorted(p for p in VISOR001.rglob("*") if p.is_file())[:5]:
        (remote / file.relative_to(VISOR001).as_posix()).upload(file)
    (remote / "info.json").upload(VISOR001 / "info.json")
    (remote / WRITE_MARKER).write_text(
        json.dumps({"operation": "copy", "state": "failed", "host": "elsewhere", "pid": 1})
    )
    with pytest.warns(vx.VisorWarning, match="may be incomplete"):
        vx.info(url, storage_options=s3_options)


def test_http_sources_cannot_be_listed_for_a_copy(
    tmp_path: Path, http_root: tuple[Path, str]
) -> None:
    with pytest.raises(ListingUnavailableError, match="cannot list"):
        vx.copy_sample(f"{http_root[1]}/VISOR001.vsr", tmp_path / "x.vsr")
