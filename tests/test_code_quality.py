"""The code standards hold: ruff-formatted, lint-clean, and mypy --strict clean (pyproject)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CODE = ["visor_xarray", "tests", "benchmarks"]


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


@pytest.mark.parametrize(
    "command",
    [("ruff", "format", "--check", *CODE), ("ruff", "check", *CODE)],
    ids=["ruff-format", "ruff-check"],
)
def test_ruff(command: tuple[str, ...]) -> None:
    result = run(*command)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_on_the_package(tmp_path: Path) -> None:
    # settings (strict, files) come from pyproject.toml; the cache stays out of the tree
    result = run("mypy", "--cache-dir", str(tmp_path / "mypy-cache"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success" in result.stdout
