"""Resampling of VISoR images between spaces: transforms, output grid, resolution level.

This module turns ``DataArray.visor.resample(to_space=..., version=...)`` into a call of
:func:`visor_xarray.resample.core.resample_to_grid`:

1. per position of the leading dims (``vs``, ``ch``), the transform ``from_space ->
   to_space`` is loaded (a chain of stored affines, per stack and channel) or taken from
   ``transform=``; it is composed with the map from the DataArray's coordinates (µm) to the
   source space (for ``raw``: level-0 voxel indices, ``(c - t_g) / g``);
2. the output grid is chosen (default spacing: the finest target-space step of a source
   voxel; default bounds: the union of the transformed source boxes, snapped);
3. the resolution level to read is chosen (``level="auto"``: the coarsest level whose
   voxels, mapped into the target space, are no coarser than the output spacing);
4. the block-driven resampler builds the lazy result, and attrs record the provenance.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import xarray as xr
from xarray.core import indexing

from visor_xarray.backend.array import VisorBackendArray
from visor_xarray.coords import level_index, level_spacing
from visor_xarray.errors import MetadataError
from visor_xarray.resample.core import resample_to_grid
from visor_xarray.resample.grid import (
    SPATIAL_DIMS,
    OutputGrid,
    normalise_spacing,
    source_box,
    union_bounds,
)
from visor_xarray.schema import ImageAttrs, parse_image_attrs
from visor_xarray.transforms.model import Affine
from visor_xarray.zarr_io import with_pipeline_settings

# The constructor unpickling uses: it builds an array under given pipeline settings
# without touching the process-wide options (which other threads may be opening under).

if TYPE_CHECKING:
    from visor_xarray.transforms.stored import Transform as StoredTransform

__all__ = [
    "LABEL_DIMS",
    "Prepared",
    "choose_level",
    "prepare",
    "resample_dataarray",
    "resample_roi",
]

#: The label dims a stored transform is looked up by (stack, channel).
LABEL_DIMS = ("vs", "ch")

# dask layer-name prefixes of data that is still exactly the stored image: xarray's
# open_dataset (``original-open_dataset-*``, ``open_dataset-*``) followed by selections,
# transposes and rechunks. Any other layer (arithmetic, astype, ...) means the data were
# changed, and re-reading them from the file would silently drop the change.
_STORED_LAYER_PREFIXES = (
    "original-open_dataset-",
    "open_dataset-",
    "getitem-",
    "transpose-",
    "rechunk-",
)

# How many of xarray's array wrappers (lazy indexing, copy-on-write, cache, dask adapter)
# are looked through to find the backend array: a few in practice; bounded, never a loop.
_WRAPPER_DEPTH = 16

# Slack on the level rule, so that equal spacings compare equal through rounding.
_LEVEL_TOLERANCE = 1e-6

TransformArg = Affine | Mapping[Hashable, Affine] | None


# --------------------------------------------------------------------------- preparation


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


def prepare(
    source: xr.DataArray,
    *,
    to_space: str,
    version: str | None = None,
    transform: TransformArg = None,
    from_space: str | None = None,
    slice_name: str | None = None,
) -> Prepared:
    """Resolve the transforms of every stack/channel of a source (no data are read).

    Parameters
    ----------
    source : xarray.DataArray
        Dims ``z``, ``y``, ``x`` and optionally ``vs``/``ch`` (or scalar ``vs``/``ch``
        coordinates).
    to_space : str
        Target space, e.g. ``"ortho"``, ``"slice"``.
    version : str, optional
        Transform version to read from the sample (``visor_recon_transforms/{version}``).
        Defaults to the image's ``transform_version`` attribute when ``transform`` is not
        given either.
    transform : Affine or mapping, optional
        ``from_space -> to_space`` instead of a stored version: one :class:`Affine`, or a
        mapping keyed by ``(stack, channel)`` labels, stack labels or channel labels.
    from_space : str, optional
        Default ``"raw"`` for raw images (and plain DataArrays).
    slice_name : str, optional
        Slice directory of the version; default the image name (raw images are slices).

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
        from visor_xarray.transforms.stored import Transform as StoredTransform

        path = source.attrs.get("vsr_path")
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


