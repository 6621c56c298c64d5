"""Transform versions on disk: ``recon.json``, slice directories and ``transforms.json``."""

from __future__ import annotations

from pathlib import Path

from visor_xarray import layout
from visor_xarray.errors import UnknownImageError, UnknownVersionError
from visor_xarray.schema import (
    ReconInfo,
    TransformList,
    parse_recon,
    parse_transform_list,
)
from visor_xarray.store.base import _StoreBase
from visor_xarray.store.documents import _load
from visor_xarray.zarr_io.atomic_files import write_json_atomic

__all__: list[str] = []


class _TransformFilesMixin(_StoreBase):
    """The versions of ``visor_recon_transforms`` and their per-slice transform lists."""

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
