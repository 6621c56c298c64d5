"""Paths of the vendored upstream samples (``tests/data``, see its README)."""

from __future__ import annotations

from pathlib import Path

#: The test data directory of this repository.
DATA = Path(__file__).resolve().parent / "data"

#: visor-py's own test sample (current layout), copied unchanged.
VISOR001 = DATA / "VISOR001.vsr"

#: The same sample in the legacy layout of visor-py 2024.12 (release v2024.12.3).
VISOR001_V2024 = DATA / "VISOR001-v2024.12.3.vsr"
