"""Parse untrusted JSON documents of a ``.vsr`` sample into :mod:`~visor_xarray.schema.models`.

Every ``parse_*`` function takes the decoded JSON value and raises
:class:`~visor_xarray.errors.MetadataError` with the JSON path of the offending field;
the caller attaches the file with :meth:`MetadataError.located`. Legacy forms listed in
the format specification are accepted: ``path`` instead of ``name`` (selected.json,
recon.json), ``s``/``c`` axis names, and ``{"_comment": ...}`` placeholder objects.

One job per module; every name is re-exported here:

- :mod:`~visor_xarray.schema.image_attrs`: :func:`parse_image_attrs` (OME multiscales
  and the ``visor`` block of an image group);
- :mod:`~visor_xarray.schema.documents`: :func:`parse_sample_info`,
  :func:`parse_selection`, :func:`parse_recon`, :func:`parse_transform_list`;
- :mod:`~visor_xarray.schema.fields`: the shared readers of JSON values.
"""

from __future__ import annotations

from visor_xarray.schema.documents import (
    parse_recon,
    parse_sample_info,
    parse_selection,
    parse_transform_list,
)
from visor_xarray.schema.image_attrs import parse_image_attrs

__all__ = [
    "parse_image_attrs",
    "parse_recon",
    "parse_sample_info",
    "parse_selection",
    "parse_transform_list",
]
