"""Helpers shared by tests of several packages: JSON files of a sample, names, level arrays."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RAW_DIR = "visor_raw_images"
#: The raw image of the samples ``make_sample`` writes (and of VISOR001).
IMAGE = "slice_1_10x"
#: The processed image and the transform version of the upstream VISOR001 sample.
COMPR = "xxx_slice_1_10x_20241201"
VERSION = "xxx_20250525"


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2), encoding="utf-8")


def temp_files(root: Path) -> list[Path]:
    """Leftovers of atomic writes (``.{name}.*.tmp``)."""
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def level_dir(sample: Path, name: str = IMAGE, level: str = "0", kind: str = "raw") -> Path:
    """Directory of one level array."""
    return sample / f"visor_{kind}_images" / f"{name}.zarr" / level


def shard_files(directory: Path) -> list[Path]:
    """Every stored shard file of a level array, sorted."""
    return sorted(p for p in (directory / "c").rglob("*") if p.is_file())
