"""The command line with remote samples: credentials and endpoint from ``AWS_*`` variables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import KEY, SECRET
from fixture_data import VISOR001


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "visor_xarray", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_copy_up_and_info_from_the_environment(
    tmp_path: Path, s3_endpoint: str, s3_bucket: str
) -> None:
    env = {
        "AWS_ACCESS_KEY_ID": KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_REGION": "us-east-1",
    }
    url = f"s3://{s3_bucket}/C.vsr"
    up = _cli("copy", str(VISOR001), url, env=env)
    assert up.returncode == 0, up.stderr
    assert url in up.stdout
    listing = _cli("info", url, env=env)
    assert listing.returncode == 0, listing.stderr
    assert "raw/slice_1_10x_1" in listing.stdout
    assert "Traceback" not in listing.stderr
    down = _cli("copy", url, str(tmp_path / "back.vsr"), env=env)
    assert down.returncode == 0, down.stderr
    assert (tmp_path / "back.vsr" / "info.json").read_bytes() == (
        VISOR001 / "info.json"
    ).read_bytes()


def test_a_missing_bucket_is_one_line(s3_endpoint: str) -> None:
    env = {
        "AWS_ACCESS_KEY_ID": KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_ENDPOINT_URL": s3_endpoint,
    }
    result = _cli("info", "s3://no-such-bucket/X.vsr", env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "s3://no-such-bucket/X.vsr" in lines[0]
    assert SECRET not in result.stderr
