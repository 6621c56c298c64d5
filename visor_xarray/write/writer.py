"""The writer's former single module, kept so ``visor_xarray.write.writer`` still imports.

The code lives in modules with one job each (see :mod:`visor_xarray.write`):
:mod:`~visor_xarray.write.image` (whole-image writes), :mod:`~visor_xarray.write.levels`
(pyramid levels, ``add_levels``), :mod:`~visor_xarray.write.region` (region writes),
:mod:`~visor_xarray.write.report` (reports, predicted peak) and
:mod:`~visor_xarray.write.shards` (shard-streaming helpers). Every name this module had
is re-exported here; patch a private helper in the module that looks it up, not here.
"""

from __future__ import annotations

from visor_xarray.write.image import _DEFAULT_INNER as _DEFAULT_INNER
from visor_xarray.write.image import _canonical as _canonical
from visor_xarray.write.image import _check_target as _check_target
from visor_xarray.write.image import _clear_image as _clear_image
from visor_xarray.write.image import _inner_chunks as _inner_chunks
from visor_xarray.write.image import _shards as _shards
from visor_xarray.write.image import write_dataarray
from visor_xarray.write.levels import _level_shards as _level_shards
from visor_xarray.write.levels import _pyramid_compressors as _pyramid_compressors
from visor_xarray.write.levels import _write_pyramid as _write_pyramid
from visor_xarray.write.levels import add_levels
from visor_xarray.write.region import _merge_region as _merge_region
from visor_xarray.write.region import _region_slices as _region_slices
from visor_xarray.write.region import _write_region_levels as _write_region_levels
from visor_xarray.write.region import _write_shard as _write_shard
from visor_xarray.write.region import write_region
from visor_xarray.write.report import PEAK_FACTOR, LevelReport, WriteReport, predicted_peak
from visor_xarray.write.report import _workers as _workers
from visor_xarray.write.shards import _from_array as _from_array
from visor_xarray.write.shards import _NoCopy as _NoCopy
from visor_xarray.write.shards import _progress as _progress
from visor_xarray.write.shards import _shard_grid as _shard_grid
from visor_xarray.write.shards import _store_shards as _store_shards

__all__ = [
    "PEAK_FACTOR",
    "LevelReport",
    "WriteReport",
    "add_levels",
    "predicted_peak",
    "write_dataarray",
    "write_region",
]
