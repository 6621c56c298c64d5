"""Write ``LEGACY002-v2024.12.3.vsr`` with visor-py 2024.12.3, the writer of the legacy layout.

Not run by the tests (they read the files it wrote, committed beside it). To regenerate,
in a separate environment (visor-py 2024.12.3 needs ``zarr<3``)::

    python -m venv legacy-venv
    legacy-venv/bin/pip install "visor-py==2024.12.3" "zarr<3"
    cd tests/data && ../../legacy-venv/bin/python generate_legacy002.py LEGACY002-v2024.12.3.vsr

It holds what the upstream ``VISOR001-v2024.12.3.vsr`` does not: a raw image of two
resolution levels with three stacks whose labels have a gap and channels listed out of
index order, and a 4-D reconstructed image of two levels, written level by level through
``visor.image.core.Image.write`` as visor-py 2024.12.x users did.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
from visor.image.core import open_vsr  # type: ignore[import-not-found]

FIXTURE = Path(__file__).resolve().parent / "VISOR001-v2024.12.3.vsr"


def multiscales(name: str, axes: list[dict[str, Any]], scales: list[list[float]]) -> list[Any]:
    fixture = json.loads((FIXTURE / "visor_raw_images/slice_1_10x.zarr/.zattrs").read_text())
    entry = dict(fixture["multiscales"][0])
    entry["name"] = name
    entry["axes"] = axes
    entry["datasets"] = [
        {"path": str(k), "coordinateTransformations": [{"type": "scale", "scale": s}]}
        for k, s in enumerate(scales)
    ]
    entry["coordinateTransformations"] = [
        {"type": "scale", "scale": [1.0] * (len(axes) - 3) + [3.5, 1.03, 1.03]}
    ]
    return [entry]


def main(target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    fixture = json.loads((FIXTURE / "visor_raw_images/slice_1_10x.zarr/.zattrs").read_text())
    info = json.loads((FIXTURE / "info.json").read_text()) | {"animal_id": "LEGACY002"}
    rng = np.random.default_rng(2024)
    axes = fixture["multiscales"][0]["axes"]
    channels = [dict(c) for c in reversed(fixture["channels"])]  # listed 561 (index 1), 488
    stacks = [
        {"index": i, "label": label, "position": [20.2647, 61.2581 + 2.0 * i]}
        for i, label in enumerate(["stack_1", "stack_2", "stack_4"])
    ]
    raw_attrs = {
        "multiscales": multiscales(
            "slice_1_10x", axes, [[1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 2.0, 2.0]]
        ),
        "visor_stacks": stacks,
        "channels": channels,
    }
    selected = [{"path": "slice_1_10x.zarr", "channels": ["488", "561"]}]
    level0 = rng.integers(0, 4000, size=(3, 2, 6, 16, 16), dtype=np.uint16)
    level1 = level0.reshape(3, 2, 6, 8, 2, 8, 2).mean(axis=(4, 6)).round().astype(np.uint16)
    image = open_vsr(target, "w")
    for resolution, data in enumerate((level0, level1)):
        image.write(
            da.from_array(data, chunks=(1, 1, 4, 8, 8)),
            "raw",
            "slice_1_10x",
            resolution,
            info,
            raw_attrs,
            selected,
        )

    recon_axes = axes[1:]
    recon_attrs = {
        "multiscales": multiscales(
            "xxx_brain_10x_20241201", recon_axes, [[1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 2.0, 2.0]]
        ),
        "channels": [{"index": c["index"], "wavelength": c["wavelength"]} for c in channels],
        "sources": [{"path": "visor_raw_images/slice_1_10x.zarr", "channels": ["488", "561"]}],
    }
    recon0 = rng.integers(0, 4000, size=(2, 8, 8, 8), dtype=np.uint16)
    recon1 = recon0[:, ::2, ::2, ::2].copy()
    for resolution, data in enumerate((recon0, recon1)):
        image.write(
            da.from_array(data, chunks=(1, 4, 4, 4)),
            "recon",
            "xxx_brain_10x_20241201",
            resolution,
            info,
            recon_attrs,
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