# --------------------------------------------------------------------------- grid


def _physical_steps(source: xr.DataArray, metadata: ImageAttrs | None) -> list[float]:
    """Voxel size of the source along z/y/x in coordinate units (metadata for length 1)."""
    steps = []
    for dim in SPATIAL_DIMS:
        values = np.asarray(source.coords[dim].values, dtype=np.float64)
        if values.size > 1:
            steps.append(float((values[-1] - values[0]) / (values.size - 1)))
            continue
        step = 1.0
        if metadata is not None:
            multiscale = metadata.multiscale
            level = source.attrs.get("resolution_level", multiscale.level_paths[0])
            step = level_spacing(multiscale, level)[multiscale.dims.index(dim)]
        steps.append(float(step))
    return steps


def _target_steps(maps: Sequence[Affine], steps: Sequence[float]) -> npt.NDArray[np.float64]:
    """Per source axis, the longest target-space image of one voxel step over ``maps``."""
    lengths = np.array([np.linalg.norm(m.matrix, axis=0) * np.asarray(steps) for m in maps])
    result: npt.NDArray[np.float64] = lengths.max(axis=0)
    return result


def output_grid(
    prepared: Prepared,
    *,
    spacing: float | Sequence[float] | Mapping[str, float] | None = None,
    bounds: Any = None,
    grid: OutputGrid | None = None,
) -> OutputGrid:
    """The output grid of a prepared source (see :func:`resample_dataarray` for the rules).

    Parameters
    ----------
    prepared : Prepared
    spacing, bounds, grid
        As in :func:`resample_dataarray`.

    Returns
    -------
    OutputGrid

    Raises
    ------
    ValueError
        If ``grid`` is combined with ``spacing`` or ``bounds``, or they are malformed.
    """
    if grid is not None:
        if spacing is not None or bounds is not None:
            raise ValueError("give grid= alone, or spacing=/bounds=, not both")
        return grid
    maps = [prepared.coord_maps[p] for p in prepared.positions]
    if spacing is None:
        steps = _physical_steps(prepared.source, prepared.metadata)
        spacing = float(_target_steps(maps, steps).min())
    step = normalise_spacing(spacing)
    if bounds is not None:
        return OutputGrid.from_bounds_arg(bounds, step)
    low, high = source_box(prepared.source.coords)
    lower, upper = union_bounds(m.transform_bounds(low, high) for m in maps)
    return OutputGrid.from_bounds(lower, upper, step, snap=True)


# --------------------------------------------------------------------------- level


def _is_stored_data(source: xr.DataArray) -> bool:
    """Whether the data are still exactly the stored image (so they may be re-read)."""
    needed = ("vsr_path", "image_type", "image_name", "resolution_level", "vsr_attributes")
    if any(key not in source.attrs for key in needed):
        return False
    if any(d not in (*LABEL_DIMS, *SPATIAL_DIMS) for d in source.dims):
        return False
    if source.chunks is not None:
        layers = getattr(source.data, "dask", None)
        names = list(getattr(layers, "layers", {})) if layers is not None else []
        return bool(names) and all(str(n).startswith(_STORED_LAYER_PREFIXES) for n in names)
    # A lazily indexed backend array (open_dataset without chunks); loaded numpy data may
    # have been changed in place and are used as they are.
    return isinstance(getattr(source.variable, "_data", None), indexing.ExplicitlyIndexed)


