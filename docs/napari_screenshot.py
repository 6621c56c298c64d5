"""Screenshot of a real napari window: the demo slice's raw stacks, deskewed and tiled.

Every raw stack of ``slice_1_10x`` is its own layer placed by its stored ``raw_to_ortho``
affine (``visor_xarray.napari.layer_data(..., space="ortho")``): nothing is resampled.
The picture is napari's own rendering (Qt + OpenGL), written to
``docs/_static/napari_ortho.png``.

Run it where there is a display, or under a virtual one::

    xvfb-run -a -s "-screen 0 1400x1000x24" python docs/napari_screenshot.py

It needs the napari extra and a Qt binding (``pip install "visor-xarray[napari]"
PySide6-Essentials``); the demo sample is written to a temporary directory.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import napari
import numpy as np
from napari.utils.io import imsave
from qtpy.QtWidgets import QApplication

from visor_xarray.demo import make_demo_sample
from visor_xarray.napari import add_layers, layer_data

OUT = Path(__file__).parent / "_static" / "napari_ortho.png"


def screenshot(out: Path) -> np.ndarray:
    """Open the demo slice in napari with its stacks in ortho space; save the canvas.

    Parameters
    ----------
    out : pathlib.Path
        Where to write the PNG.

    Returns
    -------
    numpy.ndarray
        The RGBA pixels written.
    """
    with tempfile.TemporaryDirectory() as scratch:
        sample = make_demo_sample(Path(scratch) / "demo.vsr")
        viewer = napari.Viewer(title="visor-xarray: slice_1_10x in ortho space")
        viewer.window.resize(1400, 1000)
        add_layers(viewer, layer_data(sample, name="slice_1_10x", space="ortho"))
        viewer.dims.ndisplay = 3
        for layer in viewer.layers:
            layer.rendering = "mip"
        viewer.reset_view()
        # napari 0.9 moved the camera to viewer.scene; older releases have viewer.camera
        camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera
        camera.angles = (0.0, 90.0, 90.0)  # looking along y: z down, the tiles along x
        camera.zoom = 3.0
        for _ in range(20):  # let Qt lay the window out and draw before the capture
            QApplication.processEvents()
        pixels: np.ndarray = viewer.screenshot(canvas_only=True, flash=False)
        viewer.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    imsave(str(out), pixels)
    return pixels


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    image = screenshot(target)
    print(f"{target}: {image.shape[1]} x {image.shape[0]} pixels")
