"""Loopback servers for the remote-storage tests, started by the tests themselves.

* an S3-protocol server: moto's server mode, in a subprocess on 127.0.0.1 (one per
  session; each test gets its own bucket);
* a read-only web server on 127.0.0.1 serving a directory: Python's ``http.server`` with
  HTTP Range requests added, which sharded reads need.

Both come from :mod:`visor_xarray.testing.servers`.
"""

from __future__ import annotations

import uuid
from collections.abc import Generator
from pathlib import Path
from typing import Any

import boto3
import obstore
import pytest
from obstore.store import S3Store

from visor_xarray.testing import http_server, moto_server

KEY, SECRET = "visor-test-key", "visor-test-secret-0123456789"


@pytest.fixture(scope="session")
def s3_endpoint() -> Generator[str, None, None]:
    """URL of a loopback S3-protocol server (moto) for the session."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_options(s3_endpoint: str) -> dict[str, Any]:
    """storage_options for the loopback server, as a user passes them."""
    return {"key": KEY, "secret": SECRET, "endpoint_url": s3_endpoint}


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A new, empty bucket."""
    name = f"lab-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=name)
    return name


def upload_tree(local: Path, endpoint: str, bucket: str, prefix: str) -> None:
    """Put every file under ``local`` at ``prefix/...`` (a test's own upload, not ours)."""
    store = S3Store(
        bucket,
        config={
            "endpoint": endpoint,
            "access_key_id": KEY,
            "secret_access_key": SECRET,
            "region": "us-east-1",
        },
        client_options={"allow_http": True},
    )
    for file in sorted(p for p in local.rglob("*") if p.is_file()):
        obstore.put(store, f"{prefix}/{file.relative_to(local).as_posix()}", file.read_bytes())


@pytest.fixture
def http_root(tmp_path: Path) -> Generator[tuple[Path, str], None, None]:
    """A directory served read-only over HTTP on loopback: ``(directory, base URL)``."""
    root = tmp_path / "www"
    root.mkdir()
    with http_server(root) as base:
        yield root, base