def choose_level(
    metadata: ImageAttrs,
    maps: Sequence[Affine],
    output_spacing: Sequence[float],
) -> str:
    """The coarsest resolution level adequate for an output spacing.

    Rule: let ``L_k[a]`` be the length, in the target space, of one voxel step of level
    ``k`` along source axis ``a`` (``|M[:, a]| * spacing_k[a]``, the longest over the
    stacks/channels' transforms ``M``), and ``h`` the finest output spacing. Level ``k``
    is adequate when ``L_k[a] <= max(L_0[a], h)`` on every axis: no axis is made coarser
    than the output voxels by downsampling (an axis already coarser at level 0 must simply
    not get coarser). The coarsest adequate level is chosen; level 0 always is.

    Parameters
    ----------
    metadata : ImageAttrs
        The image's metadata (levels and their scales).
    maps : sequence of Affine
        Source coordinates -> target space, one per stack/channel.
    output_spacing : sequence of float
        The output grid's spacing.

    Returns
    -------
    str
        The level path.
    """
    multiscale = metadata.multiscale
    axes = [multiscale.dims.index(d) for d in SPATIAL_DIMS]
    finest = min(output_spacing)
    chosen = multiscale.level_paths[0]
    base: npt.NDArray[np.float64] | None = None
    for path in multiscale.level_paths:
        spacing = level_spacing(multiscale, path)
        lengths = _target_steps(maps, [spacing[a] for a in axes])
        if base is None:
            base = lengths
        if np.all(lengths <= np.maximum(base, finest) * (1 + _LEVEL_TOLERANCE)):
            chosen = path
    return chosen


def _positions_on(values: npt.NDArray[np.float64], full: npt.NDArray[np.float64]) -> Any:
    """Index into ``full`` selecting ``values`` (a slice when they are evenly strided)."""
    if full.size == 1:
        return slice(0, 1) if np.allclose(values, full[0]) else None
    step = (full[-1] - full[0]) / (full.size - 1)
    exact = (values - full[0]) / step
    positions = np.rint(exact).astype(np.int64)
    if (
        np.any(np.abs(exact - positions) > 1e-6)
        or positions.min() < 0
        or positions.max() >= full.size
    ):
        return None
    if positions.size == 1:
        return slice(int(positions[0]), int(positions[0]) + 1)
    strides = np.diff(positions)
    if np.all(strides == strides[0]) and strides[0] > 0:
        return slice(int(positions[0]), int(positions[-1]) + 1, int(strides[0]))
    return positions


def _backend_array(data: Any) -> VisorBackendArray | None:
    """The backend array under xarray's wrappers (each keeps what it wraps in ``.array``)."""
    for _ in range(_WRAPPER_DEPTH):
        if isinstance(data, VisorBackendArray):
            return data
        data = getattr(data, "array", None)
        if data is None:
            break
    return None


def _opened_settings(source: xr.DataArray) -> dict[str, Any] | None:
    """Pipeline settings of the level array ``source`` was opened on (None if not found)."""
    if source.chunks is None:
        candidates = [source.variable._data]
    else:
        # chunks={} keeps the lazily indexed backend array in xarray's "original-" layer
        layers = getattr(source.data.dask, "layers", {})
        candidates = [
            value
            for name, layer in layers.items()
            if str(name).startswith("original-open_dataset-")
            for value in layer.values()
        ]
    for candidate in candidates:
        backend = _backend_array(candidate)
        if backend is not None:
            return backend.array.pipeline_settings
    return None


def _reopen(source: xr.DataArray, level: str, lead_dims: Sequence[str]) -> xr.DataArray | None:
    """The same stacks/channels and region, read lazily (no dask) from ``level`` of the file.

    The re-opened array gets the pipeline settings ``source`` was opened with (zarrs
    thread cap, checksums, pipeline), not the options in force now: a user caps zarrs
    threads for a cluster's workers when opening, and the blocks sent to the workers
    read through this array.
    """
    attrs = source.attrs
    settings = _opened_settings(source)
    dataset = xr.open_dataset(
        attrs["vsr_path"],
        engine="visor",
        image_type=attrs["image_type"],
        name=attrs["image_name"],
        resolution=level,
    )
    full = dataset[source.name if source.name in dataset else "image"]
    backend = _backend_array(full.variable._data)
    if settings is not None and backend is not None:
        # a fresh open: nothing else holds this backend array
        backend.array = with_pipeline_settings(backend.array, settings)
    for dim in LABEL_DIMS:
        if dim not in full.dims:
            continue
        if dim in lead_dims:
            full = full.sel({dim: list(source.coords[dim].values)})
        elif dim in source.coords and source.coords[dim].ndim == 0:
            full = full.sel({dim: source.coords[dim].values.item()})
        else:
            return None
    same_level = str(level) == str(attrs["resolution_level"])
    selection: dict[str, Any] = {}
    for dim in SPATIAL_DIMS:
        values = np.asarray(source.coords[dim].values, dtype=np.float64)
        available = np.asarray(full.coords[dim].values, dtype=np.float64)
        if same_level:
            index = _positions_on(values, available)
            if index is None:
                return None
            selection[dim] = index
        else:
            step = float(available[1] - available[0]) if available.size > 1 else 0.0
            keep = np.nonzero(
                (available >= values.min() - step) & (available <= values.max() + step)
            )[0]
            if keep.size == 0:
                return None
            selection[dim] = slice(int(keep[0]), int(keep[-1]) + 1)
    return full.isel(selection).transpose(*lead_dims, *SPATIAL_DIMS)


