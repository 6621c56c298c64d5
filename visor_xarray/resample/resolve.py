"""Resolving the transforms of an image: ``from_space -> to_space`` per stack and channel.

:func:`prepare` is the first step of :func:`~visor_xarray.resample.resample_dataarray`:
per position of the leading dims (``vs``, ``ch``), the transform ``from_space -> to_space``
is loaded (a chain of stored affines, per stack and channel) or taken from ``transform=``;
it is composed with the map from the DataArray's coordinates (µm) to the source space (for
``raw``: level-0 voxel indices, ``(c - t_g) / g``). No data are read.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np
import xarray as xr

from visor_xarray.errors import MetadataError
from visor_xarray.resample.grid import SPATIAL_DIMS
from visor_xarray.schema import ImageAttrs, parse_image_attrs
from visor_xarray.store import SOURCE_ENCODING
from visor_xarray.transforms.model import Affine
from visor_xarray.transforms.stored import Transform as StoredTransform

__all__ = [
    "LABEL_DIMS",
    "Prepared",
    "TransformArg",
    "TransformSpec",
    "prepare",
]

#: The label dims a stored transform is looked up by (stack, channel).
LABEL_DIMS = ("vs", "ch")

TransformArg = Affine | Mapping[Hashable, Affine] | None


@dataclass(frozen=True)
class TransformSpec:
    """Which space to resample into, and where the transform to it comes from.

    The keywords ``to_space``, ``version``, ``transform``, ``from_space`` and
    ``slice_name`` of :func:`~visor_xarray.resample.resample_dataarray`,
    :func:`~visor_xarray.resample.stitch_stacks`,
    :func:`~visor_xarray.resample.assign_space_coords` and the ``.visor.resample`` /
    ``.visor.stitch`` accessors, documented here once; :func:`prepare` resolves them.

    Parameters
    ----------
    to_space : str
        Target space (``"ortho"``, ``"slice"``, ``"brain"``, ...).
    version : str, optional
        Transform version in the sample; the chain ``from_space -> to_space`` is composed
        from the stored transforms of each stack/channel (inverting where needed).
        Defaults to the image's ``transform_version`` when ``transform`` is not given.
    transform : Affine or mapping, optional
        Instead of ``version``: the map ``from_space -> to_space``. For ``raw`` it maps
        level-0 raw voxel indices ``(z, y, x)`` to target micrometres. A mapping gives one
        per ``(stack, channel)`` label pair, stack label or channel label.
    from_space : str, optional
        Source space; default ``"raw"`` for raw images (and plain DataArrays). Other
        spaces take the coordinates (µm) as the source-space positions.
    slice_name : str, optional
        Slice directory of the version (default: the image name; raw images are slices).
    """

    to_space: str
    version: str | None = None
    transform: TransformArg = None
    from_space: str | None = None
    slice_name: str | None = None


@dataclass(frozen=True)
class Prepared:
    """A source with its transforms resolved, ready for gridding and resampling.

    Attributes
    ----------
    source : xarray.DataArray
        The input, transposed to ``(*lead_dims, "z", "y", "x")``.
    lead_dims : tuple of str
        The non-spatial dims.
    positions : list of tuple of int
        Every position along the leading dims.
    labels : dict
        ``{position: (stack label or None, channel label or None)}``.
    transforms : dict
        ``{position: Affine}``, ``from_space -> to_space`` (raw: level-0 voxel index -> µm).
    coord_maps : dict
        ``{position: Affine}``, source coordinate values -> ``to_space``.
    from_space, to_space : str
    version : str or None
        Transform version, if the transforms were read from the sample.
    metadata : ImageAttrs or None
        The source image's metadata, if it has any.
    """

    source: xr.DataArray
    lead_dims: tuple[str, ...]
    positions: list[tuple[int, ...]]
    labels: dict[tuple[int, ...], tuple[str | None, str | None]]
    transforms: dict[tuple[int, ...], Affine]
    coord_maps: dict[tuple[int, ...], Affine]
    from_space: str
    to_space: str
    version: str | None
    metadata: ImageAttrs | None


def _metadata(source: xr.DataArray) -> ImageAttrs | None:
    text = source.attrs.get("vsr_attributes")
    if text is None:
        return None
    return parse_image_attrs(json.loads(text))


def _label(source: xr.DataArray, dim: str, position: Mapping[str, int]) -> str | None:
    if dim in position:
        return str(source.coords[dim].values[position[dim]]) if dim in source.coords else None
    if dim in source.coords and source.coords[dim].ndim == 0:
        return str(source.coords[dim].values.item())
    return None


def _coords_to_raw(metadata: ImageAttrs | None, source: xr.DataArray) -> Affine:
    """Coordinate values (µm) -> raw level-0 voxel index: ``(c - t_g) / g`` per axis."""
    if metadata is None:
        raise MetadataError(
            None,
            "attrs.vsr_attributes",
            "from_space='raw' needs the image's VISoR metadata to turn coordinates into raw "
            "voxel indices (open it with engine='visor'); for a plain DataArray whose "
            "coordinates are already in the source space's units, pass from_space=<that space>",
        )
    multiscale = metadata.multiscale
    dims = multiscale.dims
    scale = multiscale.scale or (1.0,) * len(dims)
    translation = multiscale.translation or (0.0,) * len(dims)
    try:
        axes = [dims.index(d) for d in SPATIAL_DIMS]
    except ValueError:
        raise MetadataError(
            None, "attrs.vsr_attributes", f"image axes {dims} lack z, y or x"
        ) from None
    g = np.array([scale[a] for a in axes], dtype=np.float64)
    t = np.array([translation[a] for a in axes], dtype=np.float64)
    return Affine(np.diag(1.0 / g), -t / g)


def _lookup(
    transform: Mapping[Hashable, Affine], stack: str | None, channel: str | None
) -> Affine:
    for key in ((stack, channel), stack, channel):
        if key is not None and key in transform:
            return transform[key]
    raise ValueError(
        f"transform mapping has no entry for stack {stack!r}, channel {channel!r}; keys may be "
        f"(stack, channel) tuples, stack labels or channel labels, got {list(transform)}"
    )


def prepare(source: xr.DataArray, spec: TransformSpec) -> Prepared:
    """Resolve the transforms of every stack/channel of a source (no data are read).

    Parameters
    ----------
    source : xarray.DataArray
        Dims ``z``, ``y``, ``x`` and optionally ``vs``/``ch`` (or scalar ``vs``/``ch``
        coordinates).
    spec : TransformSpec
        The target space and where the transforms come from.

    Returns
    -------
    Prepared

    Raises
    ------
    ValueError
        If both or (without a ``transform_version`` attribute) neither of ``version`` and
        ``transform`` are given, or ``from_space`` is needed and missing.
    MetadataError
        If raw voxel indices are needed and the source has no VISoR metadata.
    UnknownTransformError, UnknownLabelError, UnsupportedTransformError
        From the stored transforms.
    """
    to_space, version, transform = spec.to_space, spec.version, spec.transform
    from_space, slice_name = spec.from_space, spec.slice_name
    if version is not None and transform is not None:
        raise ValueError("give either version= (stored transforms) or transform=, not both")
    if version is None and transform is None:
        version = source.attrs.get("transform_version")
        if version is None:
            raise ValueError(
                "give version= (a transform version of the sample) or transform= (an Affine)"
            )
    image_type = source.attrs.get("image_type")
    if from_space is None:
        if image_type not in (None, "raw"):
            raise ValueError(
                f"from_space is required for a {image_type!r} image (raw images default to 'raw')"
            )
        from_space = "raw"
    lead_dims = tuple(str(d) for d in source.dims if d not in SPATIAL_DIMS)
    source = source.transpose(*lead_dims, *SPATIAL_DIMS)
    metadata = _metadata(source)
    to_source_space = (
        _coords_to_raw(metadata, source) if from_space == "raw" else Affine.identity()
    )
    stored: StoredTransform | None = None
    if version is not None:
        opened = source.encoding.get(SOURCE_ENCODING)
        # the opener's location keeps a remote sample's storage options; attrs hold a URL
        path = opened.sample if opened is not None else source.attrs.get("vsr_path")
        if path is None:
            raise MetadataError(
                None,
                "attrs.vsr_path",
                "version= reads transforms from the sample, but this object does not say which "
                "sample it comes from (open it with engine='visor', or pass transform=)",
            )
        name = slice_name or source.attrs.get("image_name")
        if name is None:
            raise ValueError("give slice_name= (the slice directory of the transform version)")
        stored = StoredTransform(path, version=str(version), name=str(name), mode="r")
    sizes = [int(source.sizes[d]) for d in lead_dims]
    positions = list(itertools.product(*(range(n) for n in sizes)))
    labels: dict[tuple[int, ...], tuple[str | None, str | None]] = {}
    transforms: dict[tuple[int, ...], Affine] = {}
    coord_maps: dict[tuple[int, ...], Affine] = {}
    cache: dict[tuple[str | None, str | None], Affine] = {}
    for position in positions:
        where = dict(zip(lead_dims, position, strict=True))
        key = (_label(source, "vs", where), _label(source, "ch", where))
        if key not in cache:
            if stored is not None:
                cache[key] = stored.chain(from_space, to_space, stack=key[0], channel=key[1])
            elif isinstance(transform, Affine):
                cache[key] = transform
            else:
                assert transform is not None
                cache[key] = _lookup(transform, *key)
        labels[position] = key
        transforms[position] = cache[key]
        coord_maps[position] = cache[key] @ to_source_space
    return Prepared(
        source=source,
        lead_dims=lead_dims,
        positions=positions,
        labels=labels,
        transforms=transforms,
        coord_maps=coord_maps,
        from_space=from_space,
        to_space=to_space,
        version=None if version is None else str(version),
        metadata=metadata,
    )
