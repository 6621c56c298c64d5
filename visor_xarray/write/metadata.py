"""Image metadata (OME multiscales + VISoR fields) built from a DataArray's coordinates.

Coordinates are the source of truth: the stack and channel labels, the spacing and origin
of z/y/x, and the scalar acquisition coordinates along ``ch``. The ``vsr_attributes`` attr
that the engine attaches fills in what coordinates cannot hold (list-valued channel fields
such as ``roi``, stack positions, sources, unknown keys), matched by label, so a subset
selected with ``sel`` writes exactly its own stacks and channels.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from visor_xarray import layout
from visor_xarray.coords import channel_field_long_name, level_spacing
from visor_xarray.errors import MetadataError
from visor_xarray.schema import CHANNEL_FIELD_UNITS, ImageAttrs, parse_image_attrs

__all__ = ["CANONICAL_DIMS", "canonical_order", "image_attrs_from_dataarray"]

#: Dimension order of every VISoR image; a DataArray is transposed to it before writing.
CANONICAL_DIMS = ("vs", "ch", "z", "y", "x")


def canonical_order(array: xr.DataArray) -> xr.DataArray:
    """The array with its dims in VISoR's order, ``(vs, ch, z, y, x)`` (those it has).

    Parameters
    ----------
    array : xarray.DataArray

    Returns
    -------
    xarray.DataArray
        ``array`` transposed (a view).

    Raises
    ------
    MetadataError
        If the array has a dim VISoR images do not use.
    """
    order = [d for d in CANONICAL_DIMS if d in array.dims]
    missing = [d for d in array.dims if d not in CANONICAL_DIMS]
    if missing:
        raise MetadataError(
            None, "dims", f"unknown dimensions {missing}; VISoR images use {CANONICAL_DIMS}"
        )
    return array.transpose(*order)


_AXIS_TYPES = {"vs": "visor_stack", "ch": "channel"}
_RELATIVE_TOLERANCE = 1e-6
# Coordinates derived by the engine that must not be written back as channel fields.
_DERIVED_CHANNEL_COORDS = {"wavelength"}


def _original(array: xr.DataArray) -> ImageAttrs | None:
    text = array.attrs.get("vsr_attributes")
    if text is None:
        return None
    try:
        return parse_image_attrs(json.loads(text))
    except (MetadataError, ValueError):
        return None


def _spacing_and_origin(
    array: xr.DataArray, dim: str, original: ImageAttrs | None, level: str | None
) -> tuple[float, float, str]:
    if dim not in array.coords:
        raise MetadataError(
            None,
            f"coords.{dim}",
            f"dimension {dim!r} needs a coordinate (voxel centres) to be written",
        )
    coord = array.coords[dim]
    values = np.asarray(coord.values, dtype=np.float64)
    units = str(coord.attrs.get("units", "micrometer"))
    if values.size >= 2:
        steps = np.diff(values)
        step = float(steps.mean())
        if step <= 0 or not np.allclose(steps, step, rtol=_RELATIVE_TOLERANCE, atol=0):
            raise MetadataError(
                None,
                f"coords.{dim}",
                "coordinates must be evenly spaced and increasing to be written as an OME scale",
            )
        return step, float(values[0]), units
    if original is not None:
        multiscale = original.multiscale
        if dim in multiscale.dims:
            chosen = level if level in multiscale.level_paths else multiscale.level_paths[0]
            step = level_spacing(multiscale, chosen)[multiscale.dims.index(dim)]
            return step, float(values[0]) if values.size else 0.0, units
    raise MetadataError(
        None,
        f"coords.{dim}",
        f"cannot infer the voxel size of {dim!r} from one coordinate value; "
        "give at least two values or open the data with engine='visor'",
    )


def _labels(array: xr.DataArray, dim: str, what: str) -> list[str]:
    if dim not in array.coords:
        raise MetadataError(
            None, f"coords.{dim}", f"dimension {dim!r} needs a coordinate of {what} labels"
        )
    labels = [str(v) for v in np.atleast_1d(array.coords[dim].values)]
    if len(set(labels)) != len(labels):
        raise MetadataError(None, f"coords.{dim}", f"{what} labels must be unique, got {labels}")
    return labels


def _scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _channel_fields(array: xr.DataArray) -> list[str]:
    """Coordinates holding channel acquisition fields: those along ``ch`` and, for a
    single channel, the scalar ones the engine marked as channel fields (``sel(ch=...)``
    left them scalar, and ``expand_dims("ch")`` does not give them their dim back)."""
    fields = []
    for name, coord in array.coords.items():
        if name == "ch" or name in _DERIVED_CHANNEL_COORDS:
            continue
        along_ch = coord.dims == ("ch",)
        single = coord.ndim == 0 and array.sizes["ch"] == 1
        if along_ch or (
            single and coord.attrs.get("long_name") == channel_field_long_name(str(name))
        ):
            fields.append(str(name))
    return fields


def _channels(array: xr.DataArray, original: ImageAttrs | None) -> list[dict[str, Any]]:
    labels = _labels(array, "ch", "channel (wavelength)")
    known = (
        {c.wavelength: c for c in original.visor.channels} if original and original.visor else {}
    )
    coords_along_ch = _channel_fields(array)
    out = []
    for index, label in enumerate(labels):
        entry: dict[str, Any] = {"index": index, "wavelength": label}
        if label in known:
            entry.update(known[label].acquisition)
        for name in coords_along_ch:
            values = array.coords[name].values
            value = _scalar(values[index] if values.ndim else values[()])
            if isinstance(value, float) and np.isnan(value):
                continue
            if name in CHANNEL_FIELD_UNITS and array.coords[name].attrs.get("units") not in (
                None,
                CHANNEL_FIELD_UNITS[name],
            ):
                raise MetadataError(
                    None,
                    f"coords.{name}",
                    f"must be in {CHANNEL_FIELD_UNITS[name]} to be written "
                    f"(got units {array.coords[name].attrs['units']!r})",
                )
            entry[str(name)] = value
        out.append(entry)
    return out


def _stacks(array: xr.DataArray, original: ImageAttrs | None) -> list[dict[str, Any]]:
    labels = _labels(array, "vs", "stack")
    known = (
        {s.label: s for s in original.visor.visor_stacks or ()}
        if original and original.visor
        else {}
    )
    out = []
    for index, label in enumerate(labels):
        entry: dict[str, Any] = {"index": index, "label": label}
        if label in known:
            stack = known[label]
            if stack.position is not None:
                entry["position"] = list(stack.position)
            entry.update(stack.extra)
        if "position_x" in array.coords and "position_y" in array.coords:
            entry["position"] = [
                float(array.coords["position_x"].values[index]),
                float(array.coords["position_y"].values[index]),
            ]
        out.append(entry)
    return out


def _provenance(array: xr.DataArray, channels: list[str]) -> dict[str, Any]:
    """``sources`` and ``transform_version`` from the attrs a resampled array carries.

    ``resample`` records the image it read (``source_image_type``, ``source_image_name``)
    and the transform version; the format keeps them as ``sources`` (the source image's
    path inside the sample, and the channels taken from it) and ``transform_version``.
    """
    out: dict[str, Any] = {}
    version = array.attrs.get("transform_version")
    if isinstance(version, str) and version:
        out["transform_version"] = version
    kind, name = array.attrs.get("source_image_type"), array.attrs.get("source_image_name")
    if isinstance(kind, str) and isinstance(name, str):
        source = layout.image_dir(Path(), kind, name).as_posix()  # relative to the sample
        out["sources"] = [{"path": source, "channels": channels}]
    return out


def image_attrs_from_dataarray(
    array: xr.DataArray,
    *,
    name: str,
    factors: Sequence[Sequence[int]] = (),
    visor_overrides: Mapping[str, Any] | None = None,
    translations: bool = True,
) -> ImageAttrs:
    """Build the group attributes of an image from a DataArray in canonical dim order.

    Parameters
    ----------
    array : xarray.DataArray
        Dims a subsequence of ``(vs, ch, z, y, x)`` including ``ch``; coordinates along
        every dim (labels for ``vs``/``ch``, evenly spaced positions for z/y/x).
    name : str
        The image name (the multiscale's ``name``).
    factors : sequence of tuple of int
        Relative downsampling factors of the extra levels (level 0 excluded).
    visor_overrides : mapping, optional
        ``attributes.visor`` fields to set (e.g. ``transform_version``, ``sources``).
    translations : bool, default True
        Record the half-voxel translation of block-mean levels.

    Returns
    -------
    ImageAttrs

    Raises
    ------
    MetadataError
        If a required coordinate is missing or unevenly spaced (the field names the
        coordinate), or the result breaks the schema.
    """
    dims = tuple(str(d) for d in array.dims)
    if "ch" not in dims:
        raise MetadataError(
            None,
            "dims",
            f"a VISoR image needs a 'ch' (channel) dimension; got dims {dims} "
            "(add one with .expand_dims(ch=['488']))",
        )
    unknown = [d for d in dims if d not in CANONICAL_DIMS]
    if unknown:
        raise MetadataError(
            None, "dims", f"unknown dimensions {unknown}; VISoR images use {CANONICAL_DIMS}"
        )
    original = _original(array)
    level = array.attrs.get("resolution_level")
    axes: list[dict[str, Any]] = []
    scale: list[float] = []
    origin: list[float] = []
    for dim in dims:
        if dim in _AXIS_TYPES:
            axes.append({"name": dim, "type": _AXIS_TYPES[dim]})
            scale.append(1.0)
            origin.append(0.0)
            continue
        step, first, units = _spacing_and_origin(array, dim, original, level)
        axes.append({"name": dim, "type": "space", "unit": units})
        scale.append(step)
        origin.append(first)
    datasets = [
        {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1.0] * len(dims)}]}
    ]
    cumulative = np.ones(len(dims))
    for level_number, level_factors in enumerate(factors, start=1):
        cumulative = cumulative * np.asarray(level_factors, dtype=np.float64)
        transforms: list[dict[str, Any]] = [{"type": "scale", "scale": cumulative.tolist()}]
        if translations and np.any(cumulative > 1):
            transforms.append(
                {"type": "translation", "translation": ((cumulative - 1) / 2).tolist()}
            )
        datasets.append({"path": str(level_number), "coordinateTransformations": transforms})
    global_transforms: list[dict[str, Any]] = [{"type": "scale", "scale": scale}]
    if any(origin):
        global_transforms.append({"type": "translation", "translation": origin})
    multiscale: dict[str, Any] = {
        "name": name,
        "axes": axes,
        "datasets": datasets,
        "coordinateTransformations": global_transforms,
        "type": "mean",
        "metadata": {"method": "visor_xarray.write.pyramid.block_reduce", "args": "mean"},
    }
    visor: dict[str, Any] = {}
    if "vs" in dims:
        visor["visor_stacks"] = _stacks(array, original)
    visor["channels"] = _channels(array, original)
    if original is not None and original.visor is not None:
        if original.visor.sources is not None:
            visor["sources"] = [s.to_dict() for s in original.visor.sources]
        if original.visor.transform_version is not None:
            visor["transform_version"] = original.visor.transform_version
        visor.update(original.visor.extra)
    visor.update(_provenance(array, [c["wavelength"] for c in visor["channels"]]))
    visor.update(visor_overrides or {})
    document: dict[str, Any] = {
        "ome": {"version": "0.5", "multiscales": [multiscale]},
        "visor": visor,
    }
    try:
        return parse_image_attrs(document)
    except MetadataError as error:
        raise MetadataError(
            None, error.field, f"{error.problem} (built from the DataArray)"
        ) from None
