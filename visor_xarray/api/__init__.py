"""The visor-py-compatible API: ``info``, ``list_image``, ``list_transform``, ``Image``.

Same call shapes as visor-py's README, on top of :class:`~visor_xarray.store.VsrStore`.
Listings return small typed records that print readably instead of bare dicts.

One job per module:

- :mod:`~visor_xarray.api.records`: :class:`SampleSummary`, :class:`ImageRecord`,
  :class:`TransformRecord`;
- :mod:`~visor_xarray.api.listing`: :func:`info`, :func:`list_image`,
  :func:`list_transform`;
- :mod:`~visor_xarray.api.image`: :class:`Image`.
"""

from __future__ import annotations

from visor_xarray.api.image import Image
from visor_xarray.api.listing import info, list_image, list_transform
from visor_xarray.api.records import ImageRecord, SampleSummary, TransformRecord

__all__ = [
    "Image",
    "ImageRecord",
    "SampleSummary",
    "TransformRecord",
    "info",
    "list_image",
    "list_transform",
]
