"""A real napari window (Qt) driven like a user: the dock widget picks and adds layers.

Run by tests/napari/test_napari_qt.py under a virtual display (``xvfb-run``); prints
what the window ended up showing, as JSON.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import napari
from qtpy.QtWidgets import QApplication

from visor_xarray.demo import DEMO_VERSION, make_demo_sample
from visor_xarray.napari import make_widget


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        sample = make_demo_sample(Path(scratch) / "demo.vsr")
        viewer = napari.Viewer()
        widget = make_widget(viewer)
        viewer.window.add_dock_widget(widget, name="visor-xarray")
        controls = {w.label: w for w in widget}
        controls["sample"].value = sample
        images = list(controls["image"].choices)
        controls["image"].value = "raw/slice_1_10x"
        spaces = list(controls["space"].choices)
        controls["space"].value = f"ortho@{DEMO_VERSION}"
        controls["stacks"].value = ["stack_1", "stack_4"]
        controls["channels"].value = ["488"]
        button = widget[-1]
        button.native.click()  # the Qt button itself, as a click would
        for _ in range(10):
            QApplication.processEvents()
        result = {
            "images": images,
            "spaces": spaces,
            "layers": [layer.name for layer in viewer.layers],
            "ndisplay": viewer.dims.ndisplay,
            "docked": [name for name in viewer.window.dock_widgets],
        }
        viewer.close()
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
