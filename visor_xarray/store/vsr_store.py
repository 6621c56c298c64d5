""":class:`VsrStore`: one ``.vsr`` sample on disk, its documents, images and transform files."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from visor_xarray import layout
from visor_xarray.errors import (
    ReadOnlyError,
    RemoteUnsupportedError,
    TargetExistsError,
    UnknownImageError,
    UnknownVersionError,
)
from visor_xarray.options import check_option
from visor_xarray.schema import (
    ImageAttrs,
    ReconInfo,
    SampleInfo,
    SelectedImage,
    Selection,
    TransformList,
    parse_recon,
    parse_sample_info,
    parse_selection,
    parse_transform_list,
)
from visor_xarray.store import images
from visor_xarray.store.document_files import load_document
from visor_xarray.store.modes import SampleMode
from visor_xarray.store.opening import open_sample_dir
from visor_xarray.zarr_io.arrays import SafeArray
from visor_xarray.zarr_io.atomic_files import write_json_atomic
from visor_xarray.zarr_io.lock import sample_lock
from visor_xarray.zarr_io.remote_path import Location, RemotePath, sample_path

__all__ = ["Location", "VsrStore"]


class VsrStore:
    """A ``.vsr`` sample directory.

    Parameters
    ----------
    path : str, pathlib.Path or RemotePath
        The sample directory; its name must end in ``.vsr``. A URL (``s3://bucket/S.vsr``,
        ``https://host/S.vsr``, ``file://...``) opens a remote sample, read-only.
    mode : {"r", "r+", "a"}, default "r"
        ``"r"`` read only; ``"r+"`` read and write, the sample must exist; ``"a"`` read and
        write, creating an empty sample (``info.json``, ``visor_raw_images/selected.json``)
        if there is none.
    storage_options : mapping, optional
        Options of a remote sample's store, as xarray and fsspec take them (``key``,
        ``secret``, ``token``, ``endpoint_url``, ``region``, ``anon``, ``client_kwargs``).
    warn_legacy : bool, default True
        Warn (:class:`~visor_xarray.errors.LegacyLayoutWarning`) when the sample has the
        legacy layout of visor-py 2024.12.x; callers that convert it turn this off.

    Attributes
    ----------
    legacy : bool
        True when images of the sample are stored in the legacy layout (Zarr v2, flat
        attributes): they are read like current ones, and the sample is read-only.

    Raises
    ------
    NotAVsrError
        If the path does not end in ``.vsr``, is missing (modes ``r``/``r+``), is not a
        directory, or holds neither ``info.json`` nor any ``visor_*_images`` directory.
    LegacyLayoutError
        With mode ``"r+"`` or ``"a"`` on a sample in the legacy layout.

    Warns
    -----
    LegacyLayoutWarning
        When a sample in the legacy layout is opened (unless ``warn_legacy=False``).
    VisorWarning
        When a copy into the sample (:func:`visor_xarray.copy_sample`) was interrupted or
        is still running: the sample may be incomplete.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | RemotePath,
        mode: SampleMode = "r",
        *,
        storage_options: Mapping[str, Any] | None = None,
        warn_legacy: bool = True,
    ) -> None:
        if mode not in ("r", "r+", "a"):
            raise ValueError(f"sample mode must be 'r', 'r+' or 'a', got {mode!r}")
        self.path: Path | RemotePath = sample_path(path, storage_options)
        self.mode: SampleMode = mode
        if isinstance(self.path, RemotePath) and mode != "r":
            raise RemoteUnsupportedError(
                self.path,
                f"open with mode={mode!r} (a remote sample opens read-only: to_vsr, "
                "copy_sample, add_levels and Transform.save write to it)",
            )
        self.legacy = open_sample_dir(self.path, mode, warn_legacy=warn_legacy)

    @property
    def remote(self) -> bool:
        """True for a sample at a URL (s3://, http(s)://)."""
        return isinstance(self.path, RemotePath)

    @property
    def local_path(self) -> Path:
        """The sample directory of a local sample (what writes use).

        Raises
        ------
        RemoteUnsupportedError
            For a remote sample.
        """
        return self.require_local("write in place")

    def require_local(self, action: str) -> Path:
        """The local sample directory, for an operation only local samples support.

        Parameters
        ----------
        action : str
            The operation, for the message.

        Returns
        -------
        pathlib.Path

        Raises
        ------
        RemoteUnsupportedError
            For a remote sample.
        """
        if isinstance(self.path, RemotePath):
            raise RemoteUnsupportedError(self.path, action)
        return self.path

    def __repr__(self) -> str:
        return f"VsrStore({str(self.path)!r}, mode={self.mode!r})"

    @property
    def writable(self) -> bool:
        """True unless the sample was opened with ``mode='r'``."""
        return self.mode != "r"

    def require_writable(self, action: str) -> None:
        """Refuse ``action`` on a sample opened read-only.

        Parameters
        ----------
        action : str
            What the caller is about to do, for the message.

        Raises
        ------
        ReadOnlyError
            If the sample was opened with ``mode='r'``.
        """
        if not self.writable:
            raise ReadOnlyError(self.path, action)

    # -- sample documents and image discovery ---------------------------------------------

    def info(self) -> SampleInfo:
        """Return the parsed ``info.json``.

        Raises
        ------
        MetadataError
            If ``info.json`` is missing, not JSON, or breaks the schema.
        """
        return load_document(self.path / "info.json", parse_sample_info)

    def write_info(self, info: SampleInfo) -> None:
        """Replace ``info.json`` atomically."""
        self.require_writable("write info.json")
        write_json_atomic(self.local_path / "info.json", info.to_dict())

    @property
    def listable(self) -> bool:
        """Whether the sample's directories can be listed (not over plain HTTP)."""
        return not isinstance(self.path, RemotePath) or self.path.listable

    def image_types(self) -> list[str]:
        """Image types present (``visor_{type}_images`` directories), raw first.

        Over plain HTTP, which cannot list, the types the sample's documents name: raw.
        """
        if not self.listable:
            return [layout.RAW] if self.selection_file().is_file() else []
        return layout.scan_image_types(self.path)

    def selection_file(self) -> Location:
        """Path of ``visor_raw_images/selected.json``."""
        return layout.image_type_dir(self.path, layout.RAW) / "selected.json"

    def selection(self) -> Selection:
        """Return the parsed ``selected.json`` (empty if the file does not exist)."""
        file = self.selection_file()
        if not file.exists():
            return Selection()
        return load_document(file, parse_selection)

    def write_selection(self, selection: Selection) -> None:
        """Replace ``selected.json`` atomically."""
        self.require_writable("write selected.json")
        file = layout.image_type_dir(self.local_path, layout.RAW) / "selected.json"
        write_json_atomic(file, selection.to_json())

    def image_names(self, image_type: str) -> list[str]:
        """Names of the images of one type that exist on disk.

        Raw images come in ``selected.json`` order first, then unselected ones (sorted);
        :meth:`selection` tells which are selected.
        """
        if not self.listable:  # plain HTTP: the images selected.json names
            return self._documented_names(image_type)
        on_disk = layout.scan_image_names(layout.image_type_dir(self.path, image_type))
        if image_type != layout.RAW:
            return on_disk
        selected = [name for name in self.selection().names() if name in on_disk]
        return selected + [name for name in on_disk if name not in selected]

    def _documented_names(self, image_type: str) -> list[str]:
        if image_type != layout.RAW:
            return []
        return [
            name
            for name in self.selection().names()
            if layout.is_image_dir(layout.image_dir(self.path, image_type, name))
        ]

    def _check_type(self, image_type: str) -> None:
        if not self.listable:
            return  # types cannot be listed: the image's own document decides
        if image_type not in self.image_types():
            raise UnknownImageError(self.path, "image type", image_type, self.image_types())

    def only_image(self, image_type: str) -> str:
        """Name of the one image of a type (what ``name=None`` means).

        Parameters
        ----------
        image_type : str
            The image type (``"raw"``, ``"reconstructed"``, ...).

        Returns
        -------
        str

        Raises
        ------
        UnknownImageError
            If the type does not exist or does not hold exactly one image; the message lists
            those that do.
        """
        self._check_type(image_type)
        names = self.image_names(image_type)
        if len(names) != 1:
            raise UnknownImageError(
                layout.image_type_dir(self.path, image_type),
                f"name=None needs exactly one image of this type, found {len(names)}",
                None,
                names,
            )
        return names[0]

    def image_dir(self, image_type: str, name: str) -> Location:
        """Directory of an existing image.

        Raises
        ------
        UnknownImageError
            If the type or the name does not exist; the message lists those that do.
        """
        self._check_type(image_type)
        directory = layout.image_dir(self.path, image_type, name)
        if not self.listable:
            if not layout.is_image_dir(directory):
                raise UnknownImageError(
                    layout.image_type_dir(self.path, image_type),
                    "image (this store cannot list: the names below are those "
                    "selected.json gives)",
                    name,
                    self._documented_names(image_type),
                )
            return directory
        names = self.image_names(image_type)
        if name not in names:
            raise UnknownImageError(
                layout.image_type_dir(self.path, image_type), "image", name, names
            )
        return directory

    # -- image groups and their level arrays ----------------------------------------------

    def image_attrs(self, image_type: str, name: str) -> ImageAttrs:
        """Return the parsed attributes (``ome`` + ``visor``) of an image group.

        An image in the legacy layout (Zarr v2, flat ``.zattrs``) is parsed into the same
        model (see :func:`~visor_xarray.schema.parse_legacy_image_attrs`).
        """
        return images.read_image_attrs(self.image_dir(image_type, name))

    def levels(self, image_type: str, name: str) -> tuple[str, ...]:
        """Resolution level paths of an image, finest first."""
        return self.image_attrs(image_type, name).multiscale.level_paths

    def level_array(
        self,
        image_type: str,
        name: str,
        level: str | int = 0,
        *,
        writable: bool = False,
        attrs: ImageAttrs | None = None,
        pipeline: str | None = None,
    ) -> SafeArray:
        """Open one resolution level of an image as a ``zarr.Array`` (a :class:`SafeArray`).

        Parameters
        ----------
        image_type, name : str
            The image.
        level : str or int, default 0
            Level path (``"0"``, ``"1"``, ...).
        writable : bool, default False
            Open for writing; refused on a read-only sample. A non-writable array refuses
            writes even through the zarrs pipeline.
        attrs : ImageAttrs, optional
            Already parsed attributes of the image (saves a read).
        pipeline : {"zarrs", "default"}, optional
            Codec pipeline for this array; defaults to the ``codec_pipeline`` option.

        Raises
        ------
        UnknownLevelError
            If the level is not listed in the image's multiscales (the message lists them).
        MetadataError
            If the level's ``zarr.json`` is missing or disagrees with the metadata.
        ValueError
            For a ``pipeline`` other than ``"zarrs"`` and ``"default"``.
        """
        if pipeline is not None:
            check_option("codec_pipeline", pipeline)
        if writable:
            self.require_writable("open an array for writing")
        image = self.image_dir(image_type, name)
        attrs = attrs if attrs is not None else self.image_attrs(image_type, name)
        return images.open_level(image, attrs, level, writable=writable, pipeline=pipeline)

    def create_image(self, image_type: str, name: str, attrs: ImageAttrs, mode: str) -> Path:
        """Create (or, with ``mode='w'``, replace) an image group and register it.

        Parameters
        ----------
        image_type, name : str
            The image.
        attrs : ImageAttrs
            Its metadata (written to the group's ``zarr.json``).
        mode : {"w-", "w", "a", "r+"}
            ``"w-"`` fails if the image exists; ``"w"`` deletes an existing image first;
            ``"a"`` creates or updates the metadata; ``"r+"`` requires the image to exist.

        Returns
        -------
        pathlib.Path
            The image directory.

        Raises
        ------
        TargetExistsError
            With ``mode='w-'`` when the image exists (nothing on disk is touched).
        UnknownImageError
            With ``mode='r+'`` when the image does not exist.
        """
        self.require_writable("create an image")
        if mode not in ("w-", "w", "a", "r+"):
            raise ValueError(f"image mode must be one of 'w-', 'w', 'a', 'r+', got {mode!r}")
        directory = layout.image_dir(self.local_path, image_type, name)
        exists = (directory / "zarr.json").exists()
        if exists and mode == "w-":
            raise TargetExistsError(
                directory,
                "image",
                "mode='w-' refuses to replace it; use mode='w' to overwrite it, "
                "or mode='a' / 'r+' to modify it",
            )
        if not exists and mode == "r+":
            raise UnknownImageError(
                layout.image_type_dir(self.path, image_type),
                "image",
                name,
                layout.scan_image_names(layout.image_type_dir(self.path, image_type)),
            )
        document = images.group_document(attrs)
        json.dumps(document)  # fail on unserialisable metadata before touching the disk
        if exists and mode == "w":
            shutil.rmtree(directory)
        write_json_atomic(directory / "zarr.json", document)
        if image_type == layout.RAW:
            self._select(name, attrs)
        return directory

    def write_image_attrs(self, image_type: str, name: str, attrs: ImageAttrs) -> None:
        """Replace the attributes of an existing image group atomically."""
        self.require_writable("update image metadata")
        self.image_dir(image_type, name)  # it must exist
        directory = layout.image_dir(self.local_path, image_type, name)
        write_json_atomic(directory / "zarr.json", images.group_document(attrs))

    def _select(self, name: str, attrs: ImageAttrs) -> None:
        # read-modify-write of a sample-level document: serialised across writers
        with sample_lock(self.local_path):
            selection = self.selection()
            if selection.get(name) is not None:
                return
            channels = (
                tuple(c.wavelength for c in attrs.visor.channels_by_index()) if attrs.visor else ()
            )
            entry = SelectedImage(name=name, channels=channels)
            self.write_selection(Selection(images=(*selection.images, entry)))

    def create_level(
        self,
        image_type: str,
        name: str,
        level: str | int,
        *,
        shape: Sequence[int],
        dtype: Any,
        chunk_shape: Sequence[int],
        shard_shape: Sequence[int] | None,
        compressors: Any = None,
        attrs: ImageAttrs | None = None,
        overwrite: bool = False,
        pipeline: str | None = None,
        fill_value: Any = 0,
    ) -> SafeArray:
        """Create the array of one resolution level listed in the image's metadata.

        ``fill_value`` (default 0, the format's) is the value of never-written chunks.

        Raises
        ------
        UnknownLevelError
            If the level is not listed in the image's multiscales.
        TargetExistsError
            If the level array exists and ``overwrite`` is False.
        MetadataError
            If ``shape`` disagrees with the axes or the stack/channel lists.
        """
        self.require_writable("create an array")
        self.image_dir(image_type, name)  # it must exist
        image = layout.image_dir(self.local_path, image_type, name)
        attrs = attrs if attrs is not None else self.image_attrs(image_type, name)
        return images.create_level(
            image,
            attrs,
            level,
            shape=shape,
            dtype=dtype,
            chunk_shape=chunk_shape,
            shard_shape=shard_shape,
            compressors=compressors,
            overwrite=overwrite,
            pipeline=pipeline,
            fill_value=fill_value,
        )

    # -- transform versions and their per-slice transform lists --------------------------

    def transform_versions(self) -> list[str]:
        """Transform versions (``visor_recon_transforms/*`` directories), sorted."""
        root = layout.transforms_root(self.path)
        if not self.listable:  # plain HTTP: versions are named by the caller
            return []
        if not root.is_dir():
            return []
        return sorted(e.name for e in root.iterdir() if e.is_dir() and not e.name.startswith("."))

    def version_dir(self, version: str, *, must_exist: bool = True) -> Location:
        """Directory of a transform version.

        Raises
        ------
        UnknownVersionError
            If ``must_exist`` and the version does not exist (the message lists those that do).
        """
        directory = layout.version_dir(self.path, version)
        if must_exist and not directory.is_dir():
            raise UnknownVersionError(
                self.path, "transform version", version, self.transform_versions()
            )
        return directory

    def recon(self, version: str) -> ReconInfo | None:
        """Return the parsed ``recon.json`` of a version, or None if the file is missing."""
        file = self.version_dir(version) / "recon.json"
        if not file.exists():
            return None
        return load_document(file, parse_recon)

    def write_recon(self, version: str, recon: ReconInfo) -> None:
        """Replace ``recon.json`` of a version atomically (creating the version)."""
        self.require_writable("write recon.json")
        write_json_atomic(
            layout.version_dir(self.local_path, version) / "recon.json", recon.to_dict()
        )

    def transform_slices(self, version: str) -> list[str]:
        """Slice directories of a version, sorted."""
        directory = self.version_dir(version)
        if not self.listable:  # plain HTTP: the slices recon.json names
            recon = self.recon(version)
            return sorted(s.name for s in recon.slices) if recon is not None else []
        return sorted(
            e.name for e in directory.iterdir() if e.is_dir() and not e.name.startswith(".")
        )

    def slice_dir(self, version: str, slice_name: str, *, must_exist: bool = True) -> Location:
        """Directory of one slice within a transform version."""
        directory = self.version_dir(version, must_exist=must_exist) / layout.check_name(
            slice_name, "slice name", self.path
        )
        if must_exist and not directory.is_dir():
            raise UnknownImageError(
                self.version_dir(version), "slice", slice_name, self.transform_slices(version)
            )
        return directory

    def transform_list(self, version: str, slice_name: str) -> TransformList:
        """Return the parsed ``transforms.json`` of a slice (empty if the file is missing)."""
        file = self.slice_dir(version, slice_name) / "transforms.json"
        if not file.exists():
            return TransformList()
        return load_document(file, parse_transform_list)

    def write_transform_list(self, version: str, slice_name: str, entries: TransformList) -> None:
        """Replace ``transforms.json`` of a slice atomically."""
        self.require_writable("write transforms.json")
        directory = layout.version_dir(self.local_path, version) / layout.check_name(
            slice_name, "slice name", self.path
        )
        write_json_atomic(directory / "transforms.json", entries.to_json())
