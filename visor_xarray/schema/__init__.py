"""Typed model of the ``.vsr`` metadata documents: parse, validate, serialise.

Every ``parse_*`` function takes the decoded JSON value and raises
:class:`~visor_xarray.errors.MetadataError` with the JSON path of the offending field;
the caller attaches the file with :meth:`MetadataError.located`. Legacy forms listed in
the format specification are accepted: ``path`` instead of ``name`` (selected.json,
recon.json), ``s``/``c`` axis names, and ``{"_comment": ...}`` placeholder objects.

One job per module:

- :mod:`~visor_xarray.schema.models`: the typed models and their serialisation;
- :mod:`~visor_xarray.schema.image_attrs`: :func:`parse_image_attrs` (OME multiscales
  and the ``visor`` block of an image group);
- :mod:`~visor_xarray.schema.legacy`: the attributes of a legacy Zarr v2 image;
- :mod:`~visor_xarray.schema.sample_documents`: :func:`parse_sample_info`,
  :func:`parse_selection`, :func:`parse_recon`, :func:`parse_transform_list`;
- :mod:`~visor_xarray.schema.fields`: the shared readers of JSON values;
- :mod:`~visor_xarray.schema.validate`: :func:`check_array_matches`.
"""

from visor_xarray.schema.image_attrs import parse_image_attrs
from visor_xarray.schema.legacy import current_image_attrs, parse_legacy_image_attrs
from visor_xarray.schema.models import (
    AXIS_TYPE_DIMS,
    CHANNEL_FIELD_UNITS,
    Axis,
    Channel,
    ImageAttrs,
    Level,
    Multiscale,
    OmeAttrs,
    ReconInfo,
    ReconSlice,
    SampleInfo,
    SelectedImage,
    Selection,
    Source,
    TransformEntry,
    TransformList,
    VisorAttrs,
    VisorStack,
)
from visor_xarray.schema.sample_documents import (
    parse_recon,
    parse_sample_info,
    parse_selection,
    parse_transform_list,
)
from visor_xarray.schema.validate import check_array_matches

__all__ = [
    "AXIS_TYPE_DIMS",
    "CHANNEL_FIELD_UNITS",
    "Axis",
    "Channel",
    "ImageAttrs",
    "Level",
    "Multiscale",
    "OmeAttrs",
    "ReconInfo",
    "ReconSlice",
    "SampleInfo",
    "SelectedImage",
    "Selection",
    "Source",
    "TransformEntry",
    "TransformList",
    "VisorAttrs",
    "VisorStack",
    "check_array_matches",
    "current_image_attrs",
    "parse_image_attrs",
    "parse_legacy_image_attrs",
    "parse_recon",
    "parse_sample_info",
    "parse_selection",
    "parse_transform_list",
]
