"""Check a whole ``.vsr`` sample and list what is wrong with it, without raising.

:func:`validate` reads every metadata document through the schema parsers and the
:class:`~visor_xarray.store.VsrStore`, ties each image's metadata to its level arrays,
checks the cross-references between documents (``selected.json``, ``sources``,
``transform_version``), reports writes that were interrupted (in-progress markers,
leftover scratch directories) and, with ``deep=True``, decodes every shard of every
level. Each finding is a :class:`Problem`; a bad sample never makes it raise.

:func:`resolve_source` is the one place a ``sources[].path`` becomes a filesystem path:
it refuses paths that leave the sample (absolute, ``..``, or through a symbolic link).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import numpy as np

from visor_xarray import layout
from visor_xarray.chunking import grow_chunks
from visor_xarray.errors import CorruptDataError, MetadataError, NotAVsrError, VisorError
from visor_xarray.options import set_options
from visor_xarray.schema import ImageAttrs
from visor_xarray.store import VsrStore
from visor_xarray.zarr_io.corruption import _sharding, shard_index_problem
from visor_xarray.zarr_io.lock import LOCK_FILE
from visor_xarray.zarr_io.markers import (
    WRITE_MARKER,
    marker_is_stale,
    read_write_marker,
    scratch_dirs,
)

__all__ = ["Problem", "Severity", "resolve_source", "validate"]

Severity = Literal["error", "warning"]

#: Bytes decoded at once when ``deep=True`` reads a shard (shards can be far larger).
DEEP_READ_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Problem:
    """One finding of :func:`validate`.

    Parameters
    ----------
    file : pathlib.Path
        The document, directory or shard file concerned.
    field : str
        JSON path of the offending field (``attributes.visor.channels[1]``), or ``""``.
    message : str
        What is wrong, and where useful what to do.
    severity : {"error", "warning"}
        ``"error"``: the sample (or part of it) cannot be read correctly; ``"warning"``:
        readable, but irregular or not standard-compliant.
    """

    file: Path
    field: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.file}: field '{self.field}'" if self.field else f"{self.file}"
        return f"{self.severity}: {where}: {self.message}"


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


class _Checker:
    def __init__(self, store: VsrStore, deep: bool) -> None:
        self.store = store
        self.root = store.path
        self.deep = deep
        self.problems: list[Problem] = []
        self.images: dict[tuple[str, str], ImageAttrs] = {}

    def add(self, file: Path, field: str, message: str, severity: Severity = "error") -> None:
        self.problems.append(Problem(Path(file), field, message, severity))

    @contextlib.contextmanager
    def guard(self, file: Path) -> Iterator[None]:
        """Turn any failure of one check into a problem, so the others still run."""
        try:
            yield
        except MetadataError as error:
            self.add(error.file or file, error.field, error.problem)
        except VisorError as error:
            self.add(file, "", str(error))
        except (OSError, ValueError, UnicodeError) as error:
            self.add(file, "", f"cannot be read: {type(error).__name__}: {error}")
        except Exception as error:  # never raise for a bad sample
            self.add(file, "", f"unexpected {type(error).__name__} (please report): {error}")

    # ---------------------------------------------------------------------- sample

    def run(self) -> list[Problem]:
        with self.guard(self.root):
            self.check_root()
        with self.guard(self.root / "info.json"):
            self.store.info()
        for image_type in self.image_types():
            with self.guard(self.root / f"visor_{image_type}_images"):
                self.check_type(image_type)
        with self.guard(self.store.selection_file()):
            self.check_selection()
        for (image_type, name), attrs in self.images.items():
            with self.guard(layout.image_dir(self.root, image_type, name)):
                self.check_references(image_type, name, attrs)
        with self.guard(layout.transforms_root(self.root)):
            self.check_transforms()
        return self.problems

    def image_types(self) -> list[str]:
        try:
            return self.store.image_types()
        except OSError as error:
            self.add(self.root, "", f"cannot list the sample: {error}")
            return []

    def skip_hidden(self, entry: Path) -> bool:
        """True for a hidden entry (not checked); reports leftover temporary JSON files."""
        if not entry.name.startswith("."):
            return False
        if entry.name.endswith(".tmp"):
            self.add(
                entry,
                "",
                "leftover temporary file of an interrupted JSON write (safe to delete)",
                "warning",
            )
        return True

    def check_root(self) -> None:
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

    # ---------------------------------------------------------------------- images

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
        marker = read_write_marker(directory)
        if marker is not None:
            state = "was interrupted" if marker_is_stale(marker) else "is in progress"
            self.add(
                directory / WRITE_MARKER,
                "",
                f"incomplete image: a write ({marker.get('operation', '?')}, pid "
                f"{marker.get('pid', '?')} on {marker.get('host', '?')}, started "
                f"{marker.get('started', '?')}) {state}; rewrite the image (to_vsr mode='w', "
                "or repeat the region write / add_levels) to repair it",
            )
        for scratch in scratch_dirs(directory):
            self.add(
                scratch,
                "",
                "scratch directory of an interrupted shard commit "
                "(safe to delete when no write is running)",
                "warning",
            )
        document = directory / "zarr.json"
        attrs = self.store.image_attrs(image_type, name)
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
            if entry.is_dir() and (entry / "zarr.json").is_file():
                self.add(
                    entry,
                    "attributes.ome.multiscales[0].datasets",
                    f"level array {entry.name!r} is present but not listed in {document.name}",
                    "warning",
                )
            else:
                self.add(entry, "", "unexpected entry in an image directory (ignored)", "warning")

    def check_level(self, image_type: str, name: str, level: str, attrs: ImageAttrs) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # incomplete images are reported above
            with set_options(validate_checksums=True):
                array = self.store.level_array(
                    image_type, name, level, attrs=attrs, pipeline="zarrs"
                )
        level_doc = layout.image_dir(self.root, image_type, name) / level / "zarr.json"
        names = getattr(array.metadata, "dimension_names", None)
        axes = attrs.multiscale.dims
        if names is None:
            self.add(
                level_doc,
                "dimension_names",
                "missing: OME-Zarr 0.5 requires the axis "
                f"names {list(axes)} here (not compliant, still readable)",
                "warning",
            )
        elif tuple(names) != tuple(a.name for a in attrs.multiscale.axes):
            self.add(
                level_doc,
                "dimension_names",
                f"{list(names)} differ from the axes "
                f"{[a.name for a in attrs.multiscale.axes]} of the image",
                "warning",
            )
        sharding = _sharding(array.metadata)
        if sharding is not None and not any(
            type(c).__name__ == "Crc32cCodec" for c in sharding.index_codecs
        ):
            self.add(
                level_doc,
                "codecs[0].configuration.index_codecs",
                "no crc32c codec: damaged shard indexes cannot be detected",
                "warning",
            )
        if self.deep:
            self.check_shards(array, layout.image_dir(self.root, image_type, name) / level)

    def check_shards(self, array: Any, directory: Path) -> None:
        grid = tuple(int(c) for c in array.metadata.chunk_grid.chunk_shape)
        shape = tuple(int(s) for s in array.shape)
        counts = tuple(-(-s // g) for s, g in zip(shape, grid, strict=True))
        inner = tuple(int(c) for c in array.chunks)
        piece = grow_chunks(inner, grid, shape, array.dtype.itemsize, DEEP_READ_BYTES)
        for coords, file in self.shard_files(array, directory, counts):
            if coords is None:
                self.add(
                    file,
                    "",
                    "stray file among the shards (not a chunk key of this array)",
                    "warning",
                )
                continue
            if file.is_dir():
                self.add(
                    file, "", "a directory where a shard file belongs (the shard cannot be read)"
                )
                continue
            problem = shard_index_problem(file, array.metadata)
            if problem is not None:  # checked first: zarrs may abort on such an index
                self.add(file, "", f"corrupt shard: {problem}")
                continue
            origin = [c * g for c, g in zip(coords, grid, strict=True)]
            extent = [min(g, s - o) for g, s, o in zip(grid, shape, origin, strict=True)]
            steps = [range(0, e, p) for e, p in zip(extent, piece, strict=True)]
            for offset in np.ndindex(*[len(s) for s in steps]):
                starts = [o + s[i] for o, s, i in zip(origin, steps, offset, strict=True)]
                box = tuple(
                    slice(a, min(a + p, o + e))
                    for a, p, o, e in zip(starts, piece, origin, extent, strict=True)
                )
                try:
                    array[box]
                except CorruptDataError as error:
                    cause = error.__cause__ or error
                    self.add(
                        file,
                        "",
                        f"corrupt shard (cannot be decoded): {type(cause).__name__}: {cause}",
                    )
                    break
                except Exception as error:
                    self.add(file, "", f"shard cannot be decoded: {type(error).__name__}: {error}")
                    break

    def shard_files(
        self, array: Any, directory: Path, counts: tuple[int, ...]
    ) -> Iterator[tuple[tuple[int, ...] | None, Path]]:
        metadata = array.metadata
        for file in sorted(directory.rglob("*")):
            if file.name == "zarr.json" or file.name.startswith("."):
                continue
            key = file.relative_to(directory).as_posix()
            coords = None
            for candidate in _key_coords(key, len(counts)):
                if (
                    all(0 <= c < n for c, n in zip(candidate, counts, strict=True))
                    and metadata.encode_chunk_key(candidate) == key
                ):
                    coords = candidate
                    break
            if file.is_dir() and coords is None:
                continue  # an intermediate directory of the key tree
            yield coords, file

    # ------------------------------------------------------------- cross-references

    def check_selection(self) -> None:
        file = self.store.selection_file()
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
        document = layout.image_dir(self.root, image_type, name) / "zarr.json"
        visor = attrs.visor
        if visor is None:
            return
        if visor.transform_version is not None:
            versions = self.store.transform_versions()
            if visor.transform_version not in versions:
                self.add(
                    document,
                    "attributes.visor.transform_version",
                    f"names transform version {visor.transform_version!r}, which does not "
                    f"exist; versions: {versions}",
                    "warning",
                )
        if not visor.sources:
            return
        own = [c.wavelength for c in visor.channels_by_index()]
        source_channels: set[str] = set()
        for index, source in enumerate(visor.sources):
            field = f"attributes.visor.sources[{index}]"
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
                "attributes.visor.channels",
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


def _key_coords(key: str, ndim: int) -> Iterator[tuple[int, ...]]:
    """Candidate grid coordinates of a chunk key (default and v2 encodings, either separator)."""
    for text in (key.removeprefix("c/").removeprefix("c."), key):
        for separator in ("/", "."):
            parts = text.split(separator)
            if len(parts) == ndim and all(p.isdigit() for p in parts):
                yield tuple(int(p) for p in parts)


def validate(path: str | os.PathLike[str], *, deep: bool = False) -> list[Problem]:
    """List what is wrong with a ``.vsr`` sample; never raises for a bad sample.

    Checks: every metadata document against the schema (``info.json``, ``selected.json``,
    each image group's ``zarr.json``, ``recon.json``, ``transforms.json``); each level
    array against its image (listed but missing, present but not listed, axis count vs
    ndim, stack/channel counts vs the ``vs``/``ch`` lengths, missing ``dimension_names``);
    ``selected.json`` naming missing images or channels; ``sources`` naming missing
    images or channels, or paths that leave the sample; interrupted or running writes
    (in-progress markers, scratch directories); files where directories belong and stray
    entries. With ``deep=True`` it also decodes every stored shard of every level
    (``DEEP_READ_BYTES`` at a time) and lists the corrupt ones.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.vsr`` sample directory.
    deep : bool, default False
        Also read every shard (slow: reads all the data).

    Returns
    -------
    list of Problem
        Empty for a valid sample; errors before warnings, each in discovery order.

    Raises
    ------
    NotAVsrError
        Only if ``path`` is not a ``.vsr`` sample at all.

    Examples
    --------
    >>> from visor_xarray.validate import validate
    >>> for problem in validate("BB001.vsr"):  # doctest: +SKIP
    ...     print(problem)
    """
    store = VsrStore(Path(path), "r")
    try:
        problems = _Checker(store, deep).run()
    except NotAVsrError:
        raise
    except Exception as error:  # pragma: no cover - the checker guards every step
        problems = [Problem(store.path, "", f"unexpected {type(error).__name__}: {error}")]
    problems = [p for p in problems if p.file.name != LOCK_FILE]
    return sorted(problems, key=lambda p: p.severity != "error")
