"""A ``.vsr`` sample on disk: discovery, metadata documents, level arrays, transform files.

:class:`VsrStore` is the only code that reads or writes the sample's files (through
:mod:`visor_xarray.zarr_io` for arrays and atomic JSON); everything above it works with
the typed schema models it returns.

The package is split by job:

* :mod:`~visor_xarray.store.vsr_store`: :class:`VsrStore`, opening or creating a sample;
* :mod:`~visor_xarray.store.base`: open modes and the write guard;
* :mod:`~visor_xarray.store.documents`: reading and checking JSON documents;
* :mod:`~visor_xarray.store.sample`: ``info.json``, ``selected.json``, image discovery;
* :mod:`~visor_xarray.store.images`: image groups and level arrays;
* :mod:`~visor_xarray.store.transform_files`: transform versions and slice transform lists;
* :mod:`~visor_xarray.store.level_source`: :class:`LevelSource`, one level of one image,
  openable in any process (what the engine opened, as resampling reads it).
"""

from __future__ import annotations

from visor_xarray.store.base import IMAGE_MODES as IMAGE_MODES
from visor_xarray.store.base import ImageMode, SampleMode
from visor_xarray.store.level_source import SOURCE_ENCODING, LevelSource
from visor_xarray.store.vsr_store import VsrStore

__all__ = ["SOURCE_ENCODING", "ImageMode", "LevelSource", "SampleMode", "VsrStore"]
