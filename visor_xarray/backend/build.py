"""Build xarray objects from a sample: one image level -> Dataset; a sample -> groups."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import xarray as xr
from xarray.core import indexing

from visor_xarray.backend.array import VisorBackendArray
from visor_xarray.backend.label_index import label_indexed
from visor_xarray.chunking import grow_chunks
from visor_xarray.coords import channel_coords, spatial_coords, stack_coords
from visor_xarray.options import OPTIONS
from visor_xarray.schema import ImageAttrs
from visor_xarray.store import SOURCE_ENCODING, LevelSource, VsrStore
from visor_xarray.zarr_io.remote_path import RemotePath

__all__ = ["DATA_VARIABLE", "image_attrs_dict", "label_coords", "level_dataset", "sample_groups"]

#: Name of the data variable of every image Dataset.
DATA_VARIABLE = "image"


def label_coords(attrs: ImageAttrs, dims: Iterable[str]) -> dict[str, Any]:
    """Label coordinates (``vs``, ``ch`` and their non-index coordinates) of an image."""
    dims = tuple(dims)
    coords: dict[str, Any] = {}
    if "vs" in dims:
        coords.update(stack_coords(attrs))
    if "ch" in dims:
        coords.update(channel_coords(attrs, reserved=set(dims)))
    return coords


def image_attrs_dict(
    store: VsrStore, image_type: str, name: str, level: str, attrs: ImageAttrs
) -> dict[str, Any]:
    """Attributes of an image Dataset: identity, provenance and the full metadata (JSON)."""
    multiscale = attrs.multiscale
    out: dict[str, Any] = {
        "vsr_path": str(store.path),
        "image_type": image_type,
        "image_name": name,
        "resolution_level": level,
        "resolution_levels": list(multiscale.level_paths),
        "ome_version": attrs.ome.version,
    }
    if multiscale.type is not None:
        out["downsampling_method"] = multiscale.type
    if attrs.visor is not None:
        if attrs.visor.transform_version is not None:
            out["transform_version"] = attrs.visor.transform_version
        if attrs.visor.sources is not None:
            out["sources"] = [source.path for source in attrs.visor.sources]
    # The complete group attributes, as JSON text so that every xarray writer accepts it:
    # enough to write the image back unchanged (to_vsr) after selections and arithmetic.
    out["vsr_attributes"] = json.dumps(attrs.to_dict(), ensure_ascii=False)
    return out


def level_dataset(
    store: VsrStore,
    image_type: str,
    name: str,
    level: str | int = 0,
    *,
    attrs: ImageAttrs | None = None,
    include_labels: bool = True,
    pipeline: str | None = None,
) -> xr.Dataset:
    """Open one image level as a lazy Dataset (reads metadata only).

    Parameters
    ----------
    store : VsrStore
        The sample.
    image_type, name : str
        The image.
    level : str or int, default 0
        Resolution level path.
    attrs : ImageAttrs, optional
        Already parsed metadata.
    include_labels : bool, default True
        Include the ``vs``/``ch`` index coordinates (the DataTree puts them on the image
        node instead, from where the levels inherit them; xarray inherits only indexed
        coordinates, so the non-index label coordinates stay on every level).
    pipeline : {"zarrs", "default"}, optional
        Codec pipeline of the underlying array.

    Returns
    -------
    xarray.Dataset
        One variable, ``image``, with dims from the image's axes and the coordinates and
        attributes described in the user guide.
    """
    attrs = attrs if attrs is not None else store.image_attrs(image_type, name)
    level = str(level)
    array = store.level_array(image_type, name, level, attrs=attrs, pipeline=pipeline)
    dims = attrs.multiscale.dims
    coords: dict[str, Any] = dict(spatial_coords(attrs.multiscale, level, tuple(array.shape)))
    for key, (dim, values, coord_attrs) in label_coords(attrs, dims).items():
        if key in ("vs", "ch") and not include_labels:
            continue
        # chunked like the image along vs/ch, so that Dataset.chunks stays consistent
        label_encoding = {} if key == dim else {"preferred_chunks": {dim: 1}}
        coords[key] = xr.Variable(dim, values, coord_attrs, encoding=label_encoding)
    data = indexing.LazilyIndexedArray(VisorBackendArray(array))
    shards = array.shards or array.chunks
    preferred = grow_chunks(
        array.chunks, shards, array.shape, array.dtype.itemsize, OPTIONS["dask_chunk_bytes"]
    )
    encoding: dict[str, Any] = {
        "preferred_chunks": dict(zip(dims, preferred, strict=True)),
        "chunks": tuple(array.chunks),
        "shards": tuple(shards),
        "dtype": array.dtype,
        "codec_pipeline": type(array.async_array.codec_pipeline).__name__,
        # What was opened, for reads of this image at any level (resampling): indexing
        # keeps a variable's encoding and computations drop it, so it marks stored data.
        SOURCE_ENCODING: LevelSource.of(
            store.path if isinstance(store.path, RemotePath) else store.path.absolute(),
            image_type,
            name,
            level,
            array.pipeline_settings,
        ),
    }
    image_attrs = image_attrs_dict(store, image_type, name, level, attrs)
    # on the variable too, so that `ds["image"]` keeps what `.visor` and `to_vsr` need
    variable = xr.Variable(dims, data, attrs=dict(image_attrs), encoding=encoding)
    dataset = xr.Dataset({DATA_VARIABLE: variable}, coords=coords, attrs=image_attrs)
    return label_indexed(dataset)


def sample_groups(store: VsrStore, pipeline: str | None = None) -> dict[str, xr.Dataset]:
    """Every image type, image and level of a sample as ``{group path: Dataset}``.

    ``/`` holds the sample's ``info.json`` as attributes; ``/{type}`` the type; ``/{type}/
    {name}`` the image's label coordinates and attributes; ``/{type}/{name}/{level}`` the
    level's ``image`` variable and spatial coordinates.
    """
    info = store.info()
    root_attrs: dict[str, Any] = {
        k: v for k, v in info.to_dict().items() if isinstance(v, str | int | float)
    }
    root_attrs["vsr_path"] = str(store.path)
    root_attrs["transform_versions"] = store.transform_versions()
    groups: dict[str, xr.Dataset] = {"/": xr.Dataset(attrs=root_attrs)}
    for image_type in store.image_types():
        names = store.image_names(image_type)
        groups[f"/{image_type}"] = xr.Dataset(attrs={"image_type": image_type, "images": names})
        for name in names:
            attrs = store.image_attrs(image_type, name)
            image_node = label_indexed(
                xr.Dataset(coords=label_coords(attrs, attrs.multiscale.dims))
            )
            first_level = attrs.multiscale.level_paths[0]
            image_node.attrs = image_attrs_dict(store, image_type, name, first_level, attrs)
            del image_node.attrs["resolution_level"]
            groups[f"/{image_type}/{name}"] = image_node
            for level in attrs.multiscale.level_paths:
                groups[f"/{image_type}/{name}/{level}"] = level_dataset(
                    store,
                    image_type,
                    name,
                    level,
                    attrs=attrs,
                    include_labels=False,
                    pipeline=pipeline,
                )
    return groups
