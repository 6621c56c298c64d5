"""Checks for the leftovers of interrupted writes: in-progress markers, scratch
directories of shard commits, temporary files of JSON writes.
"""

from __future__ import annotations

from pathlib import Path

from visor_xarray.validate.problems import Recorder
from visor_xarray.zarr_io.markers import (
    WRITE_MARKER,
    marker_is_stale,
    read_write_marker,
    scratch_dirs,
)

__all__ = ["MarkerChecks"]


class MarkerChecks(Recorder):
    """Reports interrupted or running writes and the files they left behind.

    Parameters
    ----------
    store, deep
        As :class:`~visor_xarray.validate.problems.Recorder`.
    """

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

    def check_write_leftovers(self, directory: Path) -> None:
        """Report an image's in-progress marker and the scratch directories of its shards."""
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

    def check_sample_marker(self) -> None:
        """Report the in-progress marker a copy into the sample holds (``copy_sample``)."""
        marker = read_write_marker(self.root)
        if marker is None:
            return
        state = "was interrupted" if marker_is_stale(marker) else "is in progress"
        self.add(
            self.root / WRITE_MARKER,
            "",
            f"incomplete sample: a copy ({marker.get('operation', '?')} from "
            f"{marker.get('source', '?')}, pid {marker.get('pid', '?')} on "
            f"{marker.get('host', '?')}, started {marker.get('started', '?')}) {state}; "
            "repeat the copy with overwrite=True to repair it",
        )
