"""Open modes of samples and images."""

from __future__ import annotations

from typing import Literal

__all__ = ["IMAGE_MODES", "ImageMode", "SampleMode"]

SampleMode = Literal["r", "r+", "a"]
ImageMode = Literal["r", "r+", "a", "w-", "w"]
IMAGE_MODES: tuple[str, ...] = ("r", "r+", "a", "w-", "w")