def _data_to_read(
    prepared: Prepared, grid: OutputGrid, level: str | int | None
) -> tuple[xr.DataArray, str | None]:
    source = prepared.source
    current = source.attrs.get("resolution_level")
    if level is None:
        return source, current
    metadata = prepared.metadata
    stored = metadata is not None and _is_stored_data(source)
    if not stored or metadata is None:
        if level == "auto" or (current is not None and str(level) == str(current)):
            return source, current
        raise ValueError(
            f"level={level!r} re-reads the image from its file, but this object's data are not "
            "the stored image (changed, or not opened with engine='visor'); pass level=None "
            "to resample the data as they are"
        )
    if level == "auto":
        maps = [prepared.coord_maps[p] for p in prepared.positions]
        path = choose_level(metadata, maps, grid.spacing)
    else:
        path = metadata.multiscale.level_paths[level_index(metadata.multiscale, level)]
    if path == str(current) and source.chunks is None:
        return source, path  # already a lazily indexed array: blocks read their footprints
    reopened = _reopen(source, path, prepared.lead_dims)
    if reopened is None:
        if path == str(current):
            return source, path
        raise ValueError(
            f"cannot find this object's region at level {path!r} (irregular selection); "
            "pass level=None"
        )
    return reopened, path


# --------------------------------------------------------------------------- provenance


def _nested(prepared: Prepared, value: Any) -> Any:
    """``{position: value}`` as nested lists over the leading dims (scalar with none)."""
    sizes = [int(prepared.source.sizes[d]) for d in prepared.lead_dims]
    if not sizes:
        return value[()]

    def build(prefix: tuple[int, ...]) -> Any:
        if len(prefix) == len(sizes):
            return value[prefix]
        return [build((*prefix, i)) for i in range(sizes[len(prefix)])]

    return build(())


def _provenance(prepared: Prepared, read_level: str | None) -> dict[str, Any]:
    source = prepared.source
    attrs: dict[str, Any] = {"from_space": prepared.from_space, "to_space": prepared.to_space}
    if prepared.version is not None:
        attrs["transform_version"] = prepared.version
    attrs["transform_matrix"] = _nested(
        prepared, {p: a.homogeneous.tolist() for p, a in prepared.transforms.items()}
    )
    metadata = prepared.metadata
    if metadata is not None and metadata.visor is not None:
        from visor_xarray.api import label_to_index

        where = source.attrs.get("image_name", "image")
        for kind, dim, slot in (("stack", "vs", 0), ("channel", "ch", 1)):
            if dim not in source.coords or (dim == "vs" and not metadata.visor.visor_stacks):
                continue
            indices = {
                p: label_to_index(metadata, kind, labels[slot], where)
                for p, labels in prepared.labels.items()
                if labels[slot] is not None
            }
            if len(indices) != len(prepared.positions):
                continue
            if dim in prepared.lead_dims:
                axis = prepared.lead_dims.index(dim)
                attrs[kind] = [
                    indices[next(p for p in prepared.positions if p[axis] == i)]
                    for i in range(int(source.sizes[dim]))
                ]
            else:
                attrs[kind] = indices[prepared.positions[0]]
    for key in ("vsr_path", "image_type", "image_name"):
        if key in source.attrs:
            attrs[f"source_{key}"] = source.attrs[key]
    if read_level is not None:
        attrs["source_resolution_level"] = str(read_level)
    return attrs


