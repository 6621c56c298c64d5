"""Loopback servers for the remote-storage tests, started by the tests themselves.

* an S3-protocol server: moto's server mode, in a subprocess on 127.0.0.1 (one per
  session; each test gets its own bucket);
* a read-only web server on 127.0.0.1 serving a directory: Python's ``http.server`` with
  HTTP Range requests added (``range_http_server.py``), which sharded reads need.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Generator
from pathlib import Path
from typing import Any

import boto3
import obstore
import pytest
from obstore.store import S3Store

KEY, SECRET = "visor-test-key", "visor-test-secret-0123456789"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(
    command: list[str], port: int, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    environment = None if env is None else {**os.environ, **env}
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"{command[:3]} exited with {process.returncode}") from None
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{command[:3]} did not listen on {port}")


@contextlib.contextmanager
def moto_server(env: dict[str, str] | None = None) -> Generator[str, None, None]:
    """Run moto's S3-protocol server on loopback; yield its endpoint URL."""
    port = _free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = _serve(command, port, env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


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
    port = _free_port()
    server = Path(__file__).with_name("range_http_server.py")
    process = _serve([sys.executable, str(server), str(root), str(port)], port)
    yield root, f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)
