"""The ``.visor`` accessor on DataArray, Dataset and DataTree.

One shared base holds everything common; the subclasses add only what is specific. The
accessor derives what it reports from the wrapped object's coordinates and attributes on
each call and never mutates the object.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import pint
import xarray as xr

from visor_xarray.backend.build import DATA_VARIABLE
from visor_xarray.backend.label_index import label_indexed
from visor_xarray.compute import compute_in_place
from visor_xarray.coords import level_spacing
from visor_xarray.errors import (
    InvalidArrayError,
    MetadataError,
    UnknownLabelError,
)
from visor_xarray.quicklook import mip, picture_pixels, write_png
from visor_xarray.resample import resample_dataarray, stitch_stacks
from visor_xarray.schema import ImageAttrs, parse_image_attrs
from visor_xarray.store import SOURCE_ENCODING
from visor_xarray.units import quantity
from visor_xarray.write import WriteReport, write_dataarray, write_region
from visor_xarray.write.pyramid import downsample, level_factors
from visor_xarray.write.remote import edit_remote_image, write_to_remote
from visor_xarray.zarr_io.remote_path import RemotePath, is_url, sample_path

__all__ = ["VisorDataArrayAccessor", "VisorDataTreeAccessor", "VisorDatasetAccessor"]

T = TypeVar("T", xr.DataArray, xr.Dataset)

_LABEL_DIMS = {"stack": "vs", "channel": "ch"}


class _VisorAccessorBase(Generic[T]):
    """What the DataArray and Dataset accessors share."""

    def __init__(self, obj: T) -> None:
        self._obj: T = obj

    def _source(self) -> str:
        attrs = self._obj.attrs
        if "image_name" in attrs:
            return f"{attrs.get('vsr_path', '?')}:{attrs.get('image_type')}/{attrs['image_name']}"
        return "this object"

    @property
    def metadata(self) -> ImageAttrs:
        """The image's typed metadata (``ome`` + ``visor``), from the ``vsr_attributes`` attr.

        Raises
        ------
        MetadataError
            If the object carries no VISoR metadata.
        """
        text = self._obj.attrs.get("vsr_attributes")
        if text is None:
            raise MetadataError(
                None,
                "attrs.vsr_attributes",
                "this object carries no VISoR metadata (open it with engine='visor')",
            )
        return parse_image_attrs(json.loads(text))

    def label_to_index(self, kind: str, label: str) -> int:
        """Position of a stack or channel label along ``vs`` / ``ch`` of this object.

        Parameters
        ----------
        kind : {"stack", "channel"}
        label : str
            e.g. ``"stack_3"`` or ``"488"``.

        Returns
        -------
        int
            The position in this object (use it with ``isel``); for an object opened
            whole it equals the stored axis index that visor-py returns.

        Raises
        ------
        UnknownLabelError
            If the label is not present; the message lists those that are.
        """
        if kind not in _LABEL_DIMS:
            raise ValueError(f"label kind must be 'stack' or 'channel', got {kind!r}")
        dim = _LABEL_DIMS[kind]
        labels = self._labels(dim)
        for position, value in enumerate(labels):
            if value == label:
                return position
        raise UnknownLabelError(self._source(), kind, label, labels)

    def _labels(self, dim: str) -> tuple[str, ...]:
        if dim not in self._obj.coords:
            return ()
        return tuple(str(v) for v in np.atleast_1d(self._obj.coords[dim].values))

    @property
    def stacks(self) -> tuple[str, ...]:
        """Stack labels along ``vs`` (empty if the object has no ``vs``)."""
        return self._labels("vs")

    @property
    def channels(self) -> tuple[str, ...]:
        """Channel labels (wavelengths) along ``ch`` (empty if the object has no ``ch``)."""
        return self._labels("ch")

    @property
    def levels(self) -> tuple[str, ...]:
        """Resolution levels of the image this object was opened from."""
        return tuple(self._obj.attrs.get("resolution_levels", ()))

    @property
    def spacing(self) -> dict[str, pint.Quantity[Any]]:
        """Voxel size per spatial dim as pint Quantities (e.g. ``{"z": 3.5 µm, ...}``).

        Taken from the coordinates' step; a dim of length 1 takes it from the metadata.
        """
        out: dict[str, pint.Quantity[Any]] = {}
        for dim in self._obj.dims:
            if dim in ("vs", "ch") or dim not in self._obj.coords:
                continue
            coord = self._obj.coords[dim]
            values = np.asarray(coord.values, dtype=np.float64)
            if values.size > 1:
                step = float(np.median(np.diff(values)))
            else:
                step = self._metadata_spacing(str(dim))
            out[str(dim)] = quantity(step, coord.attrs.get("units"))
        return out

    def _metadata_spacing(self, dim: str) -> float:
        attrs = self.metadata
        level = self._obj.attrs.get("resolution_level", attrs.multiscale.level_paths[0])
        return level_spacing(attrs.multiscale, level)[attrs.multiscale.dims.index(dim)]

    def _reopen(self, level: str | int) -> xr.Dataset:
        attrs = self._obj.attrs
        missing = [k for k in ("vsr_path", "image_type", "image_name") if k not in attrs]
        if missing:
            raise MetadataError(
                None, f"attrs.{missing[0]}", "cannot find the source image of this object"
            )
        chunks: Any = {} if self._is_dask() else None
        opened = self._obj.encoding.get(SOURCE_ENCODING)
        # the opener's location keeps a remote sample's storage options; attrs hold a URL
        sample = opened.sample if opened is not None else attrs["vsr_path"]
        return xr.open_dataset(
            sample,
            engine="visor",
            image_type=attrs["image_type"],
            name=attrs["image_name"],
            resolution=level,
            chunks=chunks,
        )

    def _is_dask(self) -> bool:
        return False

    def compute(self, **compute_kwargs: Any) -> T:
        """Compute every dask-backed variable, writing each block straight into its place.

        Gives the same result as ``.compute()``, but dask's final gather is skipped:
        ``.compute()`` holds every block until the last is done, then copies them all on
        one thread into a fresh array, so it peaks at twice the result. This method
        preallocates the result and each block is copied into it by the worker that
        computed it. Peak memory is the result plus the blocks in flight, and the copies
        run in parallel. The object itself is left unchanged.

        Parameters
        ----------
        **compute_kwargs
            Passed to dask (``scheduler=``, ``num_workers=``, ...).

        Returns
        -------
        xarray.DataArray or xarray.Dataset
            Same type, coordinates, attrs and encoding, holding numpy arrays.

        Notes
        -----
        Falls back to plain ``.compute()`` when the workers do not share this process's
        memory (``scheduler="processes"``, a process ``pool``, a dask.distributed client,
        a custom ``get``) and when a block is not the numpy array its dask array declares
        (another dtype or shape, a masked array). Variables that declare other block
        types (sparse, cupy, ...) are computed by dask as usual, in the same graph.
        """
        return compute_in_place(self._obj, **compute_kwargs)


class VisorDataArrayAccessor(_VisorAccessorBase[xr.DataArray]):
    """``DataArray.visor``: labels, units, levels and metadata of a VISoR image."""

    def _is_dask(self) -> bool:
        return self._obj.chunks is not None

    def open_level(self, level: str | int) -> xr.DataArray:
        """Open another resolution level of the same image (whole, not the current selection).

        Parameters
        ----------
        level : str or int
            Level path, one of :attr:`levels`.

        Returns
        -------
        xarray.DataArray
            Dask-backed if this object is.
        """
        return self._reopen(level)[self._obj.name or "image"]

    def mip(self, dim: str = "z") -> xr.DataArray:
        """Maximum-intensity projection along ``dim`` (lazy for dask-backed data).

        Parameters
        ----------
        dim : str, default "z"

        Returns
        -------
        xarray.DataArray
        """
        projected: xr.DataArray = mip(self._obj, dim)
        return projected

    def _picture(self, dim: str) -> xr.DataArray:
        picture = self._obj
        if picture.ndim > 2 and dim in picture.dims:
            picture = self.mip(dim)
        if picture.ndim != 2:
            extra = [d for d in picture.dims if d not in ("y", "x")]
            raise ValueError(
                f"a picture needs 2 dims, this has {picture.dims}; select one value along "
                f"{extra} first, e.g. .sel(vs='stack_1', ch='488')"
            )
        return picture

    def plot(self, dim: str = "z", **kwargs: Any) -> Any:
        """Show the image (its maximum-intensity projection along ``dim`` if 3-D) with matplotlib.

        Parameters
        ----------
        dim : str, default "z"
            Projection dim when the selection is 3-D.
        **kwargs
            Passed to :meth:`xarray.DataArray.plot.imshow` (``robust=True`` by default).

        Returns
        -------
        matplotlib.image.AxesImage

        Raises
        ------
        ImportError
            Without matplotlib (``pip install visor-xarray[plot]``).
        """
        kwargs.setdefault("robust", True)
        kwargs.setdefault("cmap", "gray")
        return self._picture(dim).plot.imshow(**kwargs)

    def to_png(self, path: str | os.PathLike[str], dim: str = "z", *, min_size: int = 0) -> Path:
        """Write a contrast-stretched PNG quick look (MIP along ``dim`` if 3-D).

        Pixels are square in physical space: the axis with the coarser coordinate step
        is stretched (a projection along ``x`` of 3.5 µm frames and 1.03 µm pixels shows
        each frame as 3-4 rows). Needs no matplotlib.

        Parameters
        ----------
        path : str or os.PathLike
        dim : str, default "z"
        min_size : int, default 0
            Enlarge small pictures by a whole factor until the longer side has at least
            this many pixels.

        Returns
        -------
        pathlib.Path
        """
        return write_png(path, picture_pixels(self._picture(dim), min_size=min_size))

    def to_vsr(
        self,
        path: str | os.PathLike[str],
        *,
        image_type: str,
        name: str,
        mode: str = "w-",
        levels: int | Sequence[Sequence[int] | Mapping[str, int]] | None = None,
        shard_shape: Sequence[int] | None = None,
        chunk_shape: Sequence[int] | None = None,
        compressors: Any = None,
        attrs: Mapping[str, Any] | None = None,
        progress: bool = False,
        region: Mapping[str, slice] | None = None,
        method: str = "mean",
        storage_options: Mapping[str, Any] | None = None,
    ) -> WriteReport:
        """Write this DataArray as a ``.vsr`` image (sharded, through zarrs), with a pyramid.

        Metadata comes from the coordinates and attributes (as the engine makes them):
        stack and channel labels, z/y/x spacing and origin, channel acquisition
        coordinates, and ``vsr_attributes`` for what coordinates cannot hold. So
        ``open_dataset -> to_vsr -> open_dataset`` gives the same values, dims, coordinates
        and attributes, and visor-py reads the result.

        Parameters
        ----------
        path : str or os.PathLike
            The ``.vsr`` sample (created if missing); a URL (``s3://bucket/S.vsr``)
            writes to object storage (:mod:`visor_xarray.write.remote`).
        image_type : str
            ``"raw"``, ``"recon"``, ...
        name : str
            Image name.
        mode : {"w-", "w", "a", "r+"}, default "w-"
            ``"w-"`` fails if the image exists (nothing is touched); ``"w"`` replaces it;
            ``"a"`` writes the image, replacing it if it exists; with ``region``, ``"r+"``
            or ``"a"`` write into the existing image.
        levels : int or sequence, optional
            None: level 0 only. ``N``: ``N`` levels in total, each halving y and x (raw)
            or z, y and x (other types). A sequence: the relative factors of each extra
            level, as tuples (one per dim) or ``{dim: factor}``.
        shard_shape, chunk_shape : sequence of int, optional
            Storage geometry. Default inner chunk: 64 per spatial dim; default shard:
            VISoR's standard layout (one shard per stack and channel up to 8192 frames;
            2048 a side for recon images), clipped to the image
            (:mod:`visor_xarray.write.layouts`). Shards are streamed in bounded memory
            whatever their size; ``write_memory_budget`` sets only the work in flight.
        compressors : zarr codec, optional
            Used for every level. Default: blosc zstd 5 with shuffle for level 0 (the
            format's typical value) and zstd 2 for the coarser levels, whose smoothed
            data zstd 5 compresses 2-4x slower per byte than level 0 for a ratio
            within 1 % (the ``pyramid_clevel`` option of :func:`set_options`).
        attrs : mapping, optional
            ``attributes.visor`` fields to set (``transform_version``, ``sources``, ...).
        progress : bool, default False
            Show a progress bar.
        region : mapping of dim to slice, optional
            Write into this region of level 0 of an existing image (index space); coarser
            levels are updated. The shards it touches are rewritten, the encoded bytes
            of their untouched chunks copied unchanged (no decode, no re-encode).
        method : {"mean", "max", "min"}, default "mean"
            Downsampling of the pyramid.
        storage_options : mapping, optional
            For a URL: ``key``, ``secret``, ``token``, ``endpoint_url``, ``region``,
            ``anon``, ``client_kwargs`` (docs/remote.md).

        Returns
        -------
        WriteReport
            Levels written, time taken and the predicted peak memory growth
            (:func:`visor_xarray.write.memory.predicted_peak`).

        Raises
        ------
        TargetExistsError
            With ``mode="w-"`` when the image exists.
        MetadataError
            When a coordinate the schema requires is missing or unevenly spaced.
        InvalidArrayError
            For an unsupported dtype, a bad chunk/shard shape, or region data of the wrong
            shape.
        """
        target = sample_path(path, storage_options if is_url(path) else None)
        if region is not None:
            if mode not in ("r+", "a"):
                raise ValueError(f"region writes need mode='r+' or 'a', got {mode!r}")
            region_write = functools.partial(
                write_region,
                self._obj,
                image_type=image_type,
                name=name,
                region=region,
                method=method,
            )
            if isinstance(target, RemotePath):
                return edit_remote_image(target, image_type, name, "region", region_write)
            return region_write(target)
        write = functools.partial(
            write_dataarray,
            self._obj,
            image_type=image_type,
            name=name,
            levels=levels,
            shard_shape=shard_shape,
            chunk_shape=chunk_shape,
            compressors=compressors,
            attrs=attrs,
            progress=progress,
            method=method,
        )
        if isinstance(target, RemotePath):
            return write_to_remote(
                target, image_type, name, mode, lambda local: write(local, mode="w")
            )
        return write(target, mode=mode)

    def pyramid(
        self,
        levels: int | Sequence[Sequence[int] | Mapping[str, int]],
        factors: None = None,
        method: str = "mean",
    ) -> list[xr.DataArray]:
        """Lazy multiscale pyramid (dask): ``[level 0, level 1, ...]``.

        Parameters
        ----------
        levels : int or sequence
            As ``to_vsr``'s ``levels``: a total count with default factors, or per-level
            factors.
        factors : None
            Reserved (pass per-level factors through ``levels``).
        method : {"mean", "max", "min"}, default "mean"

        Returns
        -------
        list of xarray.DataArray
            Each level block-reduced from the previous one, with voxel-centre coordinates
            (``x_k = x_0 + s_0 * (f * i + (f - 1) / 2)``). Odd sizes: the last output voxel
            reduces the voxels that exist; integer dtypes are rounded half to even.
        """
        image_type = str(self._obj.attrs.get("image_type", "raw"))
        steps = level_factors([str(d) for d in self._obj.dims], image_type, levels)
        current = self._obj if self._obj.chunks is not None else self._obj.chunk()
        out = [current]
        for step in steps:
            data = downsample(current.data, step)
            coords = {}
            for dim, factor in zip(current.dims, step, strict=True):
                if dim in current.coords and factor > 1:
                    values = np.asarray(current.coords[dim].values, dtype=np.float64)
                    pad = (-values.size) % factor
                    spacing = float(np.diff(values).mean()) if values.size > 1 else 0.0
                    padded = np.concatenate([values, values[-1] + spacing * np.arange(1, pad + 1)])
                    coords[dim] = (
                        dim,
                        padded.reshape(-1, factor).mean(axis=1),
                        current.coords[dim].attrs,
                    )
            level = xr.DataArray(
                data, dims=current.dims, attrs=dict(current.attrs), name=current.name
            )
            level = level.assign_coords(
                {
                    k: v
                    for k, v in current.coords.items()
                    if not set(v.dims)
                    & {d for d, f in zip(current.dims, step, strict=False) if f > 1}
                }
            ).assign_coords(coords)
            level = label_indexed(level)
            out.append(level)
            current = level
        return out

    def resample(
        self,
        *,
        to_space: str,
        version: str | None = None,
        transform: Any = None,
        spacing: Any = None,
        bounds: Any = None,
        order: int = 1,
        fill_value: float = 0,
        chunks: Any = None,
        level: str | int | None = "auto",
        **kwargs: Any,
    ) -> xr.DataArray:
        """Resample this image into another space (lazy, block-driven pull-back).

        The keywords and rules (output grid, ``level="auto"``, memory bound) are those of
        :func:`visor_xarray.resample.resample_dataarray`, documented there; see also
        ``docs/resampling.md``.

        Parameters
        ----------
        to_space, version, transform
            Target space and transform (:class:`~visor_xarray.resample.TransformSpec`).
        spacing, bounds
            Output grid (:class:`~visor_xarray.resample.GridSpec`).
        order, fill_value, chunks, level
            Interpolation order, value outside the source, output block shape, resolution
            level to read (``None``: this object's data as they are).
        **kwargs
            ``from_space``, ``slice_name``, ``grid``, ``mode``, ``dtype``, ``prefilter``,
            ``kernel``.

        Returns
        -------
        xarray.DataArray
            Dask-backed, in the target space, with provenance attrs.
        """
        result = resample_dataarray(
            self._obj,
            to_space=to_space,
            version=version,
            transform=transform,
            spacing=spacing,
            bounds=bounds,
            order=order,
            fill_value=fill_value,
            chunks=chunks,
            level=level,
            **kwargs,
        )
        # built by xarray from our coordinates: give vs/ch the engine's label index again
        return label_indexed(result)

    def stitch(
        self,
        *,
        to_space: str = "slice",
        version: str | None = None,
        blend: str = "mean",
        spacing: Any = None,
        bounds: Any = None,
        order: int = 1,
        fill_value: float = 0,
        chunks: Any = None,
        level: str | int | None = "auto",
        **kwargs: Any,
    ) -> xr.DataArray:
        """Resample every stack (``vs``) into one space and blend the overlaps (lazy).

        The keywords and rules are those of :func:`visor_xarray.resample.stitch_stacks`,
        documented there; see also ``docs/resampling.md``.

        Parameters
        ----------
        to_space, version
            Common space and transform version
            (:class:`~visor_xarray.resample.TransformSpec`).
        blend : {"mean", "max"}, default "mean"
            Average, or maximum, of the stacks covering a voxel.
        spacing, bounds, order, fill_value, chunks, level
            As in :meth:`resample`.
        **kwargs
            ``transform``, ``from_space``, ``slice_name``, ``grid``, ``dtype``,
            ``prefilter``, ``kernel``.

        Returns
        -------
        xarray.DataArray
            Dims ``(ch, z, y, x)``, dask-backed.
        """
        result = stitch_stacks(
            self._obj,
            to_space=to_space,
            version=version,
            blend=blend,
            spacing=spacing,
            bounds=bounds,
            order=order,
            fill_value=fill_value,
            chunks=chunks,
            level=level,
            **kwargs,
        )
        # built by xarray from our coordinates: give vs/ch the engine's label index again
        return label_indexed(result)

    def view(
        self, *, space: str | None = None, version: str | None = None, viewer: Any = None
    ) -> Any:
        """Show this array in napari: one layer per channel, labels and µm scale kept.

        Needs the ``napari`` extra. See :func:`visor_xarray.napari.view`.

        Parameters
        ----------
        space : str, optional
            Place each raw stack in this space (``"ortho"``, ...) by its stored transforms,
            as a layer affine: deskewed and tiled, nothing resampled.
        version : str, optional
            Transform version for ``space``.
        viewer : napari.Viewer or napari.components.ViewerModel, optional
            Add the layers there instead of a new ``napari.Viewer()``.

        Returns
        -------
        napari.Viewer
            The viewer holding the layers.
        """
        # napari is optional and heavy: imported only when a view is asked for
        from visor_xarray.napari import view

        return view(self._obj, space=space, version=version, viewer=viewer)


class VisorDatasetAccessor(_VisorAccessorBase[xr.Dataset]):
    """``Dataset.visor``: labels, units, levels and metadata of a VISoR image."""

    def _is_dask(self) -> bool:
        return any(variable.chunks is not None for variable in self._obj.data_vars.values())

    def open_level(self, level: str | int) -> xr.Dataset:
        """Open another resolution level of the same image as a Dataset.

        Parameters
        ----------
        level : str or int
            Level path, one of :attr:`levels`.

        Returns
        -------
        xarray.Dataset
        """
        return self._reopen(level)

    def to_vsr(self, path: str | os.PathLike[str], **kwargs: Any) -> WriteReport:
        """Write the Dataset's image variable as a ``.vsr`` image.

        The engine's Datasets hold one variable, ``image``; it is written with
        :meth:`VisorDataArrayAccessor.to_vsr` (same keywords, same rules), with the
        Dataset's attributes where the variable lacks them.

        Parameters
        ----------
        path : str or os.PathLike
            The ``.vsr`` sample (created if missing).
        **kwargs
            ``image_type``, ``name`` (both required), ``mode``, ``levels``, ... as for
            ``DataArray.visor.to_vsr``.

        Returns
        -------
        WriteReport

        Raises
        ------
        InvalidArrayError
            If the Dataset has no ``image`` variable and not exactly one data variable
            (the message lists them).
        """
        return self._image().visor.to_vsr(path, **kwargs)  # type: ignore[no-any-return]

    def view(
        self, *, space: str | None = None, version: str | None = None, viewer: Any = None
    ) -> Any:
        """Show the Dataset's image variable in napari (see ``DataArray.visor.view``).

        Parameters
        ----------
        space, version : str, optional
            Place each raw stack in this space by its stored transforms.
        viewer : napari.Viewer or napari.components.ViewerModel, optional
            Add the layers there instead of a new ``napari.Viewer()``.

        Returns
        -------
        napari.Viewer
        """
        return self._image().visor.view(space=space, version=version, viewer=viewer)

    def _image(self) -> xr.DataArray:
        names = [str(name) for name in self._obj.data_vars]
        if DATA_VARIABLE in names:
            chosen = DATA_VARIABLE
        elif len(names) == 1:
            chosen = names[0]
        else:
            raise InvalidArrayError(
                f"{self._source()}: to_vsr writes the {DATA_VARIABLE!r} variable or the only "
                f"data variable; this Dataset has {names or 'none'}: write one with "
                "ds[name].visor.to_vsr(...)"
            )
        image = self._obj[chosen]
        # the engine copies its attrs onto the variable; arithmetic may keep them on one only
        return image.assign_attrs({**self._obj.attrs, **image.attrs})


class VisorDataTreeAccessor:
    """``DataTree.visor``: find images and levels in a sample tree."""

    def __init__(self, tree: xr.DataTree) -> None:
        self._tree = tree

    @property
    def images(self) -> tuple[str, ...]:
        """Paths (``type/name``) of every image node in the tree."""
        return tuple(
            node.path.strip("/")
            for node in self._tree.subtree
            if "image_name" in node.attrs and "resolution_level" not in node.attrs
        )

    def image(self, image_type: str, name: str, level: str | int = 0) -> xr.DataArray:
        """The ``image`` DataArray of one level, with its inherited label coordinates.

        Parameters
        ----------
        image_type, name : str
            The image.
        level : str or int, default 0
            Resolution level path.

        Returns
        -------
        xarray.DataArray
        """
        node = self._tree[f"{image_type}/{name}/{level}"]
        return node.to_dataset()["image"]


xr.register_dataarray_accessor("visor")(VisorDataArrayAccessor)  # type: ignore[no-untyped-call]
xr.register_dataset_accessor("visor")(VisorDatasetAccessor)  # type: ignore[no-untyped-call]
xr.register_datatree_accessor("visor")(VisorDataTreeAccessor)  # type: ignore[no-untyped-call]
