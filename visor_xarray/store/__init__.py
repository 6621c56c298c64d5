"""A ``.vsr`` sample on disk: discovery, metadata documents, level arrays, transform files.

:class:`VsrStore` is the only code that reads or writes the sample's files (through
:mod:`visor_xarray.zarr_io` for arrays and atomic JSON); everything above it works with
the typed schema models it returns.

The package is split by job:

* :mod:`~visor_xarray.store.vsr_store`: :class:`VsrStore`, the sample's documents, images
  and transform files, local or at a URL (read-only there);
* :mod:`~visor_xarray.store.opening`: checking (or creating) a sample directory on opening;
* :mod:`~visor_xarray.store.modes`: open modes of samples and images;
* :mod:`~visor_xarray.store.document_files`: reading and checking JSON documents;
* :mod:`~visor_xarray.store.images`: image group attributes and level arrays;
* :mod:`~visor_xarray.store.level_source`: :class:`LevelSource`, one level of one image,
  openable in any process (what the engine opened, as resampling reads it).
"""

from __future__ import annotations

from visor_xarray.store.level_source import SOURCE_ENCODING, LevelSource
from visor_xarray.store.modes import IMAGE_MODES, ImageMode, SampleMode
from visor_xarray.store.vsr_store import Location, VsrStore

__all__ = [
    "IMAGE_MODES",
    "SOURCE_ENCODING",
    "ImageMode",
    "LevelSource",
    "Location",
    "SampleMode",
    "VsrStore",
]
