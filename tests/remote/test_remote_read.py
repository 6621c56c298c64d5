"""Samples read from a loopback S3-protocol server and a plain web server, as locally."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from conftest import SECRET, upload_tree
from fixture_data import VISOR001

import visor_xarray as vx
from visor_xarray.errors import (
    ListingUnavailableError,
    NotAVsrError,
    RemoteAccessError,
    RemoteUnsupportedError,
    UnknownImageError,
    VisorError,
)
from visor_xarray.store import SOURCE_ENCODING
from visor_xarray.testing import moto_server

NAME = "slice_1_10x"


@pytest.fixture
def s3_sample(s3_endpoint: str, s3_bucket: str) -> str:
    """VISOR001.vsr uploaded to the loopback S3 server; its URL."""
    upload_tree(VISOR001, s3_endpoint, s3_bucket, "samples/VISOR001.vsr")
    return f"s3://{s3_bucket}/samples/VISOR001.vsr"


@pytest.fixture
def http_sample(http_root: tuple[Path, str]) -> str:
    """VISOR001.vsr served over plain HTTP; its URL."""
    root, base = http_root
    shutil.copytree(VISOR001, root / "VISOR001.vsr")
    return f"{base}/VISOR001.vsr"


def test_open_dataset_from_s3_equals_local(s3_sample: str, s3_options: dict[str, Any]) -> None:
    remote = xr.open_dataset(
        s3_sample, engine="visor", name=NAME, chunks={}, storage_options=s3_options
    )
    local = xr.open_dataset(VISOR001, engine="visor", name=NAME, chunks={})
    xr.testing.assert_identical(remote.drop_attrs(), local.drop_attrs())
    # remote arrays use zarr-python's pipeline unless asked (the remote_codec_pipeline option)
    assert remote["image"].encoding["codec_pipeline"] == "BatchedCodecPipeline"
    assert remote.attrs["vsr_path"] == s3_sample
    np.testing.assert_array_equal(remote["image"].values, local["image"].values)
    assert remote["image"].data.chunks == local["image"].data.chunks


@pytest.mark.parametrize("how", ["argument", "option"])
def test_zarrs_reads_remote_samples_when_asked(
    s3_sample: str, s3_options: dict[str, Any], how: str
) -> None:
    options: dict[str, Any] = {"codec_pipeline": "zarrs"} if how == "argument" else {}
    with vx.set_options(remote_codec_pipeline="zarrs" if how == "option" else "default"):
        remote = xr.open_dataset(
            s3_sample, engine="visor", name=NAME, storage_options=s3_options, **options
        )
        assert remote["image"].encoding["codec_pipeline"] == "ZarrsCodecPipeline"
        local = xr.open_dataset(VISOR001, engine="visor", name=NAME)
        np.testing.assert_array_equal(remote["image"].values, local["image"].values)


def test_open_datatree_from_s3_has_every_group(s3_sample: str, s3_options: dict[str, Any]) -> None:
    remote = xr.open_datatree(s3_sample, engine="visor", storage_options=s3_options)
    local = xr.open_datatree(VISOR001, engine="visor")
    assert sorted(remote.groups) == sorted(local.groups)
    for group in local.groups:
        if "image" in local[group].data_vars:
            np.testing.assert_array_equal(
                remote[group]["image"].values, local[group]["image"].values
            )


def test_seed_api_reads_s3(s3_sample: str, s3_options: dict[str, Any]) -> None:
    summary = vx.info(s3_sample, storage_options=s3_options)
    assert summary.image_types == vx.info(VISOR001).image_types
    assert [r.name for r in vx.list_image(s3_sample, storage_options=s3_options)] == [
        r.name for r in vx.list_image(VISOR001)
    ]
    assert vx.list_transform(s3_sample, storage_options=s3_options) == vx.list_transform(VISOR001)
    image = vx.Image(s3_sample, name=NAME, storage_options=s3_options)
    np.testing.assert_array_equal(image.open(0)[:], vx.Image(VISOR001, name=NAME).open(0)[:])
    version = vx.list_transform(VISOR001)[0].version
    remote = vx.Transform(s3_sample, version, NAME, mode="r", storage_options=s3_options)
    local = vx.Transform(VISOR001, version, NAME, mode="r")
    np.testing.assert_allclose(
        remote.load("raw_to_ortho", stack=0, channel=0).matrix,
        local.load("raw_to_ortho", stack=0, channel=0).matrix,
    )


def test_resample_reads_footprints_from_s3(s3_sample: str, s3_options: dict[str, Any]) -> None:
    version = vx.list_transform(VISOR001)[0].version

    def ortho(path: Any, **options: Any) -> xr.DataArray:
        image = xr.open_dataset(path, engine="visor", name=NAME, chunks={}, **options)["image"]
        return image.isel(vs=0, ch=0).visor.resample(to_space="ortho", version=version)

    remote = ortho(s3_sample, storage_options=s3_options)
    xr.testing.assert_allclose(remote.compute(), ortho(VISOR001).compute())


def test_graphs_and_attrs_carry_no_secret(s3_sample: str, s3_options: dict[str, Any]) -> None:
    image = xr.open_dataset(
        s3_sample, engine="visor", name=NAME, chunks={}, storage_options=s3_options
    )["image"]
    source = image.encoding[SOURCE_ENCODING]
    assert SECRET not in repr(source)
    assert SECRET not in repr(image.attrs)
    graph = pickle.dumps(dict(image.data.__dask_graph__()))
    assert SECRET.encode() not in graph
    # dask.distributed pickles what it unpickled again (client -> scheduler -> worker)
    assert SECRET.encode() not in pickle.dumps(pickle.loads(graph))
    assert SECRET.encode() not in pickle.dumps(source)
    # and yet an unpickled source reads, with the credentials of this process
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(source)).read((0, 0, slice(0, 2), slice(0, 2), slice(0, 2))),
        image.values[0, 0, :2, :2, :2],
    )


def test_http_sample_reads_without_listing(http_sample: str) -> None:
    local = xr.open_dataset(VISOR001, engine="visor", name=NAME)
    remote = xr.open_dataset(http_sample, engine="visor", name=NAME)
    np.testing.assert_array_equal(remote["image"].values, local["image"].values)
    # raw images are found in selected.json; other types need their name
    assert [r.name for r in vx.list_image(http_sample, type="raw")] == [
        r.name for r in vx.list_image(VISOR001, type="raw")
    ]
    compr = xr.open_dataset(
        http_sample, engine="visor", image_type="compr", name="xxx_slice_1_10x_20241201"
    )
    assert (
        compr["image"].shape
        == xr.open_dataset(
            VISOR001, engine="visor", image_type="compr", name="xxx_slice_1_10x_20241201"
        )["image"].shape
    )
    with pytest.raises(UnknownImageError, match="cannot list") as missing:
        xr.open_dataset(http_sample, engine="visor", image_type="compr", name="nope")
    assert http_sample in str(missing.value)
    with pytest.raises(ListingUnavailableError, match="cannot list"):
        next(vx.store.VsrStore(http_sample).path.iterdir())


def test_remote_samples_are_read_only(s3_sample: str, s3_options: dict[str, Any]) -> None:
    with pytest.raises(RemoteUnsupportedError, match="opens read-only"):
        vx.store.VsrStore(s3_sample, "r+", storage_options=s3_options)
    with pytest.raises(RemoteUnsupportedError, match="validate"):
        vx.validate(s3_sample)  # type: ignore[arg-type]


def test_missing_bucket_is_a_named_error(s3_endpoint: str, s3_options: dict[str, Any]) -> None:
    url = "s3://no-such-bucket/S.vsr"
    with pytest.raises(VisorError, match="no-such-bucket") as caught:
        xr.open_dataset(url, engine="visor", storage_options=s3_options)
    assert isinstance(caught.value, (RemoteAccessError, NotAVsrError))
    assert SECRET not in str(caught.value)


def test_missing_sample_in_a_bucket(s3_bucket: str, s3_options: dict[str, Any]) -> None:
    with pytest.raises(NotAVsrError, match=f"s3://{s3_bucket}/nothing.vsr"):
        vx.info(f"s3://{s3_bucket}/nothing.vsr", storage_options=s3_options)


def test_unreachable_endpoint_fails_fast_with_a_named_error() -> None:
    options = {"key": "k", "secret": "do-not-print-me", "endpoint_url": "http://127.0.0.1:9"}
    with pytest.raises(RemoteAccessError, match="cannot reach") as caught:
        vx.info("s3://lab/S.vsr", storage_options=options)
    assert "s3://lab/S.vsr" in str(caught.value)
    assert "do-not-print-me" not in str(caught.value)


def test_wrong_credentials_are_refused() -> None:
    # a server with authentication on (no access key is known to it)
    with moto_server({"INITIAL_NO_AUTH_ACTION_COUNT": "0"}) as endpoint:
        options = {"key": "wrong", "secret": "wrong-secret-value", "endpoint_url": endpoint}
        with pytest.raises(RemoteAccessError, match="access denied") as caught:
            vx.info("s3://lab/S.vsr", storage_options=options)
    assert "s3://lab/S.vsr" in str(caught.value)
    assert "wrong-secret-value" not in str(caught.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"password": "x"}, "unknown option"),
        ({"client_kwargs": {"verify": False}}, "client_kwargs"),
        ({"anon": "false"}, "anon must be True or False"),
    ],
)
def test_bad_storage_options_name_the_valid_ones(
    s3_sample: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        xr.open_dataset(s3_sample, engine="visor", storage_options=options)
    assert "endpoint_url" in str(caught.value) or "anon" in str(caught.value)


def test_storage_options_with_a_local_path_are_refused() -> None:
    with pytest.raises(ValueError, match="remote samples"):
        vx.info(VISOR001, storage_options={"anon": True})


def test_a_store_object_may_be_given_instead_of_a_url(
    s3_sample: str, s3_endpoint: str, http_sample: str
) -> None:
    import zarr.storage
    from obstore.store import HTTPStore, S3Store

    bucket, prefix = s3_sample.removeprefix("s3://").split("/", 1)
    s3 = S3Store(
        bucket,
        prefix=prefix,
        config={
            "endpoint": s3_endpoint,
            "access_key_id": "visor-test-key",
            "secret_access_key": SECRET,
            "region": "us-east-1",
        },
        client_options={"allow_http": True},
    )
    local = xr.open_dataset(VISOR001, engine="visor", name=NAME)["image"].values
    for store in (
        zarr.storage.ObjectStore(s3, read_only=True),
        s3,
        HTTPStore.from_url(http_sample),
        zarr.storage.LocalStore(VISOR001, read_only=True),
    ):
        opened = xr.open_dataset(store, engine="visor", name=NAME)
        np.testing.assert_array_equal(opened["image"].values, local)
    with pytest.raises(TypeError, match="MemoryStore"):
        xr.open_dataset(zarr.storage.MemoryStore(), engine="visor")


def test_credentials_registered_late_reach_the_store(
    s3_sample: str, s3_options: dict[str, Any]
) -> None:
    # a worker that built a store before share_credentials reached it gets a new one after
    from visor_xarray.zarr_io.remote_path import RemotePath
    from visor_xarray.zarr_io.storage_options import _REGISTRY, register_credentials

    path = RemotePath(s3_sample, s3_options)
    fingerprint = path.options.fingerprint
    secrets = _REGISTRY.pop(fingerprint)  # as in a fresh worker process
    try:
        bare = pickle.loads(pickle.dumps(path))
        assert bare.options.secrets == {}
        without = bare.store
        register_credentials(secrets, fingerprint)
        later = pickle.loads(pickle.dumps(path))
        assert later.options.secrets == secrets
        assert later.store is not without
        assert (later / "info.json").read_bytes() == (VISOR001 / "info.json").read_bytes()
    finally:
        register_credentials(secrets, fingerprint)


def test_web_urls_are_percent_decoded(http_root: tuple[Path, str]) -> None:
    root, base = http_root
    shutil.copytree(VISOR001, root / "base path" / "VISOR001.vsr")
    ds = xr.open_dataset(f"{base}/base%20path/VISOR001.vsr", engine="visor", name=NAME)
    assert ds["image"].shape == xr.open_dataset(VISOR001, engine="visor", name=NAME)["image"].shape


def test_s3_keys_keep_url_characters(s3_bucket: str, s3_options: dict[str, Any]) -> None:
    url = f"s3://{s3_bucket}/run#1?/VISOR001.vsr"
    vx.copy_sample(VISOR001, url, images=["raw/slice_1_10x"], storage_options=s3_options)
    back = xr.open_dataset(url, engine="visor", name=NAME, storage_options=s3_options)
    assert back.attrs["vsr_path"] == url
    np.testing.assert_array_equal(
        back["image"].values, xr.open_dataset(VISOR001, engine="visor", name=NAME)["image"].values
    )


def test_relative_keys_respect_directory_boundaries(s3_options: dict[str, Any]) -> None:
    from visor_xarray.zarr_io.remote_path import RemotePath

    root = RemotePath("s3://b/d", s3_options)
    assert (root / "x" / "y.txt").relative_to(root) == "x/y.txt"
    with pytest.raises(ValueError, match="not under"):
        RemotePath("s3://b/d2/y.txt", s3_options).relative_to(root)
