"""Typed, immutable models of every JSON document of the ``.vsr`` format.

No I/O here: the ``parse_*`` functions of :mod:`visor_xarray.schema` turn untrusted JSON
into these models, and each model's ``to_dict`` turns it back into JSON exactly as visor-py
writes it. Keys the models do not know are kept in ``extra`` and written back, so nothing is
lost on a round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from visor_xarray.errors import UnknownLabelError

__all__ = [
    "AXIS_TYPE_DIMS",
    "CHANNEL_FIELD_UNITS",
    "Axis",
    "Channel",
    "ImageAttrs",
    "Level",
    "Multiscale",
    "OmeAttrs",
    "ReconInfo",
    "ReconSlice",
    "SampleInfo",
    "SelectedImage",
    "Selection",
    "Source",
    "TransformEntry",
    "TransformList",
    "VisorAttrs",
    "VisorStack",
]

JSONDict = dict[str, Any]

#: Dimension name given to an axis of each non-space type (legacy ``s``/``c`` map here too).
AXIS_TYPE_DIMS: Mapping[str, str] = {"visor_stack": "vs", "channel": "ch"}

#: Units of the channel acquisition fields (schema §3.4), spelled as pint understands them.
CHANNEL_FIELD_UNITS: Mapping[str, str] = {
    "power": "milliwatt",
    "exposure": "millisecond",
    "max_volts": "volt",
    "volts_offset": "volt",
    "velocity": "millimeter / second",
    "move_y": "millimeter",
    "pixel_size": "micrometer",
    "roi": "millimeter",
}


def _with_extra(known: JSONDict, extra: Mapping[str, Any]) -> JSONDict:
    out = {k: v for k, v in known.items() if v is not None}
    out.update(extra)
    return out


@dataclass(frozen=True, kw_only=True)
class SampleInfo:
    """``info.json``: who and what the sample is. Every field is optional."""

    animal_id: str | None = None
    project_name: str | None = None
    species: str | None = None
    subproject_name: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> JSONDict:
        """Return the JSON object of ``info.json``."""
        return _with_extra(
            {
                "animal_id": self.animal_id,
                "project_name": self.project_name,
                "species": self.species,
                "subproject_name": self.subproject_name,
            },
            self.extra,
        )


@dataclass(frozen=True, kw_only=True)
class SelectedImage:
    """One entry of ``visor_raw_images/selected.json``."""

    name: str
    channels: tuple[str, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> JSONDict:
        """Return the JSON object of this entry (current schema: ``name``, not ``path``)."""
        return _with_extra({"name": self.name, "channels": list(self.channels)}, self.extra)


@dataclass(frozen=True, kw_only=True)
class Selection:
    """``selected.json``: which raw images (and channels) are selected.

    ``placeholder`` holds the ``{"_comment": ...}`` object visor-py writes before any image
    is selected; it is written back as long as nothing is selected.
    """

    images: tuple[SelectedImage, ...] = ()
    placeholder: Mapping[str, Any] | None = None

    def to_json(self) -> Any:
        """Return the JSON value of ``selected.json`` (an array, or the placeholder)."""
        if not self.images and self.placeholder is not None:
            return dict(self.placeholder)
        return [image.to_dict() for image in self.images]

    def names(self) -> tuple[str, ...]:
        """Names of the selected images, in file order."""
        return tuple(image.name for image in self.images)

    def get(self, name: str) -> SelectedImage | None:
        """Return the entry for image ``name``, or None."""
        return next((image for image in self.images if image.name == name), None)


@dataclass(frozen=True, kw_only=True)
class Axis:
    """One OME axis: ``name``, ``type`` (``space``, ``channel``, ``visor_stack``...), ``unit``."""

    name: str
    type: str | None = None
    unit: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> str:
        """xarray dimension name: ``vs``/``ch`` by type (legacy ``s``/``c`` too), else the name."""
        return AXIS_TYPE_DIMS.get(self.type or "", self.name)

    def to_dict(self) -> JSONDict:
        """Return the JSON object of this axis."""
        return _with_extra({"name": self.name, "type": self.type, "unit": self.unit}, self.extra)


@dataclass(frozen=True, kw_only=True)
class Level:
    """One OME ``datasets[]`` entry: a resolution level's array path and relative scale."""

    path: str
    scale: tuple[float, ...]
    translation: tuple[float, ...] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    transform_extra: tuple[Mapping[str, Any], ...] = ()

    def to_dict(self) -> JSONDict:
        """Return the JSON object of this ``datasets[]`` entry."""
        return _with_extra(
            {
                "path": self.path,
                "coordinateTransformations": _transformations(
                    self.scale, self.translation, self.transform_extra
                ),
            },
            self.extra,
        )


