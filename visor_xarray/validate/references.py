"""Checks of the cross-references between documents: ``selected.json`` against the raw
images, ``sources`` and ``transform_version`` of each image against the sample.

:func:`resolve_source` is the one place a ``sources[].path`` becomes a filesystem path:
it refuses paths that leave the sample (absolute, ``..``, or through a symbolic link).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from visor_xarray import layout
from visor_xarray.errors import MetadataError
from visor_xarray.schema import ImageAttrs
from visor_xarray.validate.problems import Recorder

__all__ = ["ReferenceChecks", "resolve_source"]


def resolve_source(root: str | os.PathLike[str], source: object, field: str = "path") -> Path:
    """Return the directory a ``sources[].path`` names, refusing paths that leave the sample.

    Parameters
    ----------
    root : str or os.PathLike
        The ``.vsr`` sample directory.
    source : object
        The ``path`` value of a ``sources`` entry, relative to the sample root
        (e.g. ``"visor_raw_images/slice_1_10x.zarr"``).
    field : str, default "path"
        JSON path of the value, for the message.

    Returns
    -------
    pathlib.Path
        ``root / source`` (not resolved; it may not exist).

    Raises
    ------
    MetadataError
        If ``source`` is not a non-empty string, is absolute, contains ``..`` or empty
        components, or resolves (through symbolic links) outside the sample.
    """
    base = Path(root)
    if not isinstance(source, str) or not source.strip() or "\x00" in source:
        raise MetadataError(None, field, f"{source!r} is not a relative path inside the sample")
    parts = PurePosixPath(source.replace("\\", "/")).parts
    if source.startswith(("/", "\\")) or (parts and (parts[0].endswith(":") or parts[0] == "/")):
        raise MetadataError(
            None, field, f"{source!r} is an absolute path; sources must be relative to the sample"
        )
    if any(part in ("..", "") for part in parts):
        raise MetadataError(None, field, f"{source!r} leaves the sample directory ('..')")
    target = base.joinpath(*parts)
    try:
        inside = target.resolve().is_relative_to(base.resolve())
    except (OSError, RuntimeError) as error:  # symlink loops
        raise MetadataError(None, field, f"{source!r} cannot be resolved: {error}") from None
    if not inside:
        raise MetadataError(
            None,
            field,
            f"{source!r} resolves to {target.resolve()}, outside the sample (symbolic link)",
        )
    return target


class ReferenceChecks(Recorder):
    """Checks what the documents name (images, channels, sources, versions) exists.

    Parameters
    ----------
    store, deep
        As :class:`~visor_xarray.validate.problems.Recorder`.
    """

    def check_selection(self) -> None:
        file = layout.image_type_dir(self.root, layout.RAW) / "selected.json"
        if not file.exists():
            return
        selection = self.store.selection()
        raw = {name: attrs for (t, name), attrs in self.images.items() if t == layout.RAW}
        on_disk = set(layout.scan_image_names(layout.image_type_dir(self.root, layout.RAW)))
        for index, entry in enumerate(selection.images):
            field = f"[{index}]"
            if entry.name not in on_disk:
                self.add(
                    file,
                    f"{field}.name",
                    f"selects image {entry.name!r}, which does not "
                    f"exist; raw images: {sorted(on_disk)}",
                )
                continue
            attrs = raw.get(entry.name)
            if attrs is None or attrs.visor is None:
                continue
            have = [c.wavelength for c in attrs.visor.channels_by_index()]
            missing = [c for c in entry.channels if c not in have]
            if missing:
                self.add(
                    file,
                    f"{field}.channels",
                    f"selects channels {missing} that image "
                    f"{entry.name!r} does not have; it has {have}",
                )

    def check_references(self, image_type: str, name: str, attrs: ImageAttrs) -> None:
        directory = layout.image_dir(self.root, image_type, name)
        document = layout.group_document(directory)
        # the legacy layout keeps the VISoR fields at the top of a flat .zattrs
        block = "" if layout.is_legacy_image(directory) else "attributes.visor."
        visor = attrs.visor
        if visor is None:
            return
        if visor.transform_version is not None:
            versions = self.store.transform_versions()
            if visor.transform_version not in versions:
                self.add(
                    document,
                    f"{block}transform_version",
                    f"names transform version {visor.transform_version!r}, which does not "
                    f"exist; versions: {versions}",
                    "warning",
                )
        if not visor.sources:
            return
        own = [c.wavelength for c in visor.channels_by_index()]
        source_channels: set[str] = set()
        for index, source in enumerate(visor.sources):
            field = f"{block}sources[{index}]"
            try:
                target = resolve_source(self.root, source.path, f"{field}.path")
            except MetadataError as error:
                self.add(document, error.field, f"refused: {error.problem}")
                continue
            source_channels.update(source.channels)
            found = self.source_image(target)
            if found is None:
                self.add(
                    document,
                    f"{field}.path",
                    f"source {source.path!r} is not an image of this sample",
                    "warning",
                )
                continue
            have = [c.wavelength for c in found.visor.channels_by_index()] if found.visor else []
            missing = [c for c in source.channels if c not in have]
            if missing:
                self.add(
                    document,
                    f"{field}.channels",
                    f"source {source.path!r} has no channel(s) {missing}; it has {have}",
                    "warning",
                )
        unmatched = [c for c in own if c not in source_channels]
        if source_channels and unmatched:
            self.add(
                document,
                f"{block}channels",
                f"channel(s) {unmatched} of this image appear in none of its sources' "
                f"channels {sorted(source_channels)}",
                "warning",
            )

    def source_image(self, target: Path) -> ImageAttrs | None:
        match = layout.IMAGE_DIR_PATTERN.match(target.parent.name)
        if (
            not match
            or target.parent.parent.resolve() != self.root.resolve()
            or target.suffix != ".zarr"
        ):
            return None
        return self.images.get((match["type"], target.name.removesuffix(".zarr")))
