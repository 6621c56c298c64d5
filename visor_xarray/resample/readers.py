"""Where block tasks read their footprints from: a stored level, in-memory data, dask chunks.

Every reader answers ``read(position, low, high)``: the source region ``[low, high)``
(z, y, x, in the source's index space) at ``position`` along the source's leading dims, as
a 3-D numpy array. Readers are module-level classes holding plain data, so graphs pickle
(for ``dask.distributed``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import xarray as xr

from visor_xarray.store import LevelSource

__all__ = ["AxisMap", "ChunkReader", "Reader", "StoredReader", "VariableReader"]

Position = tuple[int, ...]

#: The stored indices of an axis of the source: a ``range`` (evenly strided) or an array.
AxisMap = range | npt.NDArray[np.int64]


class Reader(Protocol):
    """Reads one footprint of the source."""

    def read(
        self, position: Position, low: Sequence[int], high: Sequence[int]
    ) -> npt.NDArray[Any]:
        """The region ``[low, high)`` (z, y, x) at ``position`` along the leading dims."""


class VariableReader:
    """Reads from an in-memory or lazily indexed ``xarray.Variable`` (dims lead + z, y, x).

    Parameters
    ----------
    variable : xarray.Variable
        Indexing a lazily indexed variable composes the index; ``.values`` reads only it.
    """

    def __init__(self, variable: xr.Variable) -> None:
        self.variable = variable

    def read(
        self, position: Position, low: Sequence[int], high: Sequence[int]
    ) -> npt.NDArray[Any]:
        """The region ``[low, high)`` at ``position``."""
        spatial = tuple(slice(int(a), int(b)) for a, b in zip(low, high, strict=True))
        return np.asarray(self.variable[(*position, *spatial)].values)


def _stored_index(axis: AxisMap, low: int, high: int) -> Any:
    part = axis[low:high]
    if isinstance(part, range):
        return slice(part.start, part.stop, part.step)
    return np.asarray(part, dtype=np.int64)


@dataclass(frozen=True)
class StoredReader:
    """Reads a region of one stored level (:class:`~visor_xarray.store.LevelSource`).

    The source seen by the resampling is a selection of the stored level: per stored axis
    (in stored order) either a fixed index (a ``vs``/``ch`` selected by one label), the
    stored indices along one of the source's leading dims, or the stored indices along
    z, y or x.

    Parameters
    ----------
    source : LevelSource
        The level read.
    axes : tuple
        Per stored axis: ``("fixed", int)``, ``("lead", k, AxisMap)`` for the source's
        leading dim ``k``, or ``("space", a, AxisMap)`` for spatial axis ``a`` (0 z, 1 y,
        2 x).
    """

    source: LevelSource
    axes: tuple[tuple[Any, ...], ...]

    def read(
        self, position: Position, low: Sequence[int], high: Sequence[int]
    ) -> npt.NDArray[Any]:
        """The region ``[low, high)`` at ``position``, read through zarrs."""
        index: list[Any] = []
        for axis in self.axes:
            if axis[0] == "fixed":
                index.append(int(axis[1]))
            elif axis[0] == "lead":
                index.append(int(axis[2][position[axis[1]]]))
            else:
                _, a, stored = axis
                index.append(_stored_index(stored, int(low[a]), int(high[a])))
        return np.asarray(self.source.read(tuple(index)))


class ChunkReader:
    """Assembles footprints from the dask chunks a block task was given.

    Parameters
    ----------
    parts : mapping
        ``{position: (shape, [(chunk, index into chunk, slices into footprint), ...])}``.
    """

    def __init__(
        self,
        parts: Mapping[
            Position,
            tuple[tuple[int, ...], Sequence[tuple[npt.NDArray[Any], Any, tuple[slice, ...]]]],
        ],
    ) -> None:
        self.parts = parts

    def read(
        self, position: Position, low: Sequence[int], high: Sequence[int]
    ) -> npt.NDArray[Any]:
        """The footprint at ``position`` (``low``/``high`` are those the task was planned with)."""
        shape, pieces = self.parts[position]
        if len(pieces) == 1:
            chunk, index, _ = pieces[0]
            return np.asarray(chunk[index])
        data = np.empty(shape, dtype=pieces[0][0].dtype)
        for chunk, index, target in pieces:
            data[target] = chunk[index]
        return data
