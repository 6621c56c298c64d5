"""The writer's former single module, kept so ``visor_xarray.write.writer`` still imports.

The code lives in modules with one job each (see :mod:`visor_xarray.write`):
:mod:`~visor_xarray.write.image` (whole-image writes), :mod:`~visor_xarray.write.levels`
(pyramid levels, ``add_levels``), :mod:`~visor_xarray.write.region` (region writes),
:mod:`~visor_xarray.write.report` (reports, predicted peak) and
:mod:`~visor_xarray.write.shards` (shard-streaming helpers). Its public names are
re-exported here.
"""

from __future__ import annotations

from visor_xarray.write.image import write_dataarray
from visor_xarray.write.levels import add_levels
from visor_xarray.write.region import write_region
from visor_xarray.write.report import PEAK_FACTOR, LevelReport, WriteReport, predicted_peak

__all__ = [
    "PEAK_FACTOR",
    "LevelReport",
    "WriteReport",
    "add_levels",
    "predicted_peak",
    "write_dataarray",
    "write_region",
]
