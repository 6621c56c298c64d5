""":class:`VsrStore`: opening (or creating) a sample, combining its document parts."""

from __future__ import annotations

from pathlib import Path

from visor_xarray import layout
from visor_xarray.errors import NotAVsrError
from visor_xarray.store.base import SampleMode
from visor_xarray.store.images import _ImageMixin
from visor_xarray.store.transform_files import _TransformFilesMixin
from visor_xarray.zarr_io.atomic_files import write_json_atomic

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

    Raises
    ------
    NotAVsrError
        If the path does not end in ``.vsr``, is missing (modes ``r``/``r+``), is not a
        directory, or holds neither ``info.json`` nor any ``visor_*_images`` directory.
    """

    def __init__(self, path: str | Path, mode: SampleMode = "r") -> None:
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

    def __repr__(self) -> str:
        return f"VsrStore({str(self.path)!r}, mode={self.mode!r})"

    def _create_skeleton(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        if not (self.path / "info.json").exists():
            write_json_atomic(self.path / "info.json", {})
        selected = layout.image_type_dir(self.path, layout.RAW) / "selected.json"
        if not selected.exists():
            write_json_atomic(selected, [])
