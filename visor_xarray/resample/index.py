"""Lazy target-space coordinates on untouched source data (xarray ``CoordinateTransformIndex``).

:func:`assign_space_coords` gives a 3-D image (one stack and channel) three extra
coordinates, e.g. ``z_ortho``, ``y_ortho``, ``x_ortho``: the target-space position of every
voxel centre, computed on demand from the affine map (nothing is stored, nothing is read).
They are backed by :class:`SpaceIndex`, so the raw data can be selected in target
micrometres::

    raw = raw.visor ...  # one stack and channel, 3-D
    view = assign_space_coords(raw, to_space="ortho", version="v1")
    view.sel(z_ortho=120.0, y_ortho=30.0, x_ortho=50.0, method="nearest")   # one voxel
    view.sel(z_ortho=zs, y_ortho=ys, x_ortho=xs, method="nearest")          # points (DataArrays)

Selection maps the target point back into voxel indices and rounds them (the voxel whose
index is nearest, which for an affine map is the voxel whose centre is nearest in the
index metric). Points outside the image raise ``KeyError``. Slicing the image with
``isel``/``sel`` on its own dims keeps the index (the affine is updated); integer or
array indexing drops it and leaves plain (lazily computed) coordinates.

Ranges (``slice``) of target coordinates are not supported: a box in the target space is
not a box of the source; resample it instead (``DataArray.visor.resample(bounds=...)``).
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from xarray.core.indexes import CoordinateTransformIndex
from xarray.core.indexing import IndexSelResult
from xarray.indexes import CoordinateTransform

from visor_xarray.resample.core import index_to_coords
from visor_xarray.resample.grid import SPATIAL_DIMS
from visor_xarray.resample.resolve import TransformArg, TransformSpec, prepare
from visor_xarray.transforms.model import Affine

__all__ = ["AffineCoordinateTransform", "SpaceIndex", "assign_space_coords"]


class AffineCoordinateTransform(CoordinateTransform):
    """Voxel positions ``(z, y, x)`` of an array -> coordinates of a target space, affine.

    Parameters
    ----------
    affine : Affine
        Maps (continuous) voxel positions along the array's z/y/x dims to target
        coordinates.
    dim_size : mapping
        ``{"z": nz, "y": ny, "x": nx}`` in that order.
    coord_names : sequence of str
        Names of the three target coordinates, in target ``(z, y, x)`` order.
    units : str, default "micrometer"
    space : str, optional
        Target space name (for ``long_name``).

    Raises
    ------
    ValueError
        If not exactly three dims and three names are given.
    """

    def __init__(
        self,
        affine: Affine,
        dim_size: Mapping[str, int],
        coord_names: Sequence[Hashable],
        *,
        units: str = "micrometer",
        space: str | None = None,
    ) -> None:
        if len(dim_size) != 3 or len(coord_names) != 3:
            raise ValueError("an affine coordinate transform needs three dims and three names")
        super().__init__(coord_names, dim_size)
        self.affine = affine
        self.units = units
        self.space = space

    def forward(self, dim_positions: dict[str, Any]) -> dict[Hashable, Any]:
        """Target coordinates of voxel positions.

        Parameters
        ----------
        dim_positions : dict
            ``{dim: positions}`` for the three dims (broadcastable arrays).

        Returns
        -------
        dict
            ``{coord name: values}``.
        """
        arrays = np.broadcast_arrays(
            *(np.asarray(dim_positions[d], dtype=np.float64) for d in self.dims)
        )
        mapped = self.affine.apply(np.stack(arrays, axis=-1))
        return {name: mapped[..., axis] for axis, name in enumerate(self.coord_names)}

    def reverse(self, coord_labels: dict[Hashable, Any]) -> dict[str, Any]:
        """Continuous voxel positions of target coordinates.

        Parameters
        ----------
        coord_labels : dict
            ``{coord name: values}`` for the three coordinates (broadcastable).

        Returns
        -------
        dict
            ``{dim: positions}`` (floats).
        """
        arrays = np.broadcast_arrays(
            *(np.asarray(coord_labels[n], dtype=np.float64) for n in self.coord_names)
        )
        positions = self.affine.inverse().apply(np.stack(arrays, axis=-1))
        return {dim: positions[..., axis] for axis, dim in enumerate(self.dims)}

    def equals(self, other: CoordinateTransform, **kwargs: Any) -> bool:
        """Whether ``other`` is the same map on the same grid.

        Parameters
        ----------
        other : CoordinateTransform
        **kwargs
            ``exclude`` (ignored: the three dims are aligned together or not at all).

        Returns
        -------
        bool
        """
        return (
            isinstance(other, AffineCoordinateTransform)
            and self.affine.allclose(other.affine, atol=0.0, rtol=1e-12)
            and self.dim_size == other.dim_size
            and self.coord_names == other.coord_names
        )

    def sliced(self, indexers: Mapping[Any, Any]) -> AffineCoordinateTransform | None:
        """The transform of the array after basic slicing along some of its dims.

        Parameters
        ----------
        indexers : mapping
            ``{dim: slice}``; other indexer kinds give None.

        Returns
        -------
        AffineCoordinateTransform or None
            None if an indexer is not a slice or selects nothing.
        """
        scale = np.ones(3)
        shift = np.zeros(3)
        sizes = dict(self.dim_size)
        for axis, dim in enumerate(self.dims):
            if dim not in indexers:
                continue
            indexer = indexers[dim]
            if not isinstance(indexer, slice):
                return None
            selected = range(self.dim_size[dim])[indexer]
            if len(selected) == 0:
                return None
            scale[axis] = selected.step
            shift[axis] = selected.start
            sizes[dim] = len(selected)
        new = copy.copy(self)
        new.affine = self.affine @ Affine(np.diag(scale), shift)
        new.dim_size = sizes
        return new


class SpaceIndex(CoordinateTransformIndex):
    """An index of target-space coordinates over a source array's z/y/x dims.

    Parameters
    ----------
    transform : AffineCoordinateTransform
        The voxel-position -> target-coordinate map.

    Examples
    --------
    >>> view.sel(z_ortho=10.0, y_ortho=5.0, x_ortho=2.0, method="nearest")  # doctest: +SKIP
    """

    transform: AffineCoordinateTransform

    def __init__(self, transform: AffineCoordinateTransform) -> None:
        super().__init__(transform)

    def create_variables(
        self, variables: Mapping[Any, xr.Variable] | None = None
    ) -> dict[Hashable, xr.Variable]:
        """The lazy coordinate variables, with ``units`` and ``long_name`` attributes.

        Parameters
        ----------
        variables : mapping, optional
            Existing variables (their attributes are kept).

        Returns
        -------
        dict
        """
        created = dict(super().create_variables(variables))
        where = f" in {self.transform.space} space" if self.transform.space else ""
        for name, variable in created.items():
            if not variable.attrs:
                variable.attrs = {
                    "units": self.transform.units,
                    "long_name": f"{name} of voxel centres{where}",
                }
        return created

    def isel(self, indexers: Mapping[Any, Any]) -> SpaceIndex | None:
        """Keep the index through slicing of the source dims (drop it otherwise).

        Parameters
        ----------
        indexers : mapping
            Positional indexers of the dims.

        Returns
        -------
        SpaceIndex or None
        """
        sliced = self.transform.sliced(indexers)
        return None if sliced is None else type(self)(sliced)

    def sel(
        self, labels: dict[Any, Any], method: Any = None, tolerance: Any = None
    ) -> IndexSelResult:
        """Select the voxels nearest to target-space points.

        Parameters
        ----------
        labels : dict
            A value for each of the three target coordinates: scalars (one voxel), or
            1-D arrays / ``DataArray`` objects of equal shape (points).
        method : {"nearest"}
            Required: points are mapped to fractional voxel positions and rounded.
        tolerance : float, optional
            Largest allowed target-space distance between a point and the centre of the
            voxel selected for it.

        Returns
        -------
        IndexSelResult
            Integer positions along the source dims.

        Raises
        ------
        ValueError
            Without ``method="nearest"``, or if a coordinate is missing or the label shapes
            differ.
        KeyError
            If a point lies outside the array, or farther than ``tolerance`` from the
            nearest voxel centre.
        """
        if method != "nearest":
            raise ValueError(
                "selecting by target-space coordinates needs method='nearest' (a target "
                "point rarely hits a voxel centre exactly)"
            )
        names = self.transform.coord_names
        missing = [n for n in names if n not in labels]
        if missing:
            raise ValueError(f"give all three target coordinates; missing {missing}")
        first = labels[names[0]]
        if isinstance(first, xr.DataArray | xr.Variable):
            dims: tuple[Hashable, ...] = tuple(first.dims)
        else:
            dims = ("points",) if np.ndim(first) else ()
        values = {
            n: np.asarray(getattr(labels[n], "values", labels[n]), dtype=np.float64) for n in names
        }
        shapes = {v.shape for v in values.values()}
        if len(shapes) != 1:
            raise ValueError(f"target coordinate labels must have one shape, got {sorted(shapes)}")
        positions = self.transform.reverse(values)
        results: dict[Any, Any] = {}
        for dim, exact in positions.items():
            rounded = np.rint(exact).astype(np.int64)
            size = self.transform.dim_size[dim]
            outside = (rounded < 0) | (rounded >= size)
            if np.any(outside):
                shown = np.atleast_1d(exact)[np.atleast_1d(outside)][:5].tolist()
                raise KeyError(
                    f"target point(s) outside the image along {dim!r} (voxel positions "
                    f"{shown}, valid 0..{size - 1})"
                )
            results[dim] = rounded
        if tolerance is not None:
            centres = self.transform.forward(results)
            distance = np.sqrt(sum((centres[n] - values[n]) ** 2 for n in names))
            if np.any(distance > float(tolerance)):
                raise KeyError(
                    f"nearest voxel centre farther than tolerance={tolerance} "
                    f"(largest distance {float(np.max(distance)):.4g})"
                )
        if isinstance(first, xr.DataArray):
            return IndexSelResult({d: xr.DataArray(v, dims=dims) for d, v in results.items()})
        return IndexSelResult({d: xr.Variable(dims, v) for d, v in results.items()})


def assign_space_coords(
    source: xr.DataArray,
    *,
    to_space: str,
    version: str | None = None,
    transform: TransformArg = None,
    from_space: str | None = None,
    slice_name: str | None = None,
    names: Sequence[str] | None = None,
) -> xr.DataArray:
    """Add lazy target-space coordinates (and an index to select by them) to a 3-D image.

    Parameters
    ----------
    source : xarray.DataArray
        One stack and channel (dims ``z``, ``y``, ``x``; scalar ``vs``/``ch`` coordinates
        are fine), e.g. ``img.sel(vs="stack_1", ch="488")``. Not read.
    to_space : str
        The target space.
    version, transform, from_space, slice_name
        Where the transform comes from: see :class:`~visor_xarray.resample.TransformSpec`.
    names : sequence of str, optional
        Names of the new coordinates; default ``("z_{to_space}", "y_{to_space}",
        "x_{to_space}")``.

    Returns
    -------
    xarray.DataArray
        The same data, with three coordinates over ``(z, y, x)`` computed on access, and a
        :class:`SpaceIndex` over them.

    Raises
    ------
    ValueError
        If the source has dims other than z/y/x (resolve ``vs``/``ch`` first), or as in
        ``resample_dataarray``.

    Examples
    --------
    >>> view = assign_space_coords(raw, to_space="ortho", version="v1")  # doctest: +SKIP
    >>> view.sel(z_ortho=100.0, y_ortho=20.0, x_ortho=30.0, method="nearest")  # doctest: +SKIP
    """
    extra = [d for d in source.dims if d not in SPATIAL_DIMS]
    if extra:
        raise ValueError(
            f"target-space coordinates need one stack and channel (dims z, y, x), got extra "
            f"dims {extra}; select one first, e.g. .sel(vs=..., ch=...)"
        )
    prepared = prepare(source, TransformSpec(to_space, version, transform, from_space, slice_name))
    ordered = source.transpose(*SPATIAL_DIMS)
    affine = prepared.coord_maps[()] @ index_to_coords(ordered)
    coord_names = (
        tuple(names) if names is not None else tuple(f"{d}_{to_space}" for d in SPATIAL_DIMS)
    )
    sizes = {d: int(ordered.sizes[d]) for d in SPATIAL_DIMS}
    index = SpaceIndex(AffineCoordinateTransform(affine, sizes, coord_names, space=to_space))
    return source.assign_coords(xr.Coordinates.from_xindex(index))
