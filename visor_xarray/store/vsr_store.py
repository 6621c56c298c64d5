""":class:`VsrStore`: opening (or creating) a sample, combining its document parts."""

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
from visor_xarray.store.base import SampleMode
from visor_xarray.store.images import _ImageMixin
from visor_xarray.store.transform_files import _TransformFilesMixin
from visor_xarray.zarr_io.atomic_files import write_json_atomic
from visor_xarray.zarr_io.markers import _ACTIVE_TOKENS, marker_is_stale, read_write_marker

__all__ = ["VsrStore"]


class VsrStore(_ImageMixin, _TransformFilesMixin):
    """A ``.vsr`` sample directory.

    Parameters
    ----------
    path : str or pathlib.Path
        The sample directory; its name must end in ``.vsr``.
    mode : {"r", "r+", "a"}, default "r"
        ``"r"`` read only; ``"r+"`` read and write, the sample must exist; ``"a"`` read and
        write, creating an empty sample (``info.json``, ``visor_raw_images/selected.json``)
        if there is none.
    warn_legacy : bool, default True
        Warn (:class:`~visor_xarray.errors.LegacyLayoutWarning`) when the sample has the
        legacy layout of visor-py 2024.12.x; callers that convert it turn this off.

    Attributes
    ----------
    legacy : bool
        True when images of the sample are stored in the legacy layout (Zarr v2, flat
        attributes): they are read like current ones, and the sample is read-only.

    Raises
    ------
    NotAVsrError
        If the path does not end in ``.vsr``, is missing (modes ``r``/``r+``), is not a
        directory, or holds neither ``info.json`` nor any ``visor_*_images`` directory.
    LegacyLayoutError
        With mode ``"r+"`` or ``"a"`` on a sample in the legacy layout.

    Warns
    -----
    LegacyLayoutWarning
        When a sample in the legacy layout is opened (unless ``warn_legacy=False``).
    VisorWarning
        When a copy into the sample (:func:`visor_xarray.copy_sample`) was interrupted or
        is still running: the sample may be incomplete.
    """

    def __init__(
        self, path: str | Path, mode: SampleMode = "r", *, warn_legacy: bool = True
    ) -> None:
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
        self.legacy = bool(layout.scan_legacy_images(self.path))
        if self.legacy and mode != "r":
            raise LegacyLayoutError(self.path, f"open it with mode={mode!r}")
        if self.legacy and warn_legacy:
            warnings.warn(
                f"{self.path}: {LEGACY_LAYOUT}; read-only here, and current visor-py cannot "
                "read it. Convert it with visor_xarray.copy_sample(src, dst) "
                "(or `visor-xarray copy SRC DST`).",
                LegacyLayoutWarning,
                stacklevel=3,
            )
        self._warn_if_incomplete()

    def __repr__(self) -> str:
        return f"VsrStore({str(self.path)!r}, mode={self.mode!r})"

    def _warn_if_incomplete(self) -> None:
        """Warn when the sample holds the in-progress marker of a copy that is not ours."""
        marker = read_write_marker(self.path)
        if marker is None or marker.get("token") in _ACTIVE_TOKENS:
            return
        state = "was interrupted" if marker_is_stale(marker) else "is in progress"
        warnings.warn(
            f"{self.path}: a copy into this sample ({marker.get('operation', '?')} from "
            f"{marker.get('source', '?')}, pid {marker.get('pid', '?')} on "
            f"{marker.get('host', '?')}, started {marker.get('started', '?')}) {state}; the "
            "sample may be incomplete. Repeat the copy with overwrite=True to repair it.",
            VisorWarning,
            stacklevel=4,
        )

    def _create_skeleton(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        if not (self.path / "info.json").exists():
            write_json_atomic(self.path / "info.json", {})
        selected = layout.image_type_dir(self.path, layout.RAW) / "selected.json"
        if not selected.exists():
            write_json_atomic(selected, [])
