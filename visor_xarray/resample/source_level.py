"""What a resampling reads: the resolution level, and the source data at that level.

``level="auto"`` picks the coarsest level whose voxels, mapped into the target space, are
no coarser than the output spacing (:func:`choose_level`).

Data that are still the stored image are read from the file: the engine records what it
opened as a :class:`~visor_xarray.store.LevelSource` in the variable's encoding
(``encoding["visor_source"]``). xarray keeps a variable's encoding through indexing
(``sel``, ``isel``, transposes, ``chunk``) and drops it on any computation (arithmetic,
``astype``, ``where``, ``map_blocks``, ...), so its presence says the values are those on
disk. Blocks then read their footprints straight from the chosen level of the file
(:class:`~visor_xarray.resample.readers.StoredReader`), whatever the source's dask chunks.
Data without it are used as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
import numpy.typing as npt
import xarray as xr
from dask.base import tokenize

from visor_xarray.coords import level_index, level_spacing, spatial_coords
from visor_xarray.resample.grid import SPATIAL_DIMS, OutputGrid
from visor_xarray.resample.grid_spec import target_steps
from visor_xarray.resample.readers import AxisMap, Reader, StoredReader, VariableReader
from visor_xarray.resample.resolve import LABEL_DIMS, Prepared
from visor_xarray.schema import ImageAttrs
from visor_xarray.store import SOURCE_ENCODING, LevelSource

__all__ = ["SourceData", "as_they_are", "choose_level", "data_to_read", "stored_origin"]

# Slack on the level rule, so that equal spacings compare equal through rounding.
_LEVEL_TOLERANCE = 1e-6

_LABEL_KINDS = {"vs": "stack", "ch": "channel"}


@dataclass(frozen=True, eq=False)
class SourceData:
    """The data a resampling reads, in the source's index space.

    Attributes
    ----------
    shape : tuple of int
        ``(*lead, z, y, x)``.
    dtype : numpy.dtype
    coords : tuple of numpy.ndarray
        The z, y and x coordinate values of the voxels (they map indices to coordinates).
    reader : Reader or None
        Where block tasks read footprints (stored or in-memory data).
    array : dask.array.Array or None
        Dask data used as they are (blocks depend on its chunks); set when ``reader``
        is not.
    level : str or None
        The resolution level read, if known.
    token : str
        Identifies the data (for the result's dask name).
    """

    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    coords: tuple[npt.NDArray[np.float64], ...]
    reader: Reader | None
    array: da.Array | None
    level: str | None
    token: str


def as_they_are(source: xr.DataArray, level: str | None = None) -> SourceData:
    """The data of ``source`` (dims ``(*lead, z, y, x)``) as they are.

    Parameters
    ----------
    source : xarray.DataArray
        numpy, lazily indexed or dask-backed.
    level : str, optional
        The level the data are from, if known.

    Returns
    -------
    SourceData
    """
    coords = tuple(np.asarray(source.coords[d].values, dtype=np.float64) for d in SPATIAL_DIMS)
    # .chunks, not .data: .data would load a lazily indexed (backend) array whole
    if source.chunks is not None:
        array: da.Array = source.data
        return SourceData(
            tuple(source.shape), np.dtype(source.dtype), coords, None, array, level, array.name
        )
    reader = VariableReader(source.variable)
    # in-memory or lazily indexed data have no cheap identity: every resampling is new
    return SourceData(
        tuple(source.shape),
        np.dtype(source.dtype),
        coords,
        reader,
        None,
        level,
        tokenize(object()),
    )


def stored_origin(source: xr.DataArray) -> LevelSource | None:
    """The stored level ``source`` still holds unchanged, if any (see the module docs).

    Parameters
    ----------
    source : xarray.DataArray

    Returns
    -------
    LevelSource or None
    """
    origin = source.encoding.get(SOURCE_ENCODING)
    if not isinstance(origin, LevelSource):
        return None
    if any(d not in (*LABEL_DIMS, *SPATIAL_DIMS) for d in source.dims):
        return None
    return origin


def choose_level(
    metadata: ImageAttrs,
    maps: Sequence[Any],
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
        lengths = target_steps(maps, [spacing[a] for a in axes])
        if base is None:
            base = lengths
        if np.all(lengths <= np.maximum(base, finest) * (1 + _LEVEL_TOLERANCE)):
            chosen = path
    return chosen


def _positions_on(values: npt.NDArray[np.float64], full: npt.NDArray[np.float64]) -> Any:
    """Stored indices of ``full`` holding ``values`` (a range when evenly strided)."""
    if full.size == 1:
        return range(0, 1) if np.allclose(values, full[0]) else None
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
        return range(int(positions[0]), int(positions[0]) + 1)
    strides = np.diff(positions)
    if np.all(strides == strides[0]) and strides[0] > 0:
        return range(int(positions[0]), int(positions[-1]) + 1, int(strides[0]))
    return positions


def _covering(values: npt.NDArray[np.float64], full: npt.NDArray[np.float64]) -> range | None:
    """The stored indices of ``full`` spanning ``values``, one voxel more on each side."""
    step = float(full[1] - full[0]) if full.size > 1 else 0.0
    keep = np.nonzero((full >= values.min() - step) & (full <= values.max() + step))[0]
    if keep.size == 0:
        return None
    return range(int(keep[0]), int(keep[-1]) + 1)


def _stored(prepared: Prepared, origin: LevelSource, level: str) -> SourceData | None:
    """The source's stacks/channels and region at ``level`` of the file (None if not found)."""
    metadata = prepared.metadata
    assert metadata is not None
    source = prepared.source
    target = origin.at(level)
    array = target.array()
    level_coords = spatial_coords(metadata.multiscale, level, tuple(array.shape))
    same_level = level == origin.level
    where = f"{origin.sample}: {origin.image_type}/{origin.name}"
    axes: list[tuple[Any, ...]] = []
    coords: dict[str, npt.NDArray[np.float64]] = {}
    lead_sizes = [int(source.sizes[d]) for d in prepared.lead_dims]
    spatial_sizes: dict[str, int] = {}
    for dim in metadata.multiscale.dims:
        if dim in _LABEL_KINDS:
            kind = _LABEL_KINDS[dim]
            if dim in prepared.lead_dims and dim in source.coords:
                stored = np.asarray(
                    [
                        metadata.label_to_index(kind, str(v), where)
                        for v in source.coords[dim].values
                    ],
                    dtype=np.int64,
                )
                axes.append(("lead", prepared.lead_dims.index(dim), stored))
            elif dim in source.coords and source.coords[dim].ndim == 0:
                label = str(source.coords[dim].values.item())
                axes.append(("fixed", metadata.label_to_index(kind, label, where)))
            else:
                return None
            continue
        values = np.asarray(source.coords[dim].values, dtype=np.float64)
        available = np.asarray(level_coords[dim][1], dtype=np.float64)
        found: AxisMap | None
        if same_level:
            found = _positions_on(values, available)
            coords[dim] = values
        else:
            found = _covering(values, available)
            if found is not None:
                coords[dim] = available[found.start : found.stop]
        if found is None:
            return None
        spatial_sizes[dim] = len(found)
        axes.append(("space", SPATIAL_DIMS.index(dim), found))
    reader = StoredReader(target, tuple(axes))
    return SourceData(
        shape=(*lead_sizes, *(spatial_sizes[d] for d in SPATIAL_DIMS)),
        dtype=np.dtype(array.dtype),
        coords=tuple(coords[d] for d in SPATIAL_DIMS),
        reader=reader,
        array=None,
        level=level,
        token=tokenize(target, [(a[0], a[1], str(a[-1])) for a in axes]),
    )


def data_to_read(prepared: Prepared, grid: OutputGrid, level: str | int | None) -> SourceData:
    """The data a resampling onto ``grid`` reads, for its ``level`` argument.

    Parameters
    ----------
    prepared : Prepared
        The source with its transforms.
    grid : OutputGrid
        The output grid (its spacing decides ``level="auto"``).
    level : "auto", int, str or None
        See :func:`~visor_xarray.resample.resample_dataarray`.

    Returns
    -------
    SourceData

    Raises
    ------
    ValueError
        If a level is asked for data that are not the stored image, or the source's
        region cannot be found at the level (irregular selection).
    UnknownLevelError
        For a level the image does not have.
    """
    source = prepared.source
    origin = stored_origin(source)
    current = origin.level if origin is not None else source.attrs.get("resolution_level")
    current = None if current is None else str(current)
    metadata = prepared.metadata
    if level is None:
        return as_they_are(source, current)
    if origin is None or metadata is None:
        if level == "auto" or (current is not None and str(level) == current):
            return as_they_are(source, current)
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
    stored = _stored(prepared, origin, path)
    if stored is not None:
        return stored
    if path == current:
        return as_they_are(source, current)
    raise ValueError(
        f"cannot find this object's region at level {path!r} (irregular selection); "
        "pass level=None"
    )
