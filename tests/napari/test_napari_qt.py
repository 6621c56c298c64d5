"""napari's real window (Qt, OpenGL) under a virtual display: the widget and the screenshot.

These run in subprocesses under ``xvfb-run`` (Debian's xvfb; CI installs it with the Qt
libraries it needs, see .ci/run) with the PySide6 binding from the test extras.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from imageio.v3 import imread

ROOT = Path(__file__).resolve().parents[2]
DISPLAY = ["xvfb-run", "-a", "-s", "-screen 0 1600x1200x24"]


def _under_a_display(*command: str) -> subprocess.CompletedProcess[str]:
    assert shutil.which("xvfb-run"), "xvfb-run is missing: install Debian's xvfb (see .ci/run)"
    return subprocess.run(
        [*DISPLAY, sys.executable, *command],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )


def test_the_dock_widget_adds_the_chosen_stacks_in_a_real_window() -> None:
    result = _under_a_display(str(Path(__file__).with_name("qt_session.py")))
    assert result.returncode == 0, result.stderr[-3000:]
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert "raw/slice_1_10x" in shown["images"]
    assert any(space.startswith("ortho@") for space in shown["spaces"])
    assert shown["layers"] == ["slice_1_10x · stack_1 · 488 nm", "slice_1_10x · stack_4 · 488 nm"]
    assert shown["ndisplay"] == 3  # deskewed stacks are shown in 3-D
    assert shown["docked"] == ["visor-xarray"]


def test_the_documented_screenshot_is_reproduced(tmp_path: Path) -> None:
    out = tmp_path / "napari_ortho.png"
    result = _under_a_display("docs/napari_screenshot.py", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    made = imread(str(out))[..., :3].astype(float).mean(axis=2)
    shown = imread(str(ROOT / "docs" / "_static" / "napari_ortho.png"))[..., :3]
    shown = shown.astype(float).mean(axis=2)
    assert made.shape == shown.shape
    assert (made > 20).mean() > 0.05  # blobs and fibres drawn, not a black canvas
    correlation = np.corrcoef(made.ravel(), shown.ravel())[0, 1]
    assert correlation > 0.95, correlation
