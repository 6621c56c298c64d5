"""Sample-level documents and discovery: ``info.json``, ``selected.json``, image names."""

from __future__ import annotations

from pathlib import Path

from visor_xarray import layout
from visor_xarray.errors import UnknownImageError
from visor_xarray.schema import (
    SampleInfo,
    Selection,
    parse_sample_info,
    parse_selection,
)
from visor_xarray.store.base import _StoreBase
from visor_xarray.store.documents import _load
from visor_xarray.zarr_io.atomic_files import write_json_atomic

__all__: list[str] = []


class _SampleMixin(_StoreBase):
    """``info.json``, the raw-image selection, and the image types and names on disk."""

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
