"""napari layer data from VISoR images: lazy multiscale levels, one layer per channel.

A layer-data tuple is ``(data, kwargs, "image")``, what napari readers return and
``viewer.add_image(data, **kwargs)`` accepts. ``data`` is the list of an image's levels
(dask arrays as the engine opens them: nothing is read until napari asks for a tile),
or one array when there is a single level.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr
from dask.base import compute

from visor_xarray.errors import UnknownTransformError
from visor_xarray.napari.colors import channel_colormap
from visor_xarray.napari.placement import SPATIAL_DIMS, level0_grid, space_affine

__all__ = ["LayerDataTuple", "SpacePlacement", "image_layers", "resolve_version"]

#: ``(data, kwargs, layer_type)``, napari's layer-data tuple.
LayerDataTuple = tuple[Any, dict[str, Any], str]

_SEPARATOR = " · "


@dataclass(frozen=True)
class SpacePlacement:
    """How to place raw stacks in a target space (see :func:`placement.space_affine`).

    Attributes
    ----------
    path : str
        The ``.vsr`` sample.
    image_name : str
        The raw image (slice).
    version : str
        Transform version.
    space : str
        Target space.
    grid : tuple
        ``(g0, t0)`` of the raw image's level-0 coordinates.
    """

    path: str
    image_name: str
    version: str
    space: str
    grid: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]

    def affine(self, stack: str, channel: str) -> np.ndarray:
        """The 4x4 layer affine of one stack and channel."""
        return space_affine(
            self.path,
            image_name=self.image_name,
            version=self.version,
            space=self.space,
            stack=stack,
            channel=channel,
            grid=self.grid,
        )


def resolve_version(image: xr.DataArray, version: str | None) -> str:
    """The transform version to place a raw image with: given, recorded, or the only one.

    Parameters
    ----------
    image : xarray.DataArray
        A raw image opened by the engine (``vsr_path`` and ``image_name`` attributes).
    version : str or None
        The version asked for.

    Returns
    -------
    str

    Raises
    ------
    UnknownTransformError
        If none is given and the sample holds no version, or several, for this slice.
    """
    if version is not None:
        return version
    recorded = json.loads(image.attrs.get("vsr_attributes", "{}")).get("visor", {})
    if recorded.get("transform_version"):
        return str(recorded["transform_version"])
    from visor_xarray.api import list_transform

    path, name = image.attrs["vsr_path"], image.attrs["image_name"]
    versions = sorted({r.version for r in list_transform(path) if r.slice == name})
    if len(versions) != 1:
        raise UnknownTransformError(
            path,
            f"single transform version for {name} (pass version=)",
            None,
            versions,
        )
    return versions[0]


def raw_placement(
    image: xr.DataArray, level0: xr.DataArray, *, space: str, version: str | None
) -> SpacePlacement:
    """The placement of a raw image's stacks in ``space``.

    Parameters
    ----------
    image : xarray.DataArray
        The raw image (any level or subset) opened by the engine.
    level0 : xarray.DataArray
        Its level 0, whole along z/y/x.
    space : str
        Target space.
    version : str or None
        Transform version (see :func:`resolve_version`).

    Returns
    -------
    SpacePlacement

    Raises
    ------
    ValueError
        If the image is not a raw image of a sample.
    """
    if image.attrs.get("image_type") != "raw" or "vsr_path" not in image.attrs:
        raise ValueError(
            f"space={space!r} places raw stacks by their stored transforms; this is "
            f"{image.attrs.get('image_type', 'not an image of a sample')!r}: "
            "open a raw image (image_type='raw') or leave space=None"
        )
    return SpacePlacement(
        path=str(image.attrs["vsr_path"]),
        image_name=str(image.attrs["image_name"]),
        version=resolve_version(image, version),
        space=space,
        grid=level0_grid(level0),
    )


def image_layers(
    levels: Sequence[xr.DataArray],
    *,
    placement: SpacePlacement | None = None,
    contrast: xr.DataArray | None = None,
) -> list[LayerDataTuple]:
    """Layer-data tuples for one image given as its levels (finest first).

    Parameters
    ----------
    levels : sequence of xarray.DataArray
        The levels, all with the same dims, ending with (some of) ``z, y, x``; ``ch``
        gives one layer per channel; other dims (``vs``) stay as slider axes.
    placement : SpacePlacement, optional
        Place each stack (``vs``) as its own layer in a target space.
    contrast : xarray.DataArray, optional
        A small array (the coarsest level) to compute contrast limits from, per channel;
        none: napari chooses.

    Returns
    -------
    list of LayerDataTuple
    """
    first = levels[0]
    spatial = [d for d in SPATIAL_DIMS if d in first.dims]
    if len(spatial) < 2:
        raise ValueError(f"napari layers need at least two of z, y, x; dims are {first.dims}")
    if placement is not None and len(spatial) != 3:
        raise ValueError(f"placing stacks in a space needs z, y and x; dims are {first.dims}")
    split = ["ch", "vs"] if placement is not None else ["ch"]
    lead = [str(d) for d in first.dims if d not in (*spatial, *split)]
    if placement is not None and lead:
        raise ValueError(f"cannot place an image with dims {lead} besides vs/ch in a space")
    channels = _entries(first, "ch")
    # a vs dim is a slider unless stacks are placed; a selected stack still names the layer
    keep_vs = placement is None and "vs" in first.dims
    stacks = [(None, {})] if keep_vs else _entries(first, "vs")
    limits = _contrast_limits(contrast, len(channels))
    scale = [1.0] * len(lead) + [_step(first, d) for d in spatial]
    translate = [0.0] * len(lead) + [float(first.coords[d].values[0]) for d in spatial]
    units = ["pixel"] * len(lead) + [
        str(first.coords[d].attrs.get("units", "micrometer")) for d in spatial
    ]
    title = str(first.attrs.get("image_name") or first.name or "image")
    out: list[LayerDataTuple] = []
    for stack, stack_sel in stacks:
        for position, (channel, channel_sel) in enumerate(channels):
            arrays = [
                level.isel({**stack_sel, **channel_sel}).transpose(*lead, *spatial).data
                for level in levels
            ]
            kwargs: dict[str, Any] = {
                "name": _SEPARATOR.join(
                    p for p in (title, stack, _channel_text(channel)) if p is not None
                ),
                "scale": tuple(scale),
                "translate": tuple(translate),
                "axis_labels": (*lead, *spatial),
                "units": tuple(units),
                "colormap": channel_colormap(_wavelength(channel)),
                "blending": "additive",
                "metadata": {
                    "vsr_path": first.attrs.get("vsr_path"),
                    "image_type": first.attrs.get("image_type"),
                    "image_name": first.attrs.get("image_name"),
                    "stack": stack,
                    "channel": channel,
                    "space": placement.space if placement is not None else None,
                },
            }
            if limits is not None:
                kwargs["contrast_limits"] = limits[position]
            if placement is not None:
                if stack is None or channel is None:
                    raise ValueError("placing a stack in a space needs its stack and channel")
                kwargs["affine"] = placement.affine(stack, channel)
            if len(arrays) > 1:
                kwargs["multiscale"] = True
                out.append((arrays, kwargs, "image"))
            else:
                out.append((arrays[0], kwargs, "image"))
    return out


def _entries(image: xr.DataArray, dim: str) -> list[tuple[str | None, dict[str, int]]]:
    """(label, isel) per position along ``dim``, or the scalar label of a selected one."""
    if dim in image.dims:
        labels = [str(v) for v in image.coords[dim].values] if dim in image.coords else None
        return [
            (labels[i] if labels is not None else str(i), {dim: i})
            for i in range(image.sizes[dim])
        ]
    if dim in image.coords and image.coords[dim].ndim == 0:
        return [(str(image.coords[dim].values), {})]
    return [(None, {})]


def _step(image: xr.DataArray, dim: str) -> float:
    values = np.asarray(image.coords[dim].values, dtype=np.float64)
    if values.size > 1:
        return float(np.median(np.diff(values)))
    try:  # one voxel along dim: the metadata know its size
        return float(image.visor.spacing[dim].magnitude)
    except (KeyError, ValueError):
        return 1.0


def _wavelength(channel: str | None) -> float | None:
    try:
        return float(channel) if channel is not None else None
    except ValueError:
        return None


def _channel_text(channel: str | None) -> str | None:
    if channel is None:
        return None
    return f"{channel} nm" if _wavelength(channel) is not None else channel


def _contrast_limits(
    contrast: xr.DataArray | None, count: int
) -> list[tuple[float, float]] | None:
    if contrast is None:
        return None
    others = [d for d in contrast.dims if d != "ch"]
    # one pass over the small array for every channel's minimum and maximum
    low, high = compute(contrast.min(others), contrast.max(others))  # type: ignore[no-untyped-call]
    lows = np.atleast_1d(np.asarray(low, dtype=np.float64))
    highs = np.atleast_1d(np.asarray(high, dtype=np.float64))
    if lows.size != count:
        raise ValueError(f"contrast array has {lows.size} channels, the image {count}")
    # napari refuses equal limits: a constant channel gets a unit range
    return [(lo, hi if hi > lo else lo + 1.0) for lo, hi in zip(lows, highs, strict=True)]


def open_levels(
    path: str | os.PathLike[str], image_type: str, name: str, levels: Sequence[str]
) -> list[xr.DataArray]:
    """The ``image`` variable of each level, lazily (dask chunks aligned to the storage)."""
    return [
        xr.open_dataset(
            path, engine="visor", image_type=image_type, name=name, resolution=level, chunks={}
        )["image"]
        for level in levels
    ]