def _transformations(
    scale: tuple[float, ...] | None,
    translation: tuple[float, ...] | None,
    others: tuple[Mapping[str, Any], ...],
) -> list[JSONDict]:
    out: list[JSONDict] = []
    if scale is not None:
        out.append({"type": "scale", "scale": list(scale)})
    if translation is not None:
        out.append({"type": "translation", "translation": list(translation)})
    out.extend(dict(o) for o in others)
    return out


@dataclass(frozen=True, kw_only=True)
class Multiscale:
    """``ome.multiscales[0]``: axes, levels, level-0 physical scale, downsampling method."""

    name: str | None
    axes: tuple[Axis, ...]
    levels: tuple[Level, ...]
    scale: tuple[float, ...] | None = None
    translation: tuple[float, ...] | None = None
    type: str | None = None
    metadata: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    transform_extra: tuple[Mapping[str, Any], ...] = ()

    @property
    def dims(self) -> tuple[str, ...]:
        """xarray dimension names, in array order."""
        return tuple(axis.dim for axis in self.axes)

    @property
    def level_paths(self) -> tuple[str, ...]:
        """Array paths of the resolution levels, finest first."""
        return tuple(level.path for level in self.levels)

    def to_dict(self) -> JSONDict:
        """Return the JSON object of this multiscale."""
        global_transforms = _transformations(self.scale, self.translation, self.transform_extra)
        return _with_extra(
            {
                "name": self.name,
                "axes": [axis.to_dict() for axis in self.axes],
                "datasets": [level.to_dict() for level in self.levels],
                "coordinateTransformations": global_transforms or None,
                "type": self.type,
                "metadata": dict(self.metadata) if self.metadata is not None else None,
            },
            self.extra,
        )


