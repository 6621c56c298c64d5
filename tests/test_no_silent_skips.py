"""No test skips silently: tests/conftest.py turns any skip not marked ``allow_skip`` into a
failure (run here on a small suite of its own, with the real conftest)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

TESTS = Path(__file__).resolve().parent

SUITE = textwrap.dedent(
    """
    import pytest

    @pytest.fixture
    def missing_data():
        pytest.skip("no data")

    def test_skips():
        pytest.skip("not today")

    def test_skips_in_a_fixture(missing_data):
        pass

    @pytest.mark.allow_skip("optional by design")
    def test_allowed_skip():
        pytest.skip("allowed")

    @pytest.mark.skipif(True, reason="marked")
    def test_skipif():
        pass

    @pytest.mark.xfail(reason="known", strict=True)
    def test_expected_failure():
        assert False

    def test_passes():
        pass
    """
)


def _run_suite(where: Path, name: str, source: str) -> subprocess.CompletedProcess[str]:
    for helper in ("conftest.py", "fixture_data.py"):
        shutil.copy(TESTS / helper, where / helper)
    (where / name).write_text(source)
    # without the outer run's options (.ci/run passes a JUnit report path through them)
    environment = {**os.environ, "PYTEST_ADDOPTS": ""}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", name],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=where,
        env=environment,
        check=False,
    )


def test_skips_fail_unless_allowed(tmp_path: Path) -> None:
    result = _run_suite(tmp_path, "test_suite.py", SUITE)
    out = result.stdout
    assert result.returncode == 1, out
    # a skip in the test body fails it; one during setup (fixture, skipif) errors it
    failed = {
        line.split()[1] for line in out.splitlines() if line.startswith(("FAILED ", "ERROR "))
    }
    assert failed == {
        "test_suite.py::test_skips",
        "test_suite.py::test_skips_in_a_fixture",
        "test_suite.py::test_skipif",
    }, out
    assert "unexpected skip (not today)" in out
    assert "unexpected skip (no data)" in out
    assert "SKIPPED [1] test_suite.py:16: allowed" in out  # marked: stays a skip
    assert "XFAIL test_suite.py::test_expected_failure" in out
    assert "PASSED test_suite.py::test_passes" in out


def test_a_module_skipped_at_import_fails_collection(tmp_path: Path) -> None:
    result = _run_suite(
        tmp_path,
        "test_module_skip.py",
        "import pytest\npytest.importorskip('no_such_module_here')\n",
    )
    assert result.returncode == 2, result.stdout  # interrupted: errors during collection
    assert "ERROR test_module_skip.py" in result.stdout
    assert "no module may skip" in result.stdout
