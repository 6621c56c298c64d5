"""Files a copy carries as they are: listing them, and copying each one atomically.

Every file is copied into a temporary sibling and renamed onto its name, so a killed copy
never leaves a truncated shard or document (only a ``.tmp`` file that ``validate`` lists);
the rename happens only while the copy still holds the destination's in-progress marker.
New files get the mode a plain ``open()`` gives under the user's umask, whatever the
source's mode (the upstream fixture is read-only, its copy must not be).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from visor_xarray.errors import IncompleteError, MetadataError
from visor_xarray.zarr_io.markers import read_write_marker

__all__ = ["batches", "copy_files", "list_files"]

#: Copy buffer: memory stays bounded whatever the file size.
_BUFFER = 2**20
#: Files per copy task, and bytes per task, so that progress and threads see many tasks.
_TASK_FILES = 256
_TASK_BYTES = 256 * 2**20


def list_files(path: Path, root: Path) -> Iterator[Path]:
    """Every regular file at or below ``path`` that a copy carries, sorted per directory.

    Hidden entries below ``path`` (names starting with ``.``) are left out: they are
    bookkeeping of this library (locks, in-progress markers, scratch directories,
    temporary files) or, in the legacy layout, the Zarr v2 documents a conversion
    replaces.

    Parameters
    ----------
    path : pathlib.Path
        A file, or a directory to walk.
    root : pathlib.Path
        The source sample: symbolic links must resolve inside it.

    Yields
    ------
    pathlib.Path

    Raises
    ------
    MetadataError
        For a symbolic link that leaves the sample (nothing is copied through it).
    """
    if path.is_symlink() and not path.resolve().is_relative_to(root.resolve()):
        raise MetadataError(
            path,
            "",
            f"symbolic link to {path.resolve()}, outside the sample; copy_sample does not "
            "follow links out of the sample",
        )
    if path.is_file():
        yield path
    elif path.is_dir():
        for entry in sorted(path.iterdir()):
            if not entry.name.startswith("."):
                yield from list_files(entry, root)


def batches(
    pairs: Sequence[tuple[Path, Path]],
) -> Iterator[list[tuple[Path, Path]]]:
    """Split ``(source, target)`` pairs into copy tasks of bounded count and size."""
    batch: list[tuple[Path, Path]] = []
    size = 0
    for source, target in pairs:
        batch.append((source, target))
        size += source.stat().st_size
        if len(batch) >= _TASK_FILES or size >= _TASK_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _check_marker(root: Path, token: str) -> None:
    marker = read_write_marker(root)
    if marker is None or marker.get("token") != token or marker.get("state") != "writing":
        raise IncompleteError(
            root,
            "the copy this file belongs to has failed or was taken over; the file was not "
            "committed",
        )


def copy_files(pairs: Sequence[tuple[Path, Path]], root: Path, token: str) -> int:
    """Copy files atomically (temporary sibling, then rename); return the bytes copied.

    Parameters
    ----------
    pairs : sequence of (pathlib.Path, pathlib.Path)
        Source and target of each file; target directories are created.
    root : pathlib.Path
        The destination sample, whose in-progress marker must still hold ``token``.
    token : str
        The marker's token.

    Returns
    -------
    int
    """
    copied = 0
    for source, target in pairs:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.tmp"
        try:
            # "xb": a new file with the mode open() gives under the umask (not the source's)
            with open(source, "rb") as reader, open(temporary, "xb") as writer:
                shutil.copyfileobj(reader, writer, _BUFFER)
                copied += writer.tell()
            _check_marker(root, token)
            temporary.replace(target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    return copied
