"""Every Python example in the README and the guides runs as written, on the sample it names."""

from __future__ import annotations

import re
import shutil
import stat
from pathlib import Path

import pytest
from fixture_data import DATA

from visor_xarray.demo import make_demo_sample

ROOT = Path(__file__).resolve().parents[1]

# document -> the sample file names its examples use (made fresh in a temporary directory)
DOCUMENTS = {
    "README.md": ("VISOR001.vsr",),
    "docs/getting-started.md": ("demo.vsr",),
    "docs/user-guide.md": ("S.vsr",),
    "docs/resampling.md": ("demo.vsr",),
    "docs/samples.md": ("VISOR001.vsr", "VISOR001-v2024.12.3.vsr"),
}


def python_blocks(document: Path) -> list[tuple[int, str]]:
    """The ```python blocks of a Markdown file, with the line each starts on."""
    text = document.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, match.start()) + 2, match.group(1))
        for match in re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M)
    ]


def _prepare(name: str, where: Path) -> None:
    target = where / name
    if (DATA / name).is_dir():
        shutil.copytree(DATA / name, target)
        for path in [target, *target.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    else:
        make_demo_sample(target)


@pytest.mark.parametrize("document", sorted(DOCUMENTS))
def test_examples_run_in_order(
    document: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = python_blocks(ROOT / document)
    assert blocks, f"{document} has no python examples"
    for name in DOCUMENTS[document]:
        _prepare(name, tmp_path)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for line, source in blocks:
        code = compile(source, f"{document}:{line}", "exec")
        try:
            exec(code, namespace)
        except Exception as error:  # the failing block, by file and line
            pytest.fail(f"{document}, example at line {line}: {type(error).__name__}: {error}")
