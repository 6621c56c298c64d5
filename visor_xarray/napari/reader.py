"""The npe2 reader contribution: a ``.vsr`` directory opens as lazy multiscale layers."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from visor_xarray.napari.layers import LayerDataTuple
from visor_xarray.napari.sample import layer_data

__all__ = ["napari_get_reader", "read_vsr"]

PathOrPaths = str | os.PathLike[str] | list[str] | list[os.PathLike[str]]


def napari_get_reader(path: PathOrPaths) -> Callable[[PathOrPaths], list[LayerDataTuple]] | None:
    """Return :func:`read_vsr` if ``path`` is a ``.vsr`` sample directory, else None.

    Parameters
    ----------
    path : str, os.PathLike or list of them
        What napari was asked to open; a list is accepted if every item is a sample.

    Returns
    -------
    callable or None
        napari tries other readers on None.
    """
    paths = path if isinstance(path, list) else [path]
    if paths and all(_is_sample(p) for p in paths):
        return read_vsr
    return None


def read_vsr(path: PathOrPaths) -> list[LayerDataTuple]:
    """Every image of the sample(s), as recorded (see :func:`layer_data`).

    Parameters
    ----------
    path : str, os.PathLike or list of them
        ``.vsr`` sample directories.

    Returns
    -------
    list of tuple
        Layer-data tuples.
    """
    paths = path if isinstance(path, list) else [path]
    layers: list[LayerDataTuple] = []
    for one in paths:
        layers += layer_data(one)
    return layers


def _is_sample(path: str | os.PathLike[str]) -> bool:
    # a sample is a directory named *.vsr (napari may add a trailing separator, which
    # Path drops); whether it is a valid one is for layer_data to say, with the reason
    candidate = Path(path)
    return candidate.suffix == ".vsr" and candidate.is_dir()
