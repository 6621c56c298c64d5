"""Shared helpers of the reliability tests (not collected: the name starts with '_')."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import xarray as xr

#: visor-py's test sample, vendored in tests/data (the path is spelled out here, not
#: imported from tests/fixture_data.py: subprocesses import this module on its own).
FIXTURE = Path(__file__).resolve().parents[1] / "data" / "VISOR001.vsr"

RAW = "visor_raw_images"


def digest(root: Path, *, skip_hidden: bool = True) -> dict[str, str]:
    """Map files under ``root`` to their SHA-256 (hidden lock/marker files optional)."""
    out = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(root)
        if skip_hidden and any(part.startswith(".") for part in relative.parts):
            continue
        out[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def volume(shape: tuple[int, ...], seed: int = 0, *, noisy: bool = True) -> xr.DataArray:
    """A raw-image DataArray ``(vs, ch, z, y, x)`` with coordinates ``to_vsr`` accepts."""
    rng = np.random.default_rng(seed)
    if noisy:
        data = rng.integers(0, 4000, size=shape, dtype=np.uint16)
    else:
        data = (
            (np.arange(int(np.prod(shape)), dtype=np.int64) % 997).astype(np.uint16).reshape(shape)
        )
    stacks = [f"stack_{i + 1}" for i in range(shape[0])]
    channels = ["488", "561", "640"][: shape[1]]
    return xr.DataArray(
        data,
        dims=("vs", "ch", "z", "y", "x"),
        coords={
            "vs": stacks,
            "ch": channels,
            "z": 3.5 * np.arange(shape[2]),
            "y": 1.03 * np.arange(shape[3]),
            "x": 1.03 * np.arange(shape[4]),
        },
    )


def read_image(sample: Path, name: str, level: int = 0) -> np.ndarray:
    """All values of one image level, through the xarray engine."""
    with xr.open_dataset(sample, engine="visor", name=name, resolution=level) as ds:
        return np.asarray(ds["image"].values)


# ------------------------------------------------------------- interrupted-write scenarios

#: Level-0 geometry of the kill scenarios: 2 x 2 x 2 = 8 shards of 32 x 64 x 64 uint16.
KILL_SHAPE = (2, 1, 32, 128, 128)
KILL_SHARD = (1, 1, 32, 64, 64)
KILL_CHUNK = (1, 1, 16, 32, 32)
KILL_REGION = {"z": slice(0, 32), "y": slice(16, 112), "x": slice(16, 112)}


def kill_data(noisy_shard: int | None, seed: int = 7) -> xr.DataArray:
    """Compressible data with one incompressible (noisy) level-0 shard.

    The noisy shard encodes to a file far larger than the others, so a file-size limit
    (``RLIMIT_FSIZE`` with ``SIGXFSZ`` at its default action) kills the writing process
    in the middle of writing exactly that shard.
    """
    array = volume(KILL_SHAPE, seed=seed, noisy=False)
    data = array.values.copy()
    data += np.uint16(seed)
    if noisy_shard is not None:
        stack, rest = divmod(noisy_shard, 4)
        row, column = divmod(rest, 2)
        rng = np.random.default_rng(seed)
        block = rng.integers(0, 65535, size=(32, 64, 64), dtype=np.uint16)
        data[stack, 0, :, row * 64 : row * 64 + 64, column * 64 : column * 64 + 64] = block
    return array.copy(data=data)


def region_of(array: xr.DataArray) -> xr.DataArray:
    """The part of ``array`` that the region scenario writes."""
    return array.isel({dim: index for dim, index in KILL_REGION.items()})
