"""Shared fixtures: the real upstream samples (read-only) and samples written by the library.

Also the rule that no test skips silently: a skip fails the run unless the test is marked
``@pytest.mark.allow_skip("why")`` (see :func:`pytest_runtest_makereport`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest
from fixture_data import VISOR001, VISOR001_V2024

from visor_xarray.testing import make_sample


def _vendored(path: Path) -> Path:
    # vendored in tests/data: missing means a broken checkout, which must fail, not skip
    assert path.is_dir(), f"test data missing: {path} (see tests/data/README.md)"
    return path


def _writable_copy(source: Path, target: Path) -> Path:
    shutil.copytree(_vendored(source), target)
    for path in [target, *target.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return target


@pytest.fixture(scope="module")
def client() -> Generator[Any, None, None]:
    """A dask.distributed cluster of 2 worker *processes* (1 thread each), per test module."""
    import distributed

    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=40,
        ) as cluster,
        distributed.Client(cluster) as connected,
    ):
        yield connected


@pytest.fixture
def visor001() -> Path:
    """The upstream VISOR001.vsr sample, read in place (never write to it)."""
    return _vendored(VISOR001)


@pytest.fixture
def visor001_copy(tmp_path: Path) -> Path:
    """A writable copy of VISOR001.vsr."""
    return _writable_copy(VISOR001, tmp_path / "VISOR001.vsr")


@pytest.fixture
def visor001_v2024() -> Path:
    """The upstream sample in visor-py 2024.12's legacy layout, read in place."""
    return _vendored(VISOR001_V2024)


@pytest.fixture
def visor001_v2024_copy(tmp_path: Path) -> Path:
    """A writable copy of the legacy-layout sample."""
    return _writable_copy(VISOR001_V2024, tmp_path / "VISOR001.vsr")


#: The environment the run started with (see :func:`_environment_restored`).
_ENVIRONMENT = dict(os.environ)


@pytest.fixture(autouse=True)
def _environment_restored() -> Generator[None, None, None]:
    """After each test, the environment is the one the run started with.

    A ``dask.distributed`` cluster (module-scoped fixtures start them) writes its workers'
    settings into the parent's ``os.environ`` for good (``MALLOC_TRIM_THRESHOLD_=65536``,
    ``OMP_NUM_THREADS=1``, ...): subprocesses of later tests would inherit them and, for
    one, measure memory under a different allocator policy.
    """
    yield
    for key in set(os.environ) - set(_ENVIRONMENT) - {"PYTEST_CURRENT_TEST"}:
        del os.environ[key]
    os.environ.update(_ENVIRONMENT)


@pytest.fixture(scope="session")
def sample_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic sample written by the library (shared by the session: do not modify)."""
    return make_sample(tmp_path_factory.mktemp("samples") / "VX001.vsr")


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A fresh synthetic sample that the test may modify."""
    return make_sample(tmp_path / "VX001.vsr")


def tree_digest(root: Path) -> dict[str, str]:
    """Map every file below ``root`` to the SHA-256 of its content (to prove nothing changed)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def unchanged() -> Callable[[Path], Callable[[], None]]:
    """``check = unchanged(path)`` records a tree; ``check()`` asserts it is byte-identical."""

    def record(root: Path) -> Callable[[], None]:
        before = tree_digest(root)

        def check() -> None:
            assert tree_digest(root) == before, f"files under {root} changed"

        return check

    return record


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
    return str(reason).removeprefix("Skipped: ")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "allow_skip(reason): the test may skip (any other skip fails the run); say why",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Turn a skip into a failure unless the test is marked ``allow_skip``.

    A test that skips for missing data or a missing dependency tests nothing, and a
    summary line of "N skipped" is easy to overlook: the suite must say so by failing.
    Expected failures (``xfail``) are not skips and pass through.
    """
    report = yield
    if (
        report.skipped
        and not hasattr(report, "wasxfail")
        and item.get_closest_marker("allow_skip") is None
    ):
        report.outcome = "failed"
        report.longrepr = (
            f"unexpected skip ({_skip_reason(report)}): no test may skip; fix the cause, "
            "or mark the test @pytest.mark.allow_skip('why') if skipping is right"
        )
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """A whole module skipped at import (``pytest.importorskip``) fails collection."""
    report = yield
    if report.skipped:
        report.outcome = "failed"
        report.longrepr = (
            f"unexpected skip of {collector.nodeid} ({_skip_reason(report)}): no module may skip"
        )
    return report