# --------------------------------------------------------------------------- public


def resample_dataarray(
    source: xr.DataArray,
    *,
    to_space: str,
    version: str | None = None,
    transform: TransformArg = None,
    from_space: str | None = None,
    slice_name: str | None = None,
    spacing: float | Sequence[float] | Mapping[str, float] | None = None,
    bounds: Any = None,
    grid: OutputGrid | None = None,
    order: int = 1,
    fill_value: float = 0,
    chunks: int | Sequence[int] | Mapping[str, int] | None = None,
    level: str | int | None = "auto",
    mode: str = "constant",
    dtype: Any = None,
    prefilter: bool = True,
    kernel: str = "auto",
) -> xr.DataArray:
    """Resample a VISoR image (or part of it) into another space, lazily.

    The result is a dask-backed DataArray on a regular grid of the target space. Nothing
    is read or computed until it is: each output block then reads only the source region
    its voxels map back into (pull-back resampling).

    Parameters
    ----------
    source : xarray.DataArray
        An image from the ``visor`` engine (any level, any ``sel``/``isel`` subset),
        dims ``z``, ``y``, ``x`` plus optionally ``vs`` and ``ch``. With ``vs``/``ch``
        dims every stack/channel is resampled with its own transform onto one shared
        grid; with scalar ``vs``/``ch`` coordinates (after ``sel``) just that one.
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
        Source space; ``"raw"`` for raw images. Other spaces take the coordinates (µm)
        as the source-space positions.
    slice_name : str, optional
        Slice directory of the version (default: the image name).
    spacing : float, sequence or mapping, optional
        Output voxel size (target units). Default: isotropic, the smallest target-space
        length of one source voxel step along any axis (for a length-preserving
        transform such as a deskew or a rigid map, the finest source spacing).
    bounds : mapping or pair, optional
        ``{"z": (lo, hi), ...}`` or ``((zlo, ylo, xlo), (zhi, yhi, xhi))``: first and last
        voxel centres. Default: the union over stacks/channels of the bounding boxes of
        the transformed source voxel-centre boxes, with the origin snapped down to a
        multiple of the spacing and the extent rounded up.
    grid : OutputGrid, optional
        An explicit output grid (instead of ``spacing``/``bounds``).
    order : int, default 1
        Interpolation order: 0 nearest, 1 linear, 3 cubic spline (up to 5).
    fill_value : float, default 0
        Value of output voxels that map outside the source.
    chunks : int, sequence or mapping, optional
        Output block shape (z, y, x); default 1-2 M voxels shaped for small footprints
        (128 per axis for axis-aligned maps, elongated along z for a deskew; see
        :func:`~visor_xarray.resample.core.default_block`). Memory per running block is
        about the block plus its source footprint (see the docs).
    level : "auto", int, str or None, default "auto"
        Resolution level to read. ``"auto"``: the coarsest level adequate for the output
        spacing (see :func:`choose_level`), read straight from the file (only the
        footprint of each block). An explicit level reads that level. ``None``: use this
        object's data as they are. Data that were changed after opening (arithmetic) are
        always used as they are.
    mode : {"constant", "grid-constant", "nearest"}, default "constant"
        Boundary handling (scipy.ndimage); ``"constant"`` fills every point outside the
        source's voxel-centre box.
    dtype : dtype, optional
        Output dtype (default: the source's; integers are rounded and clipped).
    prefilter : bool, default True
        Spline prefiltering for orders >= 2.
    kernel : {"auto", "scipy"}, default "auto"
        Block kernel (see :func:`~visor_xarray.resample.resample_to_grid`).

    Returns
    -------
    xarray.DataArray
        Dims ``(vs, ch, z, y, x)`` minus the dims the source lacks; z/y/x coordinates in
        target micrometres (``units`` attrs); attrs ``from_space``, ``to_space``,
        ``transform_version``, ``transform_matrix`` (4x4 homogeneous ``from_space ->
        to_space``, nested per stack/channel), ``stack``/``channel`` (stored indices),
        the source image and the level read, interpolation settings.

    Raises
    ------
    ValueError
        For conflicting or malformed arguments.
    MetadataError
        If VISoR metadata are needed and missing.
    UnknownTransformError, UnknownLevelError, UnknownLabelError
        For a missing transform, level or label.

    Examples
    --------
    >>> img = xr.open_dataset(path, engine="visor", chunks={})["image"]  # doctest: +SKIP
    >>> ortho = resample_dataarray(img.sel(vs="stack_1", ch="488"), to_space="ortho",
    ...                            version="v1", spacing=2.0)  # doctest: +SKIP
    """
    prepared = prepare(
        source,
        to_space=to_space,
        version=version,
        transform=transform,
        from_space=from_space,
        slice_name=slice_name,
    )
    chosen = output_grid(prepared, spacing=spacing, bounds=bounds, grid=grid)
    data, read_level = _data_to_read(prepared, chosen, level)
    result = resample_to_grid(
        data,
        {p: prepared.coord_maps[p] for p in prepared.positions},
        chosen,
        order=order,
        mode=mode,
        fill_value=fill_value,
        chunks=chunks,
        dtype=dtype,
        prefilter=prefilter,
        space=to_space,
        kernel=kernel,
    )
    result.attrs = {**_provenance(prepared, read_level), **result.attrs}
    return result


