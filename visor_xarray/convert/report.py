"""What :func:`~visor_xarray.copy_sample` reports: :class:`CopyReport`."""

from __future__ import annotations

from dataclasses import dataclass, field

from visor_xarray.zarr_io.remote_path import Location

__all__ = ["CopyReport"]


@dataclass(frozen=True)
class CopyReport:
    """What :func:`copy_sample` did.

    Parameters
    ----------
    source, path : pathlib.Path or RemotePath
        The source sample and the copy (remote ends as their URLs' paths).
    images : tuple of str
        The images copied, as ``TYPE/NAME``.
    converted : tuple of str
        Those converted from the legacy layout.
    levels_copied : int
        Levels copied byte for byte.
    levels_reencoded : int
        Levels re-encoded (new shard, chunk or compressors, or converted).
    shards_written : int
        Shards written by the re-encoded levels.
    files_copied, bytes_copied : int
        Files copied as they are (shards of byte-for-byte levels, transforms, documents)
        and their bytes.
    seconds : float
        Wall time.
    notes : tuple of str
        Remarks (e.g. a Zarr v2 compressor with no Zarr v3 equivalent).
    """

    source: Location
    path: Location
    images: tuple[str, ...]
    converted: tuple[str, ...]
    levels_copied: int
    levels_reencoded: int
    shards_written: int
    files_copied: int
    bytes_copied: int
    seconds: float
    notes: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        converted = f" ({len(self.converted)} converted from the legacy layout)"
        lines = [
            f"copied {self.source} to {self.path} in {self.seconds:.2f} s: "
            f"{len(self.images)} image(s){converted if self.converted else ''}, "
            f"{self.levels_copied} level(s) byte for byte, {self.levels_reencoded} "
            f"re-encoded ({self.shards_written} shards), {self.files_copied} file(s) "
            f"copied ({self.bytes_copied / 2**20:.1f} MiB)",
        ]
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)
