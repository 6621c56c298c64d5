"""Writing Zarr v2 images as visor-py 2024.12.x did (the legacy layout), for test fixtures.

The library reads such images but never writes them; only :mod:`visor_xarray.testing`
builds legacy samples, through :func:`write_v2_image`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr

__all__ = ["write_v2_image"]


def write_v2_image(
    image: Path, levels: Sequence[np.ndarray], chunks: Sequence[int], compressor: Any
) -> None:
    """Write a Zarr v2 group with one unsharded array per level (``"0"``, ``"1"``, ...).

    Parameters
    ----------
    image : pathlib.Path
        The group directory (replaced if it exists).
    levels : sequence of numpy.ndarray
        Level data, finest first.
    chunks : sequence of int
        Chunk shape of every level (clipped to each level's shape).
    compressor : numcodecs codec
        The compressor of every array.
    """
    group = zarr.open_group(store=str(image), mode="w", zarr_format=2)
    for index, data in enumerate(levels):
        array = group.create_array(
            name=str(index),
            shape=data.shape,
            chunks=tuple(min(c, s) for c, s in zip(chunks, data.shape, strict=True)),
            dtype=data.dtype,
            compressors=compressor,
            chunk_key_encoding={"name": "v2", "separator": "/"},
            fill_value=0,
        )
        array[...] = data