def resample_roi(
    transform: StoredTransform,
    roi: Sequence[slice | int],
    from_space: str = "raw",
    to_space: str = "ortho",
    **kwargs: Any,
) -> npt.NDArray[Any]:
    """Resample a region of a raw image into another space (the seed API's ``resample``).

    Parameters
    ----------
    transform : visor_xarray.Transform
        The stored transforms of one slice (``vx.Transform(path, version, name)``); the
        raw image of the same name is read.
    roi : sequence of slice or int
        One entry per raw dim (``vs, ch, z, y, x``) in level-0 **source** voxel indices;
        ints are kept as length-1 dims.
    from_space : {"raw"}, default "raw"
        The ROI is in raw indices, so only ``"raw"`` is accepted.
    to_space : str, default "ortho"
    **kwargs
        Passed to :func:`resample_dataarray` (``spacing``, ``bounds``, ``order``,
        ``fill_value``, ``level``, ``chunks``, ...).

    Returns
    -------
    numpy.ndarray
        The resampled region, dims ``(vs, ch, z, y, x)`` (the raw image's leading dims are
        kept), on the grid :func:`resample_dataarray` chooses.

    Raises
    ------
    ValueError
        If ``from_space`` is not ``"raw"`` or ``roi`` does not match the raw dims.
    UnknownImageError
        If the sample has no raw image of the slice's name.

    Examples
    --------
    >>> xfm = vx.Transform(path, version="v1", name="slice_1_10x")  # doctest: +SKIP
    >>> roi = (slice(0, 1), slice(0, 1), slice(0, 20), slice(0, 30), slice(0, 40))
    >>> xfm.resample(roi, to_space="ortho")  # doctest: +SKIP
    """
    if from_space != "raw":
        raise ValueError(
            f"resample(roi) takes a ROI in raw voxel indices, so from_space must be 'raw', got "
            f"{from_space!r}; use DataArray.visor.resample for images in other spaces"
        )
    # The seed object knows its sample through its store; the image of a slice is the raw
    # image of the same name.
    sample = transform._store.path
    image = xr.open_dataset(sample, engine="visor", image_type="raw", name=transform.name)["image"]
    if len(roi) != image.ndim:
        raise ValueError(
            f"roi must give one slice per raw dim {image.dims}, got {len(roi)} entries"
        )
    selection = {
        dim: slice(item, item + 1) if isinstance(item, int | np.integer) else item
        for dim, item in zip(image.dims, roi, strict=True)
    }
    region = image.isel(selection)
    if any(n == 0 for n in region.shape):
        raise ValueError(f"roi {tuple(roi)} selects nothing from an image of shape {image.shape}")
    result = resample_dataarray(
        region,
        to_space=to_space,
        version=transform.version,
        from_space="raw",
        slice_name=transform.name,
        **kwargs,
    )
    values: npt.NDArray[Any] = np.asarray(result.data.compute())
    return values
