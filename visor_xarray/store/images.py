"""Image groups and their level arrays: attributes, opening, creation and registration."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from visor_xarray import layout
from visor_xarray.errors import (
    MetadataError,
    TargetExistsError,
    UnknownImageError,
    UnknownLevelError,
)
from visor_xarray.options import check_option
from visor_xarray.schema import (
    ImageAttrs,
    SelectedImage,
    Selection,
    check_array_matches,
    parse_image_attrs,
    parse_legacy_image_attrs,
)
from visor_xarray.store.documents import _group_attributes, _load
from visor_xarray.store.sample import _SampleMixin
from visor_xarray.zarr_io.arrays import SafeArray
from visor_xarray.zarr_io.atomic_files import write_json_atomic
from visor_xarray.zarr_io.levels import create_level_array, open_level_array
from visor_xarray.zarr_io.lock import sample_lock

__all__: list[str] = []


class _ImageMixin(_SampleMixin):
    """Image groups (``zarr.json`` attributes) and their resolution-level arrays."""

    def image_attrs(self, image_type: str, name: str) -> ImageAttrs:
        """Return the parsed attributes (``ome`` + ``visor``) of an image group.

        An image in the legacy layout (Zarr v2, flat ``.zattrs``) is parsed into the same
        model (see :func:`~visor_xarray.schema.parse_legacy_image_attrs`).
        """
        directory = self.image_dir(image_type, name)
        if layout.is_legacy_image(directory):
            return _load(directory / ".zattrs", parse_legacy_image_attrs)
        file = directory / "zarr.json"
        try:
            return parse_image_attrs(_group_attributes(file))
        except MetadataError as error:
            raise error.located(file) if error.file is None else error from None

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
            self._require_writable("open an array for writing")
        image = self.image_dir(image_type, name)
        attrs = attrs if attrs is not None else self.image_attrs(image_type, name)
        level = str(level)
        if level not in attrs.multiscale.level_paths:
            raise UnknownLevelError(image, "resolution level", level, attrs.multiscale.level_paths)
        directory = layout.level_dir(image, level)
        document = layout.array_document(directory)
        if not document.is_file():
            raise MetadataError(
                document, "", f"level {level!r} is listed but its array is missing"
            )
        try:
            array = open_level_array(directory, writable=writable, pipeline=pipeline)
        except (ValueError, KeyError, TypeError) as error:
            raise MetadataError(document, "", f"not a readable Zarr array: {error}") from None
        check_array_matches(attrs, array.shape, level, layout.group_document(image))
        return array

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
        self._require_writable("create an image")
        if mode not in ("w-", "w", "a", "r+"):
            raise ValueError(f"image mode must be one of 'w-', 'w', 'a', 'r+', got {mode!r}")
        directory = layout.image_dir(self.path, image_type, name)
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
        document = {"zarr_format": 3, "node_type": "group", "attributes": attrs.to_dict()}
        json.dumps(document)  # fail on unserialisable metadata before touching the disk
        if exists and mode == "w":
            shutil.rmtree(directory)
        write_json_atomic(directory / "zarr.json", document)
        if image_type == layout.RAW:
            self._select(name, attrs)
        return directory

    def write_image_attrs(self, image_type: str, name: str, attrs: ImageAttrs) -> None:
        """Replace the attributes of an existing image group atomically."""
        self._require_writable("update image metadata")
        directory = self.image_dir(image_type, name)
        document = {"zarr_format": 3, "node_type": "group", "attributes": attrs.to_dict()}
        write_json_atomic(directory / "zarr.json", document)

    def _select(self, name: str, attrs: ImageAttrs) -> None:
        # read-modify-write of a sample-level document: serialised across writers
        with sample_lock(self.path):
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
        self._require_writable("create an array")
        image = self.image_dir(image_type, name)
        attrs = attrs if attrs is not None else self.image_attrs(image_type, name)
        level = str(level)
        if level not in attrs.multiscale.level_paths:
            raise UnknownLevelError(image, "resolution level", level, attrs.multiscale.level_paths)
        check_array_matches(attrs, shape, level, image / "zarr.json")
        directory = layout.level_dir(image, level)
        if (directory / "zarr.json").exists() and not overwrite:
            raise TargetExistsError(
                directory, "resolution level array", "pass overwrite=True to replace it"
            )
        return create_level_array(
            directory,
            shape=shape,
            dtype=dtype,
            shard_shape=shard_shape,
            chunk_shape=chunk_shape,
            compressors=compressors,
            dimension_names=[axis.name for axis in attrs.multiscale.axes],
            fill_value=fill_value,
            pipeline=pipeline,
        )
