"""Loopback servers for tests and benchmarks of remote samples, in subprocesses.

* :func:`moto_server`: an S3-protocol server (moto's server mode; ``pip install
  "moto[server]"``, a test dependency);
* :func:`http_server`: a read-only web server for a directory, Python's ``http.server``
  with HTTP Range requests (:mod:`visor_xarray.testing.range_http_server`).

Both listen on 127.0.0.1 on a free port and are stopped when the ``with`` block ends.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["free_port", "http_server", "moto_server"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now.

    Returns
    -------
    int
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _serving(
    command: list[str], port: int, env: dict[str, str] | None = None, timeout: float = 30
) -> Iterator[subprocess.Popen[bytes]]:
    environment = None if env is None else {**os.environ, **env}
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"{command[:3]} exited with {process.returncode}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{command[:3]} did not listen on {port}") from None
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def moto_server(env: dict[str, str] | None = None) -> Iterator[str]:
    """Run moto's S3-protocol server on loopback; yield its endpoint URL.

    Parameters
    ----------
    env : dict, optional
        Environment variables for the server (e.g. ``{"INITIAL_NO_AUTH_ACTION_COUNT":
        "0"}`` turns authentication on).

    Yields
    ------
    str
        ``http://127.0.0.1:PORT``.
    """
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with _serving(command, port, env):
        yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def http_server(directory: Path) -> Iterator[str]:
    """Serve ``directory`` read-only over HTTP (with Range requests); yield its base URL.

    Parameters
    ----------
    directory : pathlib.Path

    Yields
    ------
    str
        ``http://127.0.0.1:PORT``.
    """
    port = free_port()
    script = Path(__file__).with_name("range_http_server.py")
    with _serving([sys.executable, str(script), str(directory), str(port)], port):
        yield f"http://127.0.0.1:{port}"
