"""visor-py's own test suite (shipped in its wheel, ``visor/tests``) run on copies that
``copy_sample`` made of ``VISOR001.vsr``.

visor-py's tests find their data at ``Path(__file__).parent / "data" / "VISOR001.vsr"``,
and write into it (new images, transforms): each run copies the test modules into a
fresh directory, puts the copy under test at ``data/VISOR001.vsr`` beside them and runs
pytest on them in a subprocess.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import zarr
import zarr.codecs

import visor_xarray as vx

visor = pytest.importorskip("visor")

FIXTURE = Path(__file__).resolve().parent / "data" / "VISOR001.vsr"
SUITE = Path(visor.__file__).parent / "tests"
TESTS = 43  # in visor-py 2026.9.1


def run_suite(where: Path) -> tuple[dict[str, int], str]:
    """Run visor-py's tests in ``where`` (holding ``data/VISOR001.vsr``); count outcomes."""
    for module in sorted(SUITE.glob("test_*.py")):
        shutil.copyfile(module, where / module.name)
    (where / "pytest.ini").write_text("[pytest]\n")  # not this project's configuration
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider", str(where)],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    last = result.stdout.strip().splitlines()[-1]
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|error)", last)}
    return counts, result.stdout + result.stderr


def test_the_suite_is_there_and_passes_on_the_fixture(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "data" / "VISOR001.vsr")
    counts, output = run_suite(tmp_path)
    assert counts == {"passed": TESTS}, output


def test_the_suite_passes_on_a_byte_for_byte_copy(tmp_path: Path) -> None:
    vx.copy_sample(FIXTURE, tmp_path / "data" / "VISOR001.vsr")
    counts, output = run_suite(tmp_path)
    assert counts == {"passed": TESTS}, output


def test_the_suite_passes_on_a_reencoded_copy(tmp_path: Path) -> None:
    # every shard re-encoded (another blosc shuffle), shapes and zstd level as visor-py's
    # tests expect them
    codec = zarr.codecs.BloscCodec(cname="zstd", clevel=5, shuffle="bitshuffle")
    copy = tmp_path / "data" / "VISOR001.vsr"
    report = vx.copy_sample(FIXTURE, copy, compressors=codec)
    assert report.levels_reencoded == 3
    level = copy / "visor_raw_images" / "slice_1_10x.zarr" / "0"
    assert (level / "c/0/0/0/0/0").read_bytes() != (
        FIXTURE / "visor_raw_images/slice_1_10x.zarr/0/c/0/0/0/0/0"
    ).read_bytes()
    assert zarr.open_array(str(level), mode="r").compressors[0].shuffle.value == "bitshuffle"
    counts, output = run_suite(tmp_path)
    assert counts == {"passed": TESTS}, output


def test_the_suite_on_a_copy_with_another_zstd_level(tmp_path: Path) -> None:
    # visor-py's test_load asserts the fixture's own encoding (clevel 5) of slice_1_10x:
    # on a copy re-encoded at zstd 3 that one assertion fails, every other test passes
    codec = zarr.codecs.BloscCodec(cname="zstd", clevel=3, shuffle="shuffle")
    copy = tmp_path / "data" / "VISOR001.vsr"
    vx.copy_sample(FIXTURE, copy, compressors=codec)
    document = json.loads((copy / "visor_raw_images/slice_1_10x.zarr/0/zarr.json").read_text())
    assert '"clevel": 3' in json.dumps(document)
    counts, output = run_suite(tmp_path)
    assert counts == {"passed": TESTS - 1, "failed": 1}, output
    assert "FAILED test_image.py::TestImageLoad::test_load - AssertionError: 3 != 5" in output
