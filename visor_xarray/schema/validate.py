"""Checks that tie a parsed image's metadata to the shape of its arrays."""

from __future__ import annotations

from collections.abc import Sequence

from visor_xarray.errors import MetadataError
from visor_xarray.schema.models import ImageAttrs

__all__ = ["check_array_matches"]


def check_array_matches(
    attrs: ImageAttrs, shape: Sequence[int], level: str, file: object = None
) -> None:
    """Raise if a level array's shape disagrees with the image metadata.

    Parameters
    ----------
    attrs : ImageAttrs
        The parsed image attributes.
    shape : sequence of int
        Shape of the level array.
    level : str
        Level path, for the message.
    file : pathlib.Path, optional
        The image group's ``zarr.json``, for the message.

    Raises
    ------
    MetadataError
        If the axis count differs from the array's ndim, or the ``vs`` / ``ch`` lengths
        differ from the number of stacks / channels.
    """
    multiscale = attrs.multiscale
    if len(multiscale.axes) != len(shape):
        raise MetadataError(
            file,
            "attributes.ome.multiscales[0].axes",
            f"{len(multiscale.axes)} axes {list(multiscale.dims)} but array level {level!r} "
            f"has {len(shape)} dimensions (shape {tuple(shape)})",
        )
    if attrs.visor is None:
        labelled = [dim for dim in multiscale.dims if dim in ("vs", "ch")]
        if labelled:
            raise MetadataError(
                file,
                "attributes.visor",
                f"is missing, but the axes {labelled} need their stack/channel labels "
                "(attributes.visor.visor_stacks / channels)",
            )
        return
    counts = {"vs": len(attrs.visor.visor_stacks or ()), "ch": len(attrs.visor.channels)}
    fields = {"vs": "attributes.visor.visor_stacks", "ch": "attributes.visor.channels"}
    for dim, size in zip(multiscale.dims, shape, strict=True):
        if dim in counts and (dim == "ch" or attrs.visor.visor_stacks is not None):
            if counts[dim] != size:
                raise MetadataError(
                    file,
                    fields[dim],
                    f"lists {counts[dim]} entries but axis {dim!r} of level {level!r} "
                    f"has length {size}",
                )
