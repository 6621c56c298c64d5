"""Open modes of samples and images, and the state every part of :class:`VsrStore` shares.

:class:`_StoreBase` declares the sample path and mode and the write guard; the parts of
:class:`~visor_xarray.store.VsrStore` (sample, image and transform documents) build on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from visor_xarray.errors import ReadOnlyError

__all__ = ["IMAGE_MODES", "ImageMode", "SampleMode"]

SampleMode = Literal["r", "r+", "a"]
ImageMode = Literal["r", "r+", "a", "w-", "w"]
IMAGE_MODES: tuple[str, ...] = ("r", "r+", "a", "w-", "w")


class _StoreBase:
    """The sample directory and open mode, and the write guard."""

    path: Path
    mode: SampleMode

    @property
    def writable(self) -> bool:
        """True unless the sample was opened with ``mode='r'``."""
        return self.mode != "r"

    def _require_writable(self, action: str) -> None:
        if not self.writable:
            raise ReadOnlyError(self.path, action)
