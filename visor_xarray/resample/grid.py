"""Output grids of resampling: where the voxel centres of the result lie in the target space.

A grid is regular and axis-aligned in the target space: voxel ``(i, j, k)`` has its centre at
``origin + spacing * (i, j, k)`` in ``(z, y, x)`` order (the voxel-centre convention of
:mod:`visor_xarray.coords`). The default grid of a resampling covers the image of the input's
voxel-centre box, with origin snapped to a multiple of the spacing (so grids made from
different inputs with the same spacing line up voxel for voxel).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from visor_xarray.transforms.model import Affine

__all__ = [
    "SPATIAL_DIMS",
    "OutputGrid",
    "Spacing",
    "normalise_spacing",
    "source_box",
    "union_bounds",
]

#: The spatial dimensions, in array order.
SPATIAL_DIMS: tuple[str, str, str] = ("z", "y", "x")

# Relative slack when deciding how many voxel centres fit between two bounds, so that an
# extent that is a whole number of voxels up to rounding gets its last voxel.
_FIT_TOLERANCE = 1e-9

Triple = tuple[float, float, float]

#: An output spacing: one number (isotropic), three ``(z, y, x)``, or ``{dim: value}``.
Spacing = float | Sequence[float] | Mapping[str, float]


def _triple(value: Any, name: str) -> Triple:
    array = np.broadcast_to(np.asarray(value, dtype=np.float64), (3,))
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {array.tolist()}")
    z, y, x = (float(v) for v in array)
    return (z, y, x)


def normalise_spacing(spacing: Spacing) -> Triple:
    """Turn a spacing given as one number, three numbers or ``{dim: value}`` into ``(z, y, x)``.

    Parameters
    ----------
    spacing : float, sequence of 3 floats or mapping
        Voxel size in target units; one number means isotropic.

    Returns
    -------
    tuple of float
        ``(dz, dy, dx)``.

    Raises
    ------
    ValueError
        If a value is missing, not finite or not positive.
    """
    if isinstance(spacing, Mapping):
        missing = [d for d in SPATIAL_DIMS if d not in spacing]
        if missing:
            raise ValueError(f"spacing mapping must give z, y and x; missing {missing}")
        spacing = [spacing[d] for d in SPATIAL_DIMS]
    triple = _triple(spacing, "spacing")
    if min(triple) <= 0:
        raise ValueError(f"spacing must be positive, got {list(triple)}")
    return triple


def _normalise_bounds(bounds: Any) -> tuple[Triple, Triple]:
    if isinstance(bounds, Mapping):
        missing = [d for d in SPATIAL_DIMS if d not in bounds]
        if missing:
            raise ValueError(
                f"bounds mapping must give (low, high) for z, y and x; missing {missing}"
            )
        pairs = [tuple(bounds[d]) for d in SPATIAL_DIMS]
        if any(len(p) != 2 for p in pairs):
            raise ValueError(f"bounds mapping values must be (low, high) pairs, got {pairs}")
        lower, upper = [p[0] for p in pairs], [p[1] for p in pairs]
    else:
        try:
            lower, upper = bounds
        except (TypeError, ValueError):
            raise ValueError(
                "bounds must be {dim: (low, high)} or (lower, upper) with lower/upper = (z, y, x)"
            ) from None
    low, high = _triple(lower, "bounds lower"), _triple(upper, "bounds upper")
    if any(h < lo for lo, h in zip(low, high, strict=True)):
        raise ValueError(f"bounds must have lower <= upper, got {list(low)} and {list(high)}")
    return low, high


@dataclass(frozen=True)
class OutputGrid:
    """A regular, axis-aligned grid of voxel centres in a target space.

    Parameters
    ----------
    origin : tuple of float
        Centre of voxel ``(0, 0, 0)``, ``(z, y, x)``, in target units.
    spacing : tuple of float
        Distance between neighbouring voxel centres per axis (positive).
    shape : tuple of int
        Number of voxels per axis (each at least 1).
    units : str, default "micrometer"
        Units of the target space (written as the ``units`` attribute of the coordinates).

    Raises
    ------
    ValueError
        If a value is not finite, a spacing is not positive or a size is below 1.

    Examples
    --------
    >>> grid = OutputGrid.from_bounds((0, 0, 0), (10, 4, 4), spacing=2.0)
    >>> grid.shape
    (6, 3, 3)
    >>> grid.coords()["y"][1].tolist()
    [0.0, 2.0, 4.0]
    """

    origin: Triple
    spacing: Triple
    shape: tuple[int, int, int]
    units: str = "micrometer"

    def __post_init__(self) -> None:
        object.__setattr__(self, "origin", _triple(self.origin, "OutputGrid.origin"))
        object.__setattr__(self, "spacing", normalise_spacing(self.spacing))
        sizes = tuple(int(s) for s in np.broadcast_to(np.asarray(self.shape), (3,)))
        if min(sizes) < 1:
            raise ValueError(f"OutputGrid.shape must be at least 1 per axis, got {sizes}")
        object.__setattr__(self, "shape", sizes)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_bounds(
        cls,
        lower: Sequence[float] | npt.ArrayLike,
        upper: Sequence[float] | npt.ArrayLike,
        spacing: Spacing,
        *,
        snap: bool = False,
        units: str = "micrometer",
    ) -> OutputGrid:
        """The grid of voxel centres from ``lower`` to ``upper`` (both inclusive).

        Parameters
        ----------
        lower, upper : sequence of float
            Corners of the region, ``(z, y, x)``.
        spacing : float, sequence or mapping
            Voxel size (one number for isotropic voxels).
        snap : bool, default False
            False: the first centre is ``lower`` and the last is the last one not beyond
            ``upper``. True: the origin moves down to a multiple of the spacing and the grid
            grows until it reaches ``upper``, so it covers the whole region.
        units : str, default "micrometer"

        Returns
        -------
        OutputGrid

        Raises
        ------
        ValueError
            For non-finite bounds, ``lower > upper`` or a non-positive spacing.
        """
        low, high = _normalise_bounds((lower, upper))
        step = normalise_spacing(spacing)
        origin: list[float] = []
        shape: list[int] = []
        for lo, hi, h in zip(low, high, step, strict=True):
            if snap:
                start = math.floor(lo / h + _FIT_TOLERANCE) * h
                count = math.ceil((hi - start) / h - _FIT_TOLERANCE) + 1
            else:
                start = lo
                count = math.floor((hi - lo) / h + _FIT_TOLERANCE) + 1
            origin.append(start)
            shape.append(max(1, count))
        return cls((origin[0], origin[1], origin[2]), step, (shape[0], shape[1], shape[2]), units)

    @classmethod
    def from_bounds_arg(
        cls,
        bounds: Any,
        spacing: Spacing,
        *,
        units: str = "micrometer",
    ) -> OutputGrid:
        """The grid of a user's ``bounds=`` argument (see :meth:`from_bounds`, not snapped).

        Parameters
        ----------
        bounds : mapping or pair
            ``{"z": (low, high), "y": ..., "x": ...}`` or ``(lower, upper)`` with
            ``(z, y, x)`` triples, in target units.
        spacing : float, sequence or mapping
        units : str, default "micrometer"

        Returns
        -------
        OutputGrid

        Raises
        ------
        ValueError
            For malformed bounds.
        """
        low, high = _normalise_bounds(bounds)
        return cls.from_bounds(low, high, spacing, units=units)

    @classmethod
    def from_coords(
        cls, coords: Mapping[Hashable, Any], *, units: str | None = None
    ) -> OutputGrid:
        """The grid of evenly spaced ``z``, ``y``, ``x`` coordinates (e.g. of a DataArray).

        Parameters
        ----------
        coords : mapping
            Has ``"z"``, ``"y"`` and ``"x"`` (1-D, increasing, evenly spaced; length-1
            coordinates get spacing 1).
        units : str, optional
            Defaults to the ``units`` attribute of ``coords["z"]`` if it has one.

        Returns
        -------
        OutputGrid

        Raises
        ------
        ValueError
            If a coordinate is missing, not increasing or not evenly spaced.
        """
        origin, spacing, shape = [], [], []
        for dim in SPATIAL_DIMS:
            if dim not in coords:
                raise ValueError(f"coordinates must include {dim!r}")
            values = np.asarray(getattr(coords[dim], "values", coords[dim]), dtype=np.float64)
            step = regular_step(values, dim)
            origin.append(float(values[0]))
            spacing.append(step)
            shape.append(values.size)
        if units is None:
            units = str(getattr(coords["z"], "attrs", {}).get("units", "micrometer"))
        return cls(tuple(origin), tuple(spacing), tuple(shape), units)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ derived values

    @property
    def lower(self) -> Triple:
        """Centre of the first voxel, ``(z, y, x)``."""
        return self.origin

    @property
    def upper(self) -> Triple:
        """Centre of the last voxel, ``(z, y, x)``."""
        z, y, x = (
            o + h * (n - 1) for o, h, n in zip(self.origin, self.spacing, self.shape, strict=True)
        )
        return (z, y, x)

    @property
    def size(self) -> int:
        """Number of voxels."""
        return int(np.prod(self.shape))

    def index_to_space(self) -> Affine:
        """The map from (continuous) grid indices to target coordinates.

        Returns
        -------
        Affine
            ``diag(spacing)`` with translation ``origin``.
        """
        return Affine(np.diag(self.spacing), np.asarray(self.origin))

    def axis_values(self, dim: str) -> npt.NDArray[np.float64]:
        """Coordinate values along one axis.

        Parameters
        ----------
        dim : {"z", "y", "x"}

        Returns
        -------
        numpy.ndarray
            ``origin + spacing * arange(n)`` along ``dim``.
        """
        axis = SPATIAL_DIMS.index(dim)
        values: npt.NDArray[np.float64] = self.origin[axis] + self.spacing[axis] * np.arange(
            self.shape[axis], dtype=np.float64
        )
        return values

    def coords(self, space: str | None = None) -> dict[str, tuple[str, Any, dict[str, str]]]:
        """The ``z``, ``y``, ``x`` coordinates of the grid, ready for xarray.

        Parameters
        ----------
        space : str, optional
            Name of the target space, used in the ``long_name`` attribute.

        Returns
        -------
        dict
            ``{dim: (dim, values, attrs)}`` with ``units`` and ``long_name`` attributes.
        """
        where = f" in {space} space" if space else ""
        return {
            dim: (
                dim,
                self.axis_values(dim),
                {"units": self.units, "long_name": f"{dim} position of voxel centres{where}"},
            )
            for dim in SPATIAL_DIMS
        }


def regular_step(values: npt.NDArray[np.float64], dim: str) -> float:
    """The step of evenly spaced, increasing coordinate values.

    Parameters
    ----------
    values : numpy.ndarray
        1-D coordinate values.
    dim : str
        Name for messages.

    Returns
    -------
    float
        The mean step (1.0 for a single value).

    Raises
    ------
    ValueError
        If there are no values, or they are not increasing and evenly spaced (relative
        tolerance 1e-6).
    """
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"coordinate {dim!r} must be 1-D and not empty")
    if values.size == 1:
        return 1.0
    steps = np.diff(values)
    step = float((values[-1] - values[0]) / (values.size - 1))
    if step <= 0 or not np.allclose(steps, step, rtol=1e-6, atol=0.0):
        raise ValueError(
            f"coordinate {dim!r} must be increasing and evenly spaced to be resampled"
        )
    return step


def source_box(coords: Mapping[Hashable, Any]) -> tuple[Triple, Triple]:
    """The box spanned by the first and last voxel centres of z/y/x coordinates.

    Parameters
    ----------
    coords : mapping
        With ``"z"``, ``"y"``, ``"x"`` 1-D coordinates.

    Returns
    -------
    tuple
        ``(lower, upper)``, each ``(z, y, x)``.
    """
    lower, upper = [], []
    for dim in SPATIAL_DIMS:
        values = np.asarray(getattr(coords[dim], "values", coords[dim]), dtype=np.float64)
        lower.append(float(values.min()))
        upper.append(float(values.max()))
    return _triple(lower, "lower"), _triple(upper, "upper")


def union_bounds(boxes: Iterable[tuple[npt.ArrayLike, npt.ArrayLike]]) -> tuple[Triple, Triple]:
    """The smallest box containing every given box.

    Parameters
    ----------
    boxes : iterable of (lower, upper)
        Boxes as ``(z, y, x)`` corner pairs.

    Returns
    -------
    tuple
        ``(lower, upper)``.

    Raises
    ------
    ValueError
        If ``boxes`` is empty.
    """
    pairs = [
        (np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)) for lo, hi in boxes
    ]
    if not pairs:
        raise ValueError("cannot take the union of no boxes")
    low = np.min([p[0] for p in pairs], axis=0)
    high = np.max([p[1] for p in pairs], axis=0)
    return _triple(low, "lower"), _triple(high, "upper")