@dataclass(frozen=True, kw_only=True)
class OmeAttrs:
    """``attributes.ome`` of an image group (OME-Zarr 0.5)."""

    version: str
    multiscales: tuple[Multiscale, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> JSONDict:
        """Return the JSON object of ``attributes.ome``."""
        return _with_extra(
            {"version": self.version, "multiscales": [m.to_dict() for m in self.multiscales]},
            self.extra,
        )


@dataclass(frozen=True, kw_only=True)
class VisorStack:
    """One ``visor_stacks[]`` entry: axis ``index``, ``label`` and stage ``position`` (mm)."""

    index: int
    label: str
    position: tuple[float, ...] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> JSONDict:
        """Return the JSON object of this stack."""
        position = list(self.position) if self.position is not None else None
        return _with_extra(
            {"index": self.index, "label": self.label, "position": position}, self.extra
        )


@dataclass(frozen=True, kw_only=True)
class Channel:
    """One ``channels[]`` entry.

    ``wavelength`` (a string, e.g. ``"488"``) is the channel's label. Every other field of
    the entry (power, exposure, filter, ...) is kept, in file order, in ``acquisition``;
    :data:`CHANNEL_FIELD_UNITS` gives their units.
    """

    index: int
    wavelength: str
    acquisition: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> JSONDict:
        """Return the JSON object of this channel."""
        return {"index": self.index, "wavelength": self.wavelength, **self.acquisition}


@dataclass(frozen=True, kw_only=True)
class Source:
    """One ``sources[]`` entry of a processed image: the source image path and its channels."""

    path: str
    channels: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> JSONDict:
        """Return the JSON object of this source."""
        return _with_extra({"path": self.path, "channels": list(self.channels)}, self.extra)


@dataclass(frozen=True, kw_only=True)
class VisorAttrs:
    """``attributes.visor`` of an image group: stacks, channels, sources, transform version."""

    visor_stacks: tuple[VisorStack, ...] | None = None
    channels: tuple[Channel, ...] = ()
    sources: tuple[Source, ...] | None = None
    transform_version: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def stacks_by_index(self) -> tuple[VisorStack, ...]:
        """Stacks ordered by their axis index (never by list position)."""
        return tuple(sorted(self.visor_stacks or (), key=lambda s: s.index))

    def channels_by_index(self) -> tuple[Channel, ...]:
        """Channels ordered by their axis index (list order is not guaranteed)."""
        return tuple(sorted(self.channels, key=lambda c: c.index))

    def to_dict(self) -> JSONDict:
        """Return the JSON object of ``attributes.visor``."""
        return _with_extra(
            {
                "visor_stacks": (
                    [s.to_dict() for s in self.visor_stacks]
                    if self.visor_stacks is not None
                    else None
                ),
                "channels": [c.to_dict() for c in self.channels],
                "sources": (
                    [s.to_dict() for s in self.sources] if self.sources is not None else None
                ),
                "transform_version": self.transform_version,
            },
            self.extra,
        )


@dataclass(frozen=True, kw_only=True)
class ImageAttrs:
    """All attributes of an image group's ``zarr.json``: ``ome`` and ``visor``."""

    ome: OmeAttrs
    visor: VisorAttrs | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def multiscale(self) -> Multiscale:
        """The first (and in VISoR the only) multiscale."""
        return self.ome.multiscales[0]

    def label_to_index(self, kind: str, label: object, where: object = "image") -> int:
        """Return the axis index of a stack or channel label.

        Parameters
        ----------
        kind : {"stack", "channel"}
            ``"stack"`` looks ``label`` up among ``visor_stacks[].label``; ``"channel"``
            among ``channels[].wavelength``.
        label : str
            The label, e.g. ``"stack_3"`` or ``"488"`` (a string: ``488`` is not
            ``"488"``).
        where : str or pathlib.Path, default "image"
            The image, for the message.

        Returns
        -------
        int
            The ``index`` field of the entry (its position on the axis, never its list
            position).

        Raises
        ------
        UnknownLabelError
            If no entry has that label; the message lists the labels that exist.
        ValueError
            If ``kind`` is neither ``"stack"`` nor ``"channel"``.
        """
        visor = self.visor
        if kind == "stack":
            stacks = visor.stacks_by_index() if visor else ()
            for stack in stacks:
                if stack.label == label:
                    return stack.index
            raise UnknownLabelError(where, "stack", label, [s.label for s in stacks])
        if kind == "channel":
            channels = visor.channels_by_index() if visor else ()
            for channel in channels:
                if channel.wavelength == label:
                    return channel.index
            raise UnknownLabelError(where, "channel", label, [c.wavelength for c in channels])
        raise ValueError(f"label kind must be 'stack' or 'channel', got {kind!r}")

    def to_dict(self) -> JSONDict:
        """Return the ``attributes`` JSON object of the image group."""
        return _with_extra(
            {
                "ome": self.ome.to_dict(),
                "visor": self.visor.to_dict() if self.visor is not None else None,
            },
            self.extra,
        )


@dataclass(frozen=True, kw_only=True)
class ReconSlice:
    """One ``recon.json`` ``slices[]`` entry: slice directory name and its transform names."""

    name: str
    transforms: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> JSONDict:
        """Return the JSON object of this slice."""
        return _with_extra({"name": self.name, "transforms": list(self.transforms)}, self.extra)


@dataclass(frozen=True, kw_only=True)
class ReconInfo:
    """``recon.json`` of a transform version."""

    personnel: str | None = None
    create_time: str | None = None
    spaces: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    slices: tuple[ReconSlice, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> JSONDict:
        """Return the JSON object of ``recon.json``."""
        return _with_extra(
            {
                "personnel": self.personnel,
                "create_time": self.create_time,
                "spaces": list(self.spaces),
                "keywords": list(self.keywords),
                "slices": [s.to_dict() for s in self.slices],
            },
            self.extra,
        )


@dataclass(frozen=True, kw_only=True)
class TransformEntry:
    """One ``transforms.json`` entry: ``{from}_to_{to}`` name, type, format, stored direction."""

    name: str
    type: str
    format: str
    direction: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def stored_direction(self) -> str:
        """Mapping direction of the stored file (``direction``, defaulting to ``name``)."""
        return self.direction or self.name

    @property
    def spaces(self) -> tuple[str, str]:
        """``(from_space, to_space)`` of the stored direction."""
        source, _, target = self.stored_direction.partition("_to_")
        return source, target

    def to_dict(self) -> JSONDict:
        """Return the JSON object of this entry."""
        return _with_extra(
            {
                "name": self.name,
                "type": self.type,
                "format": self.format,
                "direction": self.direction,
            },
            self.extra,
        )


@dataclass(frozen=True, kw_only=True)
class TransformList:
    """``transforms.json`` of one slice (an array; visor-py's placeholder object is kept)."""

    entries: tuple[TransformEntry, ...] = ()
    placeholder: Mapping[str, Any] | None = None

    def to_json(self) -> Any:
        """Return the JSON value of ``transforms.json``."""
        if not self.entries and self.placeholder is not None:
            return dict(self.placeholder)
        return [entry.to_dict() for entry in self.entries]

    def find(self, source: str, target: str) -> tuple[TransformEntry, bool] | None:
        """Return ``(entry, inverted)`` for the map ``source -> target``, or None.

        ``inverted`` is True when the stored file maps ``target -> source``.
        """
        wanted, reverse = f"{source}_to_{target}", f"{target}_to_{source}"
        for entry in self.entries:
            if entry.name in (wanted, reverse):
                return entry, entry.stored_direction == reverse
        return None
