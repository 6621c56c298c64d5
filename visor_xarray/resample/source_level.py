"""The resolution level a resampling reads, and re-opening the source at that level.

``level="auto"`` picks the coarsest level whose voxels, mapped into the target space, are
no coarser than the output spacing (:func:`choose_level`). Data that are still exactly the
stored image are then re-read lazily from that level of the file (only each block's
footprint), with the codec pipeline settings the source was opened with
(:func:`_opened_settings`, :func:`_reopen`); changed data are used as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr
from xarray.core import indexing

from visor_xarray.backend.array import VisorBackendArray
from visor_xarray.coords import level_index, level_spacing
from visor_xarray.resample.grid import SPATIAL_DIMS, OutputGrid
from visor_xarray.resample.resolve import LABEL_DIMS, Prepared
from visor_xarray.resample.target_grid import _target_steps
from visor_xarray.schema import ImageAttrs
from visor_xarray.transforms.model import Affine
from visor_xarray.zarr_io import with_pipeline_settings

__all__ = ["choose_level"]

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
