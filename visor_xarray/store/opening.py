"""Opening a sample directory: the checks, the skeleton of a new sample, the warnings."""

from __future__ import annotations

import warnings
from pathlib import Path

from visor_xarray import layout
from visor_xarray.errors import (
    LEGACY_LAYOUT,
    LegacyLayoutError,
    LegacyLayoutWarning,
    NotAVsrError,
    VisorWarning,
)
from visor_xarray.zarr_io.atomic_files import write_json_atomic
from visor_xarray.zarr_io.markers import foreign_write_marker, marker_is_stale
from visor_xarray.zarr_io.remote_path import Location, RemotePath

__all__ = ["open_sample_dir"]

# warnings point at the caller of whatever built the VsrStore, as before the split:
# open_sample_dir (1) <- VsrStore.__init__ (2) <- VsrStore() (3) <- its caller (4).
_CALLER_FRAME = 4


def open_sample_dir(path: Location, mode: str, *, warn_legacy: bool) -> bool:
    """Check (and with mode ``"a"`` create) a sample directory before it is used.

    Parameters
    ----------
    path : pathlib.Path
        The sample directory.
    mode : {"r", "r+", "a"}
        The open mode; ``"a"`` creates an empty sample if there is none.
    warn_legacy : bool
        Warn when the sample has the legacy layout.

    Returns
    -------
    bool
        True when images of the sample are stored in the legacy layout.

    Raises
    ------
    NotAVsrError
        If the path is not a sample (see :class:`~visor_xarray.store.VsrStore`).
    LegacyLayoutError
        With mode ``"r+"`` or ``"a"`` on a sample in the legacy layout.
    """
    if path.suffix != ".vsr":
        raise NotAVsrError(path, "not a .vsr sample (the directory name must end in .vsr)")
    if isinstance(path, RemotePath):
        _check_remote(path)
        # plain HTTP cannot list: legacy images are then recognised as they are opened
        legacy = path.listable and bool(layout.scan_legacy_images(path))
        if legacy and warn_legacy:
            _warn_legacy(path)
        _warn_if_incomplete(path)
        return legacy
    if not path.exists():
        if mode != "a":
            raise NotAVsrError(path, "no such sample directory")
        _create_skeleton(path)
    if not path.is_dir():
        raise NotAVsrError(path, "not a directory (a .vsr sample is a directory)")
    if not (path / "info.json").exists() and not layout.scan_image_types(path):
        if mode == "a" and not any(path.iterdir()):
            _create_skeleton(path)
        else:
            raise NotAVsrError(
                path, "not a .vsr sample: it has no info.json and no visor_*_images"
            )
    legacy = bool(layout.scan_legacy_images(path))
    if legacy and mode != "r":
        raise LegacyLayoutError(path, f"open it with mode={mode!r}")
    if legacy and warn_legacy:
        _warn_legacy(path)
    _warn_if_incomplete(path)
    return legacy


def _check_remote(path: RemotePath) -> None:
    """Refuse a URL that holds no sample (a missing bucket or server fails here too)."""
    known = (path / "info.json").is_file() or (
        path / "visor_raw_images" / "selected.json"
    ).is_file()
    if known:
        return
    if path.listable and path.is_dir():
        if not layout.scan_image_types(path):
            raise NotAVsrError(
                path, "not a .vsr sample: it has no info.json and no visor_*_images"
            )
        return
    raise NotAVsrError(path, "no such sample (no info.json or selected.json at this URL)")


def _warn_legacy(path: Location) -> None:
    warnings.warn(
        f"{path}: {LEGACY_LAYOUT}; read-only here, and current visor-py cannot "
        "read it. Convert it with visor_xarray.copy_sample(src, dst) "
        "(or `visor-xarray copy SRC DST`).",
        LegacyLayoutWarning,
        stacklevel=_CALLER_FRAME + 1,
    )


def _warn_if_incomplete(path: Location) -> None:
    """Warn when the sample holds the in-progress marker of a copy that is not ours."""
    marker = foreign_write_marker(path)
    if marker is None:
        return
    state = "was interrupted" if marker_is_stale(marker) else "is in progress"
    warnings.warn(
        f"{path}: a copy into this sample ({marker.get('operation', '?')} from "
        f"{marker.get('source', '?')}, pid {marker.get('pid', '?')} on "
        f"{marker.get('host', '?')}, started {marker.get('started', '?')}) {state}; the "
        "sample may be incomplete. Repeat the copy with overwrite=True to repair it.",
        VisorWarning,
        stacklevel=_CALLER_FRAME + 1,
    )


def _create_skeleton(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if not (path / "info.json").exists():
        write_json_atomic(path / "info.json", {})
    selected = layout.image_type_dir(path, layout.RAW) / "selected.json"
    if not selected.exists():
        write_json_atomic(selected, [])
