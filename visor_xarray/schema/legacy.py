"""The image attributes of the legacy layout (visor-py 2024.12.x, schema v2024.11.3).

That layout stores each image as a Zarr v2 group whose ``.zattrs`` is *flat*: the OME 0.4
``multiscales`` (with ``version`` inside the multiscale entry, axes ``s, c, z, y, x``)
and the VISoR fields ``visor_stacks``, ``channels`` and ``sources`` side by side at the
top level, with no ``ome``/``visor`` namespaces (vsr-format.md section 9).

:func:`parse_legacy_image_attrs` reads such a document into the same
:class:`~visor_xarray.schema.ImageAttrs` model as the current layout, so everything above
the store works unchanged; :func:`current_image_attrs` turns it into the attributes of
the current layout (schema v2025.6.1, OME-Zarr 0.5) for a conversion.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from visor_xarray.schema.fields import (
    field_error,
    join_path,
    read_items,
    read_object,
    read_required,
    read_string,
    unknown_fields,
)
from visor_xarray.schema.image_attrs import parse_multiscale, parse_visor_block
from visor_xarray.schema.models import AXIS_TYPE_DIMS, ImageAttrs, OmeAttrs

__all__ = ["LEGACY_VISOR_KEYS", "current_image_attrs", "parse_legacy_image_attrs"]

#: Top-level keys of a legacy ``.zattrs`` that belong to the ``visor`` block today.
LEGACY_VISOR_KEYS = ("visor_stacks", "channels", "sources", "transform_version")
_LEGACY_OME_VERSION = "0.4"


def parse_legacy_image_attrs(value: Any) -> ImageAttrs:
    """Parse the flat ``.zattrs`` of a legacy image group.

    Parameters
    ----------
    value : Any
        The decoded ``.zattrs`` object.

    Returns
    -------
    ImageAttrs
        ``ome.version`` is the multiscale's own ``version`` (``"0.4"``); axis names stay as
        stored (``s``/``c`` open as the ``vs``/``ch`` dims through their types).

    Raises
    ------
    MetadataError
        With the JSON path (relative to the document, e.g. ``channels[1].wavelength``) of
        the first problem.
    """
    obj = read_object(value, "")
    multiscales = read_items(
        read_required(obj, "multiscales", ""), "multiscales", parse_multiscale
    )
    if not multiscales:
        raise field_error("multiscales", "at least one multiscale is required")
    version = multiscales[0].extra.get("version", _LEGACY_OME_VERSION)
    read_string(version, join_path(join_path("multiscales", 0), "version"))
    visor_fields = {key: obj[key] for key in LEGACY_VISOR_KEYS if key in obj}
    visor = parse_visor_block(visor_fields, "") if visor_fields else None
    return ImageAttrs(
        ome=OmeAttrs(version=str(version), multiscales=multiscales),
        visor=visor,
        extra=unknown_fields(obj, {"multiscales", *LEGACY_VISOR_KEYS}),
    )


def current_image_attrs(attrs: ImageAttrs) -> ImageAttrs:
    """The attributes of a legacy image in the current layout (OME-Zarr 0.5, ``ome``/``visor``).

    The OME version becomes ``"0.5"`` at the top of ``ome`` (no longer inside the
    multiscale), axes of type ``visor_stack``/``channel`` are renamed ``vs``/``ch``
    (their names since schema v2025.5.1), and everything else (scales, channel
    acquisition fields, stack positions, sources, unknown keys) is kept as it is.

    Parameters
    ----------
    attrs : ImageAttrs
        Attributes as :func:`parse_legacy_image_attrs` returns them (attributes already
        in the current layout come back with the same changes, which they do not need).

    Returns
    -------
    ImageAttrs
    """
    multiscales = tuple(
        replace(
            multiscale,
            axes=tuple(
                replace(axis, name=AXIS_TYPE_DIMS.get(axis.type or "", axis.name))
                for axis in multiscale.axes
            ),
            extra={k: v for k, v in multiscale.extra.items() if k != "version"},
        )
        for multiscale in attrs.ome.multiscales
    )
    return replace(attrs, ome=replace(attrs.ome, version="0.5", multiscales=multiscales))
