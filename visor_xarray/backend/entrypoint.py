"""The ``visor`` xarray engine: ``xr.open_dataset(path, engine="visor")`` and friends."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import xarray as xr
from xarray.backends import BackendEntrypoint

from visor_xarray import layout
from visor_xarray.backend.build import level_dataset, sample_groups
from visor_xarray.store import Location, VsrStore
from visor_xarray.zarr_io.remote_path import RemotePath, sample_path

__all__ = ["VisorBackendEntrypoint", "resolve_target"]


def resolve_target(
    path: Any, storage_options: Mapping[str, Any] | None = None
) -> tuple[Location, str | None, str | None]:
    """Split a path or URL into ``(sample, image_type, name)``.

    A ``.vsr`` directory gives ``(path, None, None)``; an image directory
    ``S.vsr/visor_{type}_images/{name}.zarr`` gives its sample, type and name. URLs
    (``s3://``, ``http(s)://``, ``file://``) give a remote (or local) location.
    """
    target = sample_path(path, storage_options)
    if target.suffix == ".zarr":
        match = layout.IMAGE_DIR_PATTERN.match(target.parent.name)
        if match and target.parent.parent.suffix == ".vsr":
            return target.parent.parent, match["type"], target.stem
    return target, None, None


def _drop(dataset: xr.Dataset, drop_variables: str | Iterable[str] | None) -> xr.Dataset:
    if drop_variables is None:
        return dataset
    names = [drop_variables] if isinstance(drop_variables, str) else list(drop_variables)
    return dataset.drop_vars([n for n in names if n in dataset.variables])


class VisorBackendEntrypoint(BackendEntrypoint):
    """Open VISoR ``.vsr`` samples with xarray.

    ``xr.open_dataset(path, engine="visor", image_type="raw", name=None, resolution=0)``
    opens one image level as a lazy Dataset with one variable, ``image``;
    ``xr.open_datatree(path, engine="visor")`` opens the whole sample.

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.open_dataset(sample_path, engine="visor", name="slice_1_10x")  # doctest: +SKIP
    """

    description = (
        "Open VISoR .vsr light-sheet samples (OME-Zarr 0.5, sharded) as labelled, lazy "
        "xarray objects"
    )
    url = "https://github.com/visor-xarray/visor-xarray/blob/main/docs/user-guide.md"
    supports_groups = True
    open_dataset_parameters = (
        "filename_or_obj",
        "drop_variables",
        "image_type",
        "name",
        "resolution",
        "codec_pipeline",
        "storage_options",
    )

    def open_dataset(  # type: ignore[override]
        self,
        filename_or_obj: str | os.PathLike[str],
        *,
        drop_variables: str | Iterable[str] | None = None,
        image_type: str | None = None,
        name: str | None = None,
        resolution: str | int = 0,
        codec_pipeline: str | None = None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> xr.Dataset:
        """Open one resolution level of one image as a lazy Dataset.

        Parameters
        ----------
        filename_or_obj : str or os.PathLike
            The ``.vsr`` directory, or an image directory inside it
            (``S.vsr/visor_raw_images/slice_1_10x.zarr``).
        drop_variables : str or iterable of str, optional
            Variables or coordinates to leave out.
        image_type : str, optional
            Image type (default ``"raw"``, or the type of the image directory given).
        name : str, optional
            Image name; None picks the only image of the type, or raises an error listing
            the names to choose from.
        resolution : str or int, default 0
            Resolution level path.
        codec_pipeline : {"zarrs", "default"}, optional
            Codec pipeline for reading (default: the library option, zarrs).
        storage_options : mapping, optional
            For a sample at a URL: ``key``, ``secret``, ``token``, ``endpoint_url``,
            ``region``, ``anon``, ``client_kwargs`` (see docs/remote.md).

        Returns
        -------
        xarray.Dataset

        Raises
        ------
        NotAVsrError, UnknownImageError, UnknownLevelError, MetadataError
        """
        sample, path_type, path_name = resolve_target(filename_or_obj, storage_options)
        image_type = image_type or path_type or layout.RAW
        name = name or path_name
        store = VsrStore(sample)
        if name is None:
            name = store.only_image(image_type)
        dataset = level_dataset(store, image_type, name, resolution, pipeline=codec_pipeline)
        return _drop(dataset, drop_variables)

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        """True for a ``.vsr`` directory or an image directory inside one (either layout);
        never raises."""
        try:
            sample, _, name = resolve_target(filename_or_obj)
            if isinstance(sample, RemotePath):  # opening decides; no request here
                return sample.suffix == ".vsr" or name is not None
            if name is not None:
                image = Path(os.fspath(filename_or_obj))
                if layout.is_legacy_image(image):  # flat .zattrs of the legacy layout
                    flat = json.loads((image / ".zattrs").read_text())
                    return "multiscales" in flat and "channels" in flat
                document = json.loads((image / "zarr.json").read_text())
                return "visor" in document.get("attributes", {})
            return sample.suffix == ".vsr" and sample.is_dir()
        except Exception:
            return False

    def open_groups_as_dict(  # type: ignore[override]
        self,
        filename_or_obj: str | os.PathLike[str],
        *,
        drop_variables: str | Iterable[str] | None = None,
        codec_pipeline: str | None = None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> dict[str, xr.Dataset]:
        """Every image type, image and level of the sample as ``{group path: Dataset}``."""
        sample, _, _ = resolve_target(filename_or_obj, storage_options)
        groups = sample_groups(VsrStore(sample), pipeline=codec_pipeline)
        return {path: _drop(ds, drop_variables) for path, ds in groups.items()}

    def open_datatree(  # type: ignore[override]
        self,
        filename_or_obj: str | os.PathLike[str],
        *,
        drop_variables: str | Iterable[str] | None = None,
        codec_pipeline: str | None = None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> xr.DataTree:
        """The whole sample as a lazy DataTree: ``/{type}/{name}/{level}``.

        Levels inherit the ``vs``/``ch`` label coordinates from their image node, so
        ``tree["raw/slice_1_10x/0"].to_dataset()`` equals ``open_dataset`` of that level.
        """
        groups = self.open_groups_as_dict(
            filename_or_obj,
            drop_variables=drop_variables,
            codec_pipeline=codec_pipeline,
            storage_options=storage_options,
        )
        return xr.DataTree.from_dict(groups)
