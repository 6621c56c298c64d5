"""Constants shared by the napari tests."""

import numpy as np

#: Ortho offset (z, y, x µm) added to stack k's deskew: the stacks sit side by side.
STACK_SHIFT = np.array([0.0, 5.0, 60.0])
