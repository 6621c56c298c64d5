"""The typed records the listings return, which print readably instead of as bare dicts.

:class:`SampleSummary` (from :func:`~visor_xarray.api.info`), :class:`ImageRecord`
(from :func:`~visor_xarray.api.list_image`) and :class:`TransformRecord` (from
:func:`~visor_xarray.api.list_transform`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from visor_xarray.store import Location

__all__ = ["ImageRecord", "SampleSummary", "TransformRecord"]


@dataclass(frozen=True)
class SampleSummary:
    """What :func:`info` reports about a sample."""

    path: Location
    animal_id: str | None
    project_name: str | None
    species: str | None
    subproject_name: str | None
    image_types: tuple[str, ...]
    transform_versions: tuple[str, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    def _items(self) -> list[tuple[str, str]]:
        rows = [
            ("sample", str(self.path)),
            ("animal_id", self.animal_id),
            ("project_name", self.project_name),
            ("species", self.species),
            ("subproject_name", self.subproject_name),
            ("image types", ", ".join(self.image_types) or "(none)"),
            ("transform versions", ", ".join(self.transform_versions) or "(none)"),
        ]
        return [(key, value if value is not None else "-") for key, value in rows]

    def __str__(self) -> str:
        return "\n".join(f"{key:<19} {value}" for key, value in self._items())

    def _repr_html_(self) -> str:
        """A small table for notebooks."""
        from html import escape

        cells = "".join(
            f"<tr><th style='text-align:left'>{escape(key)}</th><td>{escape(value)}</td></tr>"
            for key, value in self._items()
        )
        return f"<table><caption>VISoR sample</caption>{cells}</table>"


@dataclass(frozen=True)
class ImageRecord:
    """One image of a sample, as :func:`list_image` lists it.

    ``selected`` is True/False for raw images (listed in ``selected.json`` or not) and
    None for processed images; ``selected_channels`` are the channels ``selected.json``
    selects.
    """

    type: str
    name: str
    channels: tuple[str, ...]
    levels: tuple[str, ...]
    dims: tuple[str, ...]
    selected: bool | None = None
    selected_channels: tuple[str, ...] = ()

    def __str__(self) -> str:
        flag = {True: " (selected)", False: " (not selected)", None: ""}[self.selected]
        return (
            f"{self.type}/{self.name}{flag}: dims {','.join(self.dims)}; "
            f"channels {', '.join(self.channels) or '-'}; levels {', '.join(self.levels)}"
        )


@dataclass(frozen=True)
class TransformRecord:
    """One transform listed in a slice's ``transforms.json``, with the files found on disk."""

    version: str
    slice: str
    name: str
    type: str
    format: str
    direction: str
    files: tuple[str, ...]

    def __str__(self) -> str:
        stored = f"{len(self.files)} file(s)" if self.files else "no file"
        return (
            f"{self.version}/{self.slice}/{self.name}: {self.type} ({self.format}), "
            f"maps {self.direction}, {stored}"
        )
