"""Provenance attrs of a resampled image: spaces, transform version and matrices, the
stored stack/channel indices, the source image and the level read.
"""

from __future__ import annotations

from typing import Any

from visor_xarray.resample.resolve import Prepared

__all__ = ["provenance_attrs"]


def _nested(prepared: Prepared, value: Any) -> Any:
    """``{position: value}`` as nested lists over the leading dims (scalar with none)."""
    sizes = [int(prepared.source.sizes[d]) for d in prepared.lead_dims]
    if not sizes:
        return value[()]

    def build(prefix: tuple[int, ...]) -> Any:
        if len(prefix) == len(sizes):
            return value[prefix]
        return [build((*prefix, i)) for i in range(sizes[len(prefix)])]

    return build(())


def provenance_attrs(prepared: Prepared, read_level: str | None) -> dict[str, Any]:
    """The provenance attrs of a result resampled from ``prepared``.

    Parameters
    ----------
    prepared : Prepared
        The source with its transforms.
    read_level : str or None
        The resolution level read (None: the data as they were).

    Returns
    -------
    dict
        ``from_space``, ``to_space``, ``transform_version`` (if stored),
        ``transform_matrix`` (nested over the leading dims), ``stack``/``channel`` (stored
        indices, where the metadata give them), ``source_vsr_path``, ``source_image_type``,
        ``source_image_name``, ``source_resolution_level``.
    """
    source = prepared.source
    attrs: dict[str, Any] = {"from_space": prepared.from_space, "to_space": prepared.to_space}
    if prepared.version is not None:
        attrs["transform_version"] = prepared.version
    attrs["transform_matrix"] = _nested(
        prepared, {p: a.homogeneous.tolist() for p, a in prepared.transforms.items()}
    )
    metadata = prepared.metadata
    if metadata is not None and metadata.visor is not None:
        where = source.attrs.get("image_name", "image")
        for kind, dim, slot in (("stack", "vs", 0), ("channel", "ch", 1)):
            if dim not in source.coords or (dim == "vs" and not metadata.visor.visor_stacks):
                continue
            indices = {
                p: metadata.label_to_index(kind, labels[slot], where)
                for p, labels in prepared.labels.items()
                if labels[slot] is not None
            }
            if len(indices) != len(prepared.positions):
                continue
            if dim in prepared.lead_dims:
                axis = prepared.lead_dims.index(dim)
                attrs[kind] = [
                    indices[next(p for p in prepared.positions if p[axis] == i)]
                    for i in range(int(source.sizes[dim]))
                ]
            else:
                attrs[kind] = indices[prepared.positions[0]]
    for key in ("vsr_path", "image_type", "image_name"):
        if key in source.attrs:
            attrs[f"source_{key}"] = source.attrs[key]
    if read_level is not None:
        attrs["source_resolution_level"] = str(read_level)
    return attrs
