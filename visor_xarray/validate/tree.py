"""Checks of the sample's tree and its documents: the root entries, ``info.json``, each
image type directory, each image group's ``zarr.json`` (through the schema parsers, tied to
its level arrays), and every ``recon.json``/``transforms.json`` of the transform versions.
"""

from __future__ import annotations

from pathlib import Path

from visor_xarray import layout
from visor_xarray.errors import LEGACY_LAYOUT
from visor_xarray.validate.markers import MarkerChecks
from visor_xarray.validate.shards import ArrayChecks

__all__ = ["DocumentChecks"]


class DocumentChecks(ArrayChecks, MarkerChecks):
    """Walks the sample, parsing every document and checking every image it finds.

    Parameters
    ----------
    store, deep
        As :class:`~visor_xarray.validate.problems.Recorder`.
    """

    def check_root(self) -> None:
        self.check_sample_marker()
        for entry in sorted(self.root.iterdir()):
            if self.skip_hidden(entry):
                continue
            match = layout.IMAGE_DIR_PATTERN.match(entry.name)
            if entry.name.startswith("visor_") and entry.name.endswith("_images"):
                if not match:
                    self.add(
                        entry,
                        "",
                        "not a valid image type directory name "
                        "(visor_{type}_images with a letters/digits type); ignored",
                        "warning",
                    )
                elif not entry.is_dir():
                    self.add(entry, "", "expected an image type directory, found a file")
            elif entry.name == "visor_recon_transforms" and not entry.is_dir():
                self.add(entry, "", "expected the transforms directory, found a file")
            elif entry.name == "info.json" and not entry.is_file():
                self.add(entry, "", "expected the info.json document, found a directory")
        if not (self.root / "info.json").exists():
            self.add(self.root / "info.json", "", "required document is missing")

    def check_type(self, image_type: str) -> None:
        type_dir = layout.image_type_dir(self.root, image_type)
        for entry in sorted(type_dir.iterdir()):
            if self.skip_hidden(entry):
                continue
            if entry.name.endswith(".zarr"):
                if not entry.is_dir():
                    self.add(entry, "", "expected an image directory, found a file")
                    continue
                name = entry.name.removesuffix(".zarr")
                with self.guard(entry):
                    self.check_image(image_type, name, entry)
            elif entry.name == "selected.json" and image_type == layout.RAW:
                continue
            else:
                self.add(
                    entry, "", "unexpected entry in an image type directory (ignored)", "warning"
                )

    def check_image(self, image_type: str, name: str, directory: Path) -> None:
        layout.check_name(name, "image name", directory)
        if not directory.resolve().is_relative_to(self.root.resolve()):
            self.add(
                directory,
                "",
                f"resolves to {directory.resolve()}, outside the sample (symbolic link); refused",
            )
            return
        self.check_write_leftovers(directory)
        document = layout.group_document(directory)
        attrs = self.store.image_attrs(image_type, name)
        if layout.is_legacy_image(directory):
            self.add(
                document,
                "",
                f"{LEGACY_LAYOUT}: readable, but read-only here and unreadable by current "
                "visor-py; convert the sample with visor_xarray.copy_sample (or "
                "`visor-xarray copy`)",
                "warning",
            )
        self.images[(image_type, name)] = attrs
        labelled = [d for d in attrs.multiscale.dims if d in ("vs", "ch")]
        if labelled and attrs.visor is None:
            self.add(
                document,
                "attributes.visor",
                f"missing: the {labelled} axes have no stack/channel labels",
            )
        listed = attrs.multiscale.level_paths
        for level in listed:
            with self.guard(directory / level):
                self.check_level(image_type, name, level, attrs)
        for entry in sorted(directory.iterdir()):
            if entry.name.startswith(".") or entry.name in listed or entry.name == "zarr.json":
                continue
            if entry.name == "slide.tar" and entry.is_file():
                continue  # QA projections of a raw image (schema v2025.5.2+)
            if entry.is_dir() and layout.array_document(entry).is_file():
                self.add(
                    entry,
                    "attributes.ome.multiscales[0].datasets",
                    f"level array {entry.name!r} is present but not listed in {document.name}",
                    "warning",
                )
            else:
                self.add(entry, "", "unexpected entry in an image directory (ignored)", "warning")

    def check_transforms(self) -> None:
        root = layout.transforms_root(self.root)
        if not root.exists():
            return
        if not root.is_dir():
            return  # reported by check_root
        for version in self.store.transform_versions():
            version_dir = root / version
            with self.guard(version_dir / "recon.json"):
                layout.check_name(version, "transform version", root)
                self.store.recon(version)
            with self.guard(version_dir):
                for slice_name in self.store.transform_slices(version):
                    with self.guard(version_dir / slice_name / "transforms.json"):
                        self.store.transform_list(version, slice_name)
