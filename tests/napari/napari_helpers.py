"""Constants shared by the napari tests."""

import numpy as np

from visor_xarray.demo import TILE_SHIFT

#: Ortho offset (z, y, x µm) of stack k's tile in the demo: the stacks sit side by side.
STACK_SHIFT = np.array([0.0, 0.0, TILE_SHIFT])
