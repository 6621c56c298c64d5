"""The demo sample, whose stacks are tiles with distinct stored transforms in ortho space."""

from __future__ import annotations

from pathlib import Path

import pytest

from visor_xarray.demo import make_demo_sample


@pytest.fixture(scope="session")
def tiled_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo sample: stack k's raw_to_ortho is the deskew shifted by k * STACK_SHIFT."""
    return make_demo_sample(tmp_path_factory.mktemp("napari") / "demo.vsr")
