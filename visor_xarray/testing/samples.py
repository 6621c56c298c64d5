"""Small, real ``.vsr`` samples for tests, examples and benchmarks.

Everything is written through the library's own seed API (:class:`visor_xarray.Image`),
so a sample made here is an honest product of the write path, readable by visor-py.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from visor_xarray.api import Image
from visor_xarray.store import VsrStore
from visor_xarray.write.pyramid import block_reduce

__all__ = ["channel_entry", "image_attributes", "make_sample", "synthetic_volume"]


def channel_entry(index: int, wavelength: str, **overrides: Any) -> dict[str, Any]:
    """A full raw-image channel entry (schema §3.4) with realistic acquisition values."""
    entry: dict[str, Any] = {
        "index": index,
        "wavelength": wavelength,
        "slice_index": 1,
        "slide_index": 1,
        "hardware_id": "VISoR19",
        "power": 60.0,
        "filter": f"{int(wavelength) + 32}/40" if wavelength.isdigit() else "520/40",
        "exposure": 4.0,
        "max_volts": 2.2,
        "volts_offset": 0.45,
        "s_route": 1,
        "velocity": 0.875,
        "move_y": 2.0,
        "12bit": 1,
        "image_size": "2048x788",
        "pixel_size": 1.03,
        "roi": [20.2647, 61.2581, 14.2395, 24.5047, 62.9141, 14.2390],
        "v_software": "2.8.7",
        "v_schema": "2025.6.1",
        "created_time": "2026-11-24T00:00:00Z",
        "personnel": "VX",
    }
    entry.update(overrides)
    return entry


def image_attributes(
    name: str,
    *,
    stacks: Sequence[str] | None,
    channels: Sequence[str],
    spacing: Sequence[float] = (3.5, 1.03, 1.03),
    level_factors: Sequence[Sequence[float]] = ((1.0, 1.0, 1.0),),
    channel_order: Sequence[int] | None = None,
    sources: Sequence[dict[str, Any]] | None = None,
    transform_version: str | None = None,
    translations: bool = False,
) -> dict[str, Any]:
    """Group attributes (``ome`` + ``visor``) of an image, as visor-py's schema has them.

    Parameters
    ----------
    name : str
        Multiscale name (the image name by convention).
    stacks : sequence of str or None
        Stack labels in axis order; None makes an image without ``vs`` (4-D).
    channels : sequence of str
        Channel wavelengths in axis order.
    spacing : sequence of float
        Level-0 voxel size (z, y, x) in micrometres.
    level_factors : sequence of (fz, fy, fx)
        Relative downsampling factor of each level (first must be ones).
    channel_order : sequence of int, optional
        Order in which the channel entries are *listed* (to exercise readers that must
        use ``index``, not list position).
    sources, transform_version
        Processed-image fields.
    translations : bool, default False
        Write the half-voxel translation of block-mean levels (visor-xarray's pyramids do;
        visor-py's do not).

    Returns
    -------
    dict
    """
    lead_axes: list[dict[str, Any]] = []
    if stacks is not None:
        lead_axes.append({"name": "vs", "type": "visor_stack"})
    lead_axes.append({"name": "ch", "type": "channel"})
    lead = [1.0] * len(lead_axes)
    axes = lead_axes + [{"name": d, "type": "space", "unit": "micrometer"} for d in "zyx"]
    datasets = []
    for level, factors in enumerate(level_factors):
        transforms: list[dict[str, Any]] = [
            {"type": "scale", "scale": [*lead, *map(float, factors)]}
        ]
        if translations and level > 0:
            transforms.append(
                {
                    "type": "translation",
                    "translation": [*[0.0] * len(lead), *((f - 1) / 2 for f in factors)],
                }
            )
        datasets.append({"path": str(level), "coordinateTransformations": transforms})
    entries = [channel_entry(i, wavelength) for i, wavelength in enumerate(channels)]
    if channel_order is not None:
        entries = [entries[i] for i in channel_order]
    visor: dict[str, Any] = {"channels": entries}
    if stacks is not None:
        visor = {
            "visor_stacks": [
                {"index": i, "label": label, "position": [20.2647, 61.2581 + 2.0 * i]}
                for i, label in enumerate(stacks)
            ],
            **visor,
        }
    if sources is not None:
        visor["sources"] = list(sources)
    if transform_version is not None:
        visor["transform_version"] = transform_version
    return {
        "ome": {
            "version": "0.5",
            "multiscales": [
                {
                    "name": name,
                    "axes": axes,
                    "datasets": datasets,
                    "coordinateTransformations": [
                        {"type": "scale", "scale": [*lead, *map(float, spacing)]}
                    ],
                    "type": "mean",
                    "metadata": {"method": "visor_xarray.testing.make_sample"},
                }
            ],
        },
        "visor": visor,
    }


def synthetic_volume(
    shape: Sequence[int], *, seed: int = 0, dtype: Any = np.uint16, blobs: int = 12
) -> np.ndarray:
    """A microscopy-like volume: dim background, noise, Gaussian blobs and a few fibres.

    Compresses like real light-sheet data (mostly smooth, some noise), unlike uniform
    random numbers.
    """
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in shape)
    grids = np.ogrid[tuple(slice(0, s) for s in shape[-3:])]
    volume = np.full(shape[-3:], 100.0, dtype=np.float32)
    for _ in range(blobs):
        centre = [rng.uniform(0, s) for s in shape[-3:]]
        radius = rng.uniform(1.5, max(2.0, min(shape[-3:]) / 6))
        distance = sum((g - c) ** 2 for g, c in zip(grids, centre, strict=True))
        volume += rng.uniform(500, 3000) * np.exp(-distance / (2 * radius**2))
    for _ in range(max(1, blobs // 4)):
        y0, x0 = rng.uniform(0, shape[-2]), rng.uniform(0, shape[-1])
        slope = rng.uniform(-1, 1)
        distance = (grids[1] - (y0 + slope * (grids[2] - x0))) ** 2
        volume += (
            800.0 * np.exp(-distance / 2.0) * np.ones(shape[-3], dtype=np.float32)[:, None, None]
        )
    volume += rng.normal(0, 20, size=volume.shape).astype(np.float32)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "ui" else None
    if info is not None:
        volume = np.clip(volume, info.min, info.max)
    out = np.broadcast_to(volume.astype(dtype), shape).copy()
    lead = shape[:-3]
    for index in np.ndindex(*lead):
        out[index] = np.roll(out[index], shift=7 * sum(index), axis=-1)
    return out


def make_sample(
    path: str | Path,
    *,
    name: str = "slice_1_10x",
    image_type: str = "raw",
    stacks: Sequence[str] | None = ("stack_1", "stack_3", "stack_4"),
    channels: Sequence[str] = ("488", "561"),
    shape: Sequence[int] = (20, 30, 40),
    chunk: Sequence[int] = (8, 8, 8),
    shard: Sequence[int] = (16, 16, 16),
    levels: int = 2,
    dtype: Any = np.uint16,
    seed: int = 0,
    info: dict[str, Any] | None = None,
) -> Path:
    """Write a small, realistic sample (or add an image to an existing one).

    Stack labels have gaps, channel entries are listed in reverse index order, and the
    default shape is not a multiple of the chunk or shard, to exercise readers.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.vsr`` directory (created if missing).
    name, image_type : str
        The image to write.
    stacks : sequence of str or None
        Stack labels; None writes a 4-D ``(ch, z, y, x)`` image.
    channels : sequence of str
        Channel wavelengths.
    shape : (z, y, x)
        Level-0 spatial shape.
    chunk, shard : (z, y, x)
        Inner chunk and shard shape (leading axes are 1).
    levels : int, default 2
        Number of resolution levels (level k halves y and x k times for raw images, and
        z too for other types).
    dtype : numpy dtype, default uint16
    seed : int, default 0
        Seed of the synthetic content.
    info : dict, optional
        Content of ``info.json`` (a VISoR-like default otherwise).

    Returns
    -------
    pathlib.Path
        The sample path.
    """
    path = Path(path)
    store = VsrStore(path, "a")
    store_info = info or {
        "animal_id": "VX001",
        "project_name": "VISOR-XARRAY",
        "species": "Mouse",
        "subproject_name": "SYNTHETIC-1",
    }
    from visor_xarray.schema import parse_sample_info

    store.write_info(parse_sample_info(store_info))
    halve = (1, 2, 2) if image_type == "raw" else (2, 2, 2)
    factors = [tuple(h**level for h in halve) for level in range(levels)]
    attrs = image_attributes(
        name,
        stacks=stacks,
        channels=channels,
        level_factors=factors,
        channel_order=list(reversed(range(len(channels)))),
        translations=True,
    )
    lead = ([len(stacks)] if stacks is not None else []) + [len(channels)]
    data = synthetic_volume((*lead, *shape), seed=seed, dtype=dtype)
    image = Image(path, type=image_type, name=name, mode="w")
    ones = [1] * len(lead)
    for level, level_factors in enumerate(factors):
        level_data = block_reduce(data, [*ones, *level_factors])
        array = image.create(
            resolution=level,
            dtype=dtype,
            attr=attrs if level == 0 else None,
            shape=level_data.shape,
            shard_size=[*ones, *shard],
            chunk_size=[*ones, *chunk],
        )
        array[...] = level_data
    return path
