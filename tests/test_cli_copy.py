"""``visor-xarray copy``, driven in a subprocess as a user would."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import visor_xarray as vx

DATA = Path(__file__).resolve().parent / "data"
FIXTURE = DATA / "VISOR001.vsr"
LEGACY_FIXTURE = DATA / "VISOR001-v2024.12.3.vsr"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "visor_xarray", "copy", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def test_copy_converts_a_legacy_sample_with_a_progress_bar(tmp_path: Path) -> None:
    result = run(LEGACY_FIXTURE, tmp_path / "C.vsr")
    assert result.returncode == 0, result.stderr
    assert "3 converted from the legacy layout" in result.stdout
    assert "100% Completed" in result.stderr  # dask's progress bar, by default
    group = json.loads(
        (tmp_path / "C.vsr/visor_raw_images/slice_1_10x.zarr/zarr.json").read_text()
    )
    assert group["attributes"]["ome"]["version"] == "0.5"


def test_copy_with_selection_and_new_encoding(tmp_path: Path) -> None:
    result = run(
        FIXTURE,
        tmp_path / "C.vsr",
        "--image",
        "raw/slice_1_10x",
        "--level",
        "0",
        "--compression",
        "zstd:3",
        "--shard-shape",
        "z=2",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    level = json.loads(
        (tmp_path / "C.vsr/visor_raw_images/slice_1_10x.zarr/0/zarr.json").read_text()
    )
    assert level["chunk_grid"]["configuration"]["chunk_shape"] == [1, 1, 2, 4, 4]
    assert '"clevel": 3' in json.dumps(level)
    assert not (tmp_path / "C.vsr/visor_compr_images").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{missing}", "{out}"], "no such sample directory"),
        (["{fixture}", "{existing}"], "already exists; pass --overwrite"),
        (["{fixture}", "{out}", "--image", "raw/nope"], "choose one of: 'raw/slice_1_10x'"),
        (["{fixture}", "{out}", "--level", "5"], "no resolution level '5'"),
        (["{fixture}", "{out}", "--compression", "zip:3"], "CNAME:LEVEL"),
        (["{fixture}", "{out}", "--shard-shape", "a,b"], "--shard-shape 'a,b'"),
        (["{fixture}", "{out}", "--shard-shape", "3,3,3", "--chunk-shape", "2,2,2"], "multiple"),
        (["{fixture}", "{out}", "--levels", "0"], "at least one level"),
    ],
)
def test_user_errors_are_one_line_with_status_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    existing = tmp_path / "E.vsr"
    vx.copy_sample(FIXTURE, existing)
    before = digest(existing)
    names = {
        "missing": tmp_path / "missing.vsr",
        "out": tmp_path / "out.vsr",
        "fixture": FIXTURE,
        "existing": existing,
    }
    result = run(*[arg.format(**names) for arg in args])
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert not (tmp_path / "out.vsr").exists()
    assert digest(existing) == before


def test_overwrite_replaces(tmp_path: Path) -> None:
    assert run(FIXTURE, tmp_path / "C.vsr", "--quiet").returncode == 0
    result = run(LEGACY_FIXTURE, tmp_path / "C.vsr", "--overwrite", "--quiet")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "C.vsr" / "visor_recon_transforms").exists()
