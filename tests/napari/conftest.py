"""A demo sample whose stacks have distinct stored transforms (tiled in ortho space)."""

from __future__ import annotations

from pathlib import Path

import pytest
from napari_helpers import STACK_SHIFT

import visor_xarray as vx
from visor_xarray.demo import DEMO_VERSION, make_demo_sample
from visor_xarray.transforms import Affine


@pytest.fixture(scope="session")
def tiled_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo sample, each stack's raw_to_ortho shifted by k * STACK_SHIFT (read only)."""
    path = make_demo_sample(tmp_path_factory.mktemp("napari") / "demo.vsr")
    for name in ("slice_1_10x", "slice_2_10x"):
        stored = vx.Transform(path, version=DEMO_VERSION, name=name)
        for k in range(3):
            for c in range(2):
                base = stored.load("raw_to_ortho", stack=k, channel=c)
                assert isinstance(base, Affine)
                shifted = Affine(base.matrix, base.translation + k * STACK_SHIFT, base.center)
                stored.save(shifted, stack=k, channel=c, overwrite=True)
    return path
