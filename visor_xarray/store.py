"""A ``.vsr`` sample on disk: discovery, metadata documents, level arrays, transform files.

:class:`VsrStore` is the only code that reads or writes the sample's files (through
:mod:`visor_xarray.zarr_io` for arrays and atomic JSON); everything above it works with
the typed schema models it returns.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import zarr

from visor_xarray import layout
from visor_xarray.errors import (
    MetadataError,
    NotAVsrError,
    ReadOnlyError,
    TargetExistsError,
    UnknownImageError,
    UnknownLevelError,
    UnknownVersionError,
)
from visor_xarray.schema import (
    ImageAttrs,
    ReconInfo,
    SampleInfo,
    SelectedImage,
    Selection,
    TransformList,
    check_array_matches,
    parse_image_attrs,
    parse_recon,
    parse_sample_info,
    parse_selection,
    parse_transform_list,
)
from visor_xarray.zarr_io.atomic_files import read_json, write_json_atomic
from visor_xarray.zarr_io.levels import create_level_array, open_level_array
from visor_xarray.zarr_io.lock import sample_lock

__all__ = ["ImageMode", "SampleMode", "VsrStore"]

T = TypeVar("T")
SampleMode = Literal["r", "r+", "a"]
ImageMode = Literal["r", "r+", "a", "w-", "w"]
IMAGE_MODES: tuple[str, ...] = ("r", "r+", "a", "w-", "w")


def _load(path: Path, parse: Callable[[Any], T]) -> T:
    """Read and parse one JSON document, attributing every problem to ``path``."""
    try:
        value = read_json(path)
    except FileNotFoundError:
        raise MetadataError(path, "", "required document is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise MetadataError(path, "", f"not valid JSON: {error}") from None
    try:
        return parse(value)
    except MetadataError as error:
        raise error.located(path) from None


def _group_attributes(path: Path) -> Any:
    """Return the ``attributes`` of a Zarr v3 group document, checking its header."""
    try:
        document = read_json(path)
    except FileNotFoundError:
        raise MetadataError(path, "", "image group document zarr.json is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise MetadataError(path, "", f"not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise MetadataError(path, "", "expected a JSON object")
    if document.get("zarr_format") != 3:
        raise MetadataError(
            path, "zarr_format", f"expected 3 (Zarr v3), got {document.get('zarr_format')!r}"
        )
    if document.get("node_type") != "group":
        raise MetadataError(
            path, "node_type", f"expected 'group', got {document.get('node_type')!r}"
        )
    return document.get("attributes", {})


class VsrStore:
    """A ``.vsr`` sample directory.

    Parameters
    ----------
    path : str or pathlib.Path
        The sample directory; its name must end in ``.vsr``.
    mode : {"r", "r+", "a"}, default "r"
        ``"r"`` read only; ``"r+"`` read and write, the sample must exist; ``"a"`` read and
        write, creating an empty sample (``info.json``, ``visor_raw_images/selected.json``)
        if there is none.

    Raises
    ------
    NotAVsrError
        If the path does not end in ``.vsr``, is missing (modes ``r``/``r+``), is not a
        directory, or holds neither ``info.json`` nor any ``visor_*_images`` directory.
    """

    def __init__(self, path: str | Path, mode: SampleMode = "r") -> None:
        if mode not in ("r", "r+", "a"):
            raise ValueError(f"sample mode must be 'r', 'r+' or 'a', got {mode!r}")
        self.path = Path(path)
        self.mode = mode
        if self.path.suffix != ".vsr":
            raise NotAVsrError(
                self.path, "not a .vsr sample (the directory name must end in .vsr)"
            )
        if not self.path.exists():
            if mode != "a":
                raise NotAVsrError(self.path, "no such sample directory")
            self._create_skeleton()
        if not self.path.is_dir():
            raise NotAVsrError(self.path, "not a directory (a .vsr sample is a directory)")
        if not (self.path / "info.json").exists() and not layout.scan_image_types(self.path):
            if mode == "a" and not any(self.path.iterdir()):
                self._create_skeleton()
            else:
                raise NotAVsrError(
                    self.path, "not a .vsr sample: it has no info.json and no visor_*_images"
                )

    def __repr__(self) -> str:
        return f"VsrStore({str(self.path)!r}, mode={self.mode!r})"

    @property
    def writable(self) -> bool:
        """True unless the sample was opened with ``mode='r'``."""
        return self.mode != "r"

    def _require_writable(self, action: str) -> None:
        if not self.writable:
            raise ReadOnlyError(self.path, action)

    def _create_skeleton(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        if not (self.path / "info.json").exists():
            write_json_atomic(self.path / "info.json", {})
        selected = layout.image_type_dir(self.path, layout.RAW) / "selected.json"
        if not selected.exists():
            write_json_atomic(selected, [])

    # ------------------------------------------------------------------ sample level

    def info(self) -> SampleInfo:
        """Return the parsed ``info.json``.

        Raises
        ------
        MetadataError
            If ``info.json`` is missing, not JSON, or breaks the schema.
        """
        return _load(self.path / "info.json", parse_sample_info)

    def write_info(self, info: SampleInfo) -> None:
        """Replace ``info.json`` atomically."""
        self._require_writable("write info.json")
        write_json_atomic(self.path / "info.json", info.to_dict())

    def image_types(self) -> list[str]:
        """Image types present (``visor_{type}_images`` directories), raw first."""
        return layout.scan_image_types(self.path)

    def selection_file(self) -> Path:
        """Path of ``visor_raw_images/selected.json``."""
        return layout.image_type_dir(self.path, layout.RAW) / "selected.json"

    def selection(self) -> Selection:
        """Return the parsed ``selected.json`` (empty if the file does not exist)."""
        file = self.selection_file()
        if not file.exists():
            return Selection()
        return _load(file, parse_selection)

    def write_selection(self, selection: Selection) -> None:
        """Replace ``selected.json`` atomically."""
        self._require_writable("write selected.json")
        write_json_atomic(self.selection_file(), selection.to_json())

    def image_names(self, image_type: str) -> list[str]:
        """Names of the images of one type that exist on disk.

        Raw images come in ``selected.json`` order first, then unselected ones (sorted);
        :meth:`selection` tells which are selected.
        """
        on_disk = layout.scan_image_names(layout.image_type_dir(self.path, image_type))
        if image_type != layout.RAW:
            return on_disk
        selected = [name for name in self.selection().names() if name in on_disk]
        return selected + [name for name in on_disk if name not in selected]

    def _check_type(self, image_type: str) -> None:
        if image_type not in self.image_types():
            raise UnknownImageError(self.path, "image type", image_type, self.image_types())

    def image_dir(self, image_type: str, name: str) -> Path:
        """Directory of an existing image.

        Raises
        ------
        UnknownImageError
            If the type or the name does not exist; the message lists those that do.
        """
        self._check_type(image_type)
        names = self.image_names(image_type)
        if name not in names:
            raise UnknownImageError(
                layout.image_type_dir(self.path, image_type), "image", name, names
            )
        return layout.image_dir(self.path, image_type, name)

    # ------------------------------------------------------------------- image level

    def image_attrs(self, image_type: str, name: str) -> ImageAttrs:
        """Return the parsed attributes (``ome`` + ``visor``) of an image group."""
        file = self.image_dir(image_type, name) / "zarr.json"
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
    ) -> zarr.Array:  # type: ignore[type-arg]
        """Open one resolution level of an image as a ``zarr.Array``.

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
        """
        if writable:
            self._require_writable("open an array for writing")
        image = self.image_dir(image_type, name)
        attrs = attrs if attrs is not None else self.image_attrs(image_type, name)
        level = str(level)
        if level not in attrs.multiscale.level_paths:
            raise UnknownLevelError(image, "resolution level", level, attrs.multiscale.level_paths)
        directory = layout.level_dir(image, level)
        if not (directory / "zarr.json").is_file():
            raise MetadataError(
                directory / "zarr.json", "", f"level {level!r} is listed but its array is missing"
            )
        try:
            array = open_level_array(directory, writable=writable, pipeline=pipeline)
        except (ValueError, KeyError, TypeError) as error:
            raise MetadataError(
                directory / "zarr.json", "", f"not a readable Zarr v3 array: {error}"
            ) from None
        check_array_matches(attrs, array.shape, level, image / "zarr.json")
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
    ) -> zarr.Array:  # type: ignore[type-arg]
        """Create the array of one resolution level listed in the image's metadata.

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
            pipeline=pipeline,
        )

    # -------------------------------------------------------------------- transforms

    def transform_versions(self) -> list[str]:
        """Transform versions (``visor_recon_transforms/*`` directories), sorted."""
        root = layout.transforms_root(self.path)
        if not root.is_dir():
            return []
        return sorted(e.name for e in root.iterdir() if e.is_dir() and not e.name.startswith("."))

    def version_dir(self, version: str, *, must_exist: bool = True) -> Path:
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
        return _load(file, parse_recon)

    def write_recon(self, version: str, recon: ReconInfo) -> None:
        """Replace ``recon.json`` of a version atomically (creating the version)."""
        self._require_writable("write recon.json")
        write_json_atomic(
            self.version_dir(version, must_exist=False) / "recon.json", recon.to_dict()
        )

    def transform_slices(self, version: str) -> list[str]:
        """Slice directories of a version, sorted."""
        directory = self.version_dir(version)
        return sorted(
            e.name for e in directory.iterdir() if e.is_dir() and not e.name.startswith(".")
        )

    def slice_dir(self, version: str, slice_name: str, *, must_exist: bool = True) -> Path:
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
        return _load(file, parse_transform_list)

    def write_transform_list(self, version: str, slice_name: str, entries: TransformList) -> None:
        """Replace ``transforms.json`` of a slice atomically."""
        self._require_writable("write transforms.json")
        directory = self.slice_dir(version, slice_name, must_exist=False)
        write_json_atomic(directory / "transforms.json", entries.to_json())
