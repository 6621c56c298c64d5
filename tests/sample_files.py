"""Helpers shared by the store and API tests: JSON files of a sample, names in VISOR001."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RAW_DIR = "visor_raw_images"
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
