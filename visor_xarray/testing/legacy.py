"""Samples in the legacy layout of visor-py 2024.12.x, written with plain zarr (Zarr v2).

The library reads that layout but never writes it (vsr-format.md section 9); these
samples mimic what visor-py 2024.12.x wrote, file for file, so that tests and examples
can exercise more than the upstream fixture has: several resolution levels, stack labels
with gaps, channels listed out of index order, and a 4-D processed image.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np

from visor_xarray.testing.samples import image_attributes
from visor_xarray.zarr_io.legacy_v2 import write_v2_image

__all__ = ["legacy_attributes", "make_legacy_sample", "write_legacy_image"]


def legacy_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """The flat ``.zattrs`` of the legacy layout for current group ``attributes``.

    The multiscale carries ``"version": "0.4"`` inside it, axes of type ``visor_stack``
    and ``channel`` are named ``s`` and ``c``, and the ``visor`` fields sit at the top
    level beside ``multiscales``.

    Parameters
    ----------
    attributes : dict
        ``{"ome": {...}, "visor": {...}}`` as :func:`~visor_xarray.testing.image_attributes`
        builds them.

    Returns
    -------
    dict
    """
    multiscales = []
    for multiscale in attributes["ome"]["multiscales"]:
        axes = [
            {**axis, "name": {"visor_stack": "s", "channel": "c"}.get(axis["type"], axis["name"])}
            for axis in multiscale["axes"]
        ]
        multiscales.append({"version": "0.4", **multiscale, "axes": axes})
    return {"multiscales": multiscales, **attributes.get("visor", {})}


def write_legacy_image(
    image: Path,
    attributes: dict[str, Any],
    levels: Sequence[np.ndarray],
    chunks: Sequence[int],
) -> None:
    """Write one legacy image: a Zarr v2 group with flat ``.zattrs`` and one array per level.

    Parameters
    ----------
    image : pathlib.Path
        The ``{name}.zarr`` directory (replaced if it exists).
    attributes : dict
        Current-layout group attributes (flattened by :func:`legacy_attributes`).
    levels : sequence of numpy.ndarray
        Level data, finest first (arrays ``"0"``, ``"1"``, ...).
    chunks : sequence of int
        Chunk shape of every level (clipped to each level's shape), as visor-py 2024.12.x
        wrote unsharded Zarr v2 chunks.
    """
    write_v2_image(
        image,
        levels,
        chunks,
        numcodecs.Blosc(cname="zstd", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE),
    )
    # visor-py 2024.12.x wrote the attributes with json.dump(indent=2); so do we
    (image / ".zattrs").write_text(json.dumps(legacy_attributes(attributes), indent=2) + "\n")


def make_legacy_sample(
    path: str | Path,
    *,
    levels: int = 3,
    shape: Sequence[int] = (2, 2, 6, 12, 16),
    chunks: Sequence[int] = (1, 1, 4, 4, 4),
    seed: int = 0,
) -> Path:
    """Write a small sample in the legacy layout of visor-py 2024.12.x.

    It holds ``info.json``; ``visor_raw_images/selected.json`` with legacy ``path`` keys;
    the raw image ``slice_1_10x`` (stacks ``stack_1`` and ``stack_3``, channels ``561``
    and ``488`` listed in reverse index order, ``levels`` levels halving y and x); and
    the 4-D processed image ``visor_recon_images/xxx_brain_10x_20241201.zarr`` (axes
    ``c, z, y, x``, two levels halving z, y and x, with ``sources``).

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.vsr`` directory to create (replaced if it exists).
    levels : int, default 3
        Resolution levels of the raw image.
    shape : sequence of int, default (2, 2, 6, 12, 16)
        Level-0 shape of the raw image ``(s, c, z, y, x)``; the first two must be 2.
    chunks : sequence of int, default (1, 1, 4, 4, 4)
        Zarr v2 chunk shape of the raw image.
    seed : int, default 0
        Seed of the random uint16 data.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    root = Path(path)
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    info = {
        "animal_id": "LEGACY01",
        "project_name": "VISOR",
        "species": "Mouse",
        "subproject_name": "legacy-layout",
    }
    (root / "info.json").write_text(json.dumps(info, indent=2) + "\n")
    raw = root / "visor_raw_images"
    raw.mkdir(exist_ok=True)
    selected = [{"path": "slice_1_10x.zarr", "channels": ["488", "561"]}]
    (raw / "selected.json").write_text(json.dumps(selected, indent=2) + "\n")

    data = [rng.integers(0, 4000, size=tuple(shape), dtype=np.uint16)]
    for _ in range(1, levels):
        data.append(data[-1][..., ::2, ::2].copy())
    attributes = image_attributes(
        "slice_1_10x",
        stacks=["stack_1", "stack_3"],
        channels=["561", "488"],
        level_factors=[(1.0, 2.0**k, 2.0**k) for k in range(levels)],
        channel_order=[1, 0],
    )
    for channel in attributes["visor"]["channels"]:
        channel["v_schema"] = "2024.11.3"
    write_legacy_image(raw / "slice_1_10x.zarr", attributes, data, chunks)

    recon = [rng.integers(0, 4000, size=(2, 4, 8, 8), dtype=np.uint16)]
    recon.append(recon[0][:, ::2, ::2, ::2].copy())
    recon_attributes = image_attributes(
        "xxx_brain_10x_20241201",
        stacks=None,
        channels=["561", "488"],
        spacing=(4.0, 4.0, 4.0),
        level_factors=[(1.0, 1.0, 1.0), (2.0, 2.0, 2.0)],
        sources=[{"path": "visor_raw_images/slice_1_10x.zarr", "channels": ["561", "488"]}],
    )
    write_legacy_image(
        root / "visor_recon_images" / "xxx_brain_10x_20241201.zarr",
        recon_attributes,
        recon,
        (1, 4, 4, 4),
    )
    return root
