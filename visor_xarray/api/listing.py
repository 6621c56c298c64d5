"""Sample listings: :func:`info`, :func:`list_image` and :func:`list_transform`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from visor_xarray import layout
from visor_xarray.api.records import ImageRecord, SampleSummary, TransformRecord
from visor_xarray.errors import UnknownImageError
from visor_xarray.store import VsrStore
from visor_xarray.zarr_io.remote_path import relative_key

__all__ = ["info", "list_image", "list_transform"]


def info(path: str | Path, *, storage_options: Mapping[str, Any] | None = None) -> SampleSummary:
    """Summarise a sample: ``info.json``, image types and transform versions.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.vsr`` directory.
    storage_options : mapping, optional
        For a sample at a URL (``s3://``, ``http(s)://``): ``key``, ``secret``, ``token``,
        ``endpoint_url``, ``region``, ``anon``, ``client_kwargs`` (docs/remote.md).

    Returns
    -------
    SampleSummary

    Raises
    ------
    NotAVsrError
        If ``path`` is not a ``.vsr`` sample.
    MetadataError
        If ``info.json`` is missing or malformed.

    Examples
    --------
    >>> import visor_xarray as vx
    >>> print(vx.info(sample_path).image_types)  # doctest: +SKIP
    ('raw',)
    """
    store = VsrStore(path, storage_options=storage_options)
    sample = store.info()
    return SampleSummary(
        path=store.path,
        animal_id=sample.animal_id,
        project_name=sample.project_name,
        species=sample.species,
        subproject_name=sample.subproject_name,
        image_types=tuple(store.image_types()),
        transform_versions=tuple(store.transform_versions()),
        extra=dict(sample.extra),
    )


def _record(store: VsrStore, image_type: str, name: str) -> ImageRecord:
    attrs = store.image_attrs(image_type, name)
    channels = tuple(c.wavelength for c in attrs.visor.channels_by_index()) if attrs.visor else ()
    selected: bool | None = None
    selected_channels: tuple[str, ...] = ()
    if image_type == layout.RAW:
        entry = store.selection().get(name)
        selected = entry is not None
        selected_channels = entry.channels if entry is not None else ()
    return ImageRecord(
        type=image_type,
        name=name,
        channels=channels,
        levels=attrs.multiscale.level_paths,
        dims=attrs.multiscale.dims,
        selected=selected,
        selected_channels=selected_channels,
    )


def list_image(
    path: str | Path,
    type: str | None = None,
    channel: str | None = None,
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> list[ImageRecord]:
    """List the images of a sample.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.vsr`` directory.
    storage_options : mapping, optional
        For a sample at a URL (``s3://``, ``http(s)://``): ``key``, ``secret``, ``token``,
        ``endpoint_url``, ``region``, ``anon``, ``client_kwargs`` (docs/remote.md).
    type : str, optional
        Keep only images of this type (``"raw"``, ``"recon"``, ...).
    channel : str, optional
        Keep only images that hold this channel (wavelength label, e.g. ``"488"``).

    Returns
    -------
    list of ImageRecord

    Raises
    ------
    UnknownImageError
        If ``type`` is given and the sample has no such image type.

    Examples
    --------
    >>> for record in vx.list_image(sample_path, type="raw"):  # doctest: +SKIP
    ...     print(record)
    """
    store = VsrStore(path, storage_options=storage_options)
    types = store.image_types()
    if type is not None:
        if type not in types:
            raise UnknownImageError(store.path, "image type", type, types)
        types = [type]
    records = [_record(store, t, name) for t in types for name in store.image_names(t)]
    if channel is not None:
        records = [r for r in records if str(channel) in r.channels]
    return records


def list_transform(
    path: str | Path,
    version: str | None = None,
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> list[TransformRecord]:
    """List the stored transforms of a sample.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.vsr`` directory.
    storage_options : mapping, optional
        For a sample at a URL (``s3://``, ``http(s)://``): ``key``, ``secret``, ``token``,
        ``endpoint_url``, ``region``, ``anon``, ``client_kwargs`` (docs/remote.md).
    version : str, optional
        Keep only this transform version (``visor_recon_transforms/{version}``).

    Returns
    -------
    list of TransformRecord

    Raises
    ------
    UnknownVersionError
        If ``version`` does not exist (the message lists the versions that do).
    """
    store = VsrStore(path, storage_options=storage_options)
    versions = store.transform_versions()
    if version is not None:
        store.version_dir(version)
        versions = [version]
    records = []
    for v in versions:
        for slice_name in store.transform_slices(v):
            slice_dir = store.slice_dir(v, slice_name)
            for entry in store.transform_list(v, slice_name).entries:
                files = (
                    sorted(
                        relative_key(f, slice_dir)
                        for f in (slice_dir / entry.name).rglob(f"{entry.type}.{entry.format}")
                    )
                    if (slice_dir / entry.name).is_dir()
                    else []
                )
                records.append(
                    TransformRecord(
                        version=v,
                        slice=slice_name,
                        name=entry.name,
                        type=entry.type,
                        format=entry.format,
                        direction=entry.stored_direction,
                        files=tuple(files),
                    )
                )
    return records
