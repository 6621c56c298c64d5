"""The notebooks in notebooks/ execute, and their outputs show what they claim."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if "text" in output:
            parts.append(output["text"])
        for key in ("text/plain", "text/html"):
            if key in output.get("data", {}):
                parts.append(output["data"][key])
    return "\n".join(parts)


def test_tour_notebook_executes(tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOKS / "tour.ipynb", as_version=4)
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    outputs = [_text(cell) for cell in notebook.cells if cell.cell_type == "code"]
    assert "DEMO01" in outputs[0]  # info's HTML table
    assert "raw/slice_1_10x (selected)" in outputs[1]
    assert "('vs', 'ch', 'z', 'y', 'x') (3, 2, 48, 40, 64) uint16" in outputs[2]
    assert "stacks: ('stack_1', 'stack_2', 'stack_4')" in outputs[2]
    assert "z from 31.5 to 59.5 µm" in outputs[3]
    assert "in memory: ndarray (9, 40, 64) equal: True" in outputs[3]
    images = [
        o
        for cell in notebook.cells
        for o in cell.get("outputs", [])
        if "image/png" in o.get("data", {})
    ]
    assert len(images) >= 2  # the quick looks rendered
    assert "identical values: True" in outputs[6]
    assert "raw/slice_2_10x" in outputs[7]
