"""Command-line arguments checked against the sample: images, labels, dims and numbers.

A wrong argument is the user's to fix, so it is answered with one line that names the
valid choices (exit status 2), never with a traceback.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from visor_xarray.backend.label_index import LABEL_DIMS
from visor_xarray.errors import UnknownImageError, UnknownLabelError, VisorError

__all__: list[str] = []


class UsageError(VisorError, ValueError):
    """An argument that names nothing the sample holds, or a value out of range."""


#: Errors that mean "the arguments are wrong" (exit status 2), not "the sample is" (1).
USAGE_ERRORS = (UsageError, UnknownImageError, UnknownLabelError)


class Parser(argparse.ArgumentParser):
    """argparse, answering bad usage with one line instead of the usage and the error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def positive(kind: type[int] | type[float], what: str) -> Callable[[str], Any]:
    """An argparse ``type`` for a finite number above zero."""

    def convert(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {what}, got {text!r}") from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"must be a {what} above 0, got {text!r}")
        return value

    return convert


def _choices(values: Sequence[object]) -> str:
    return ", ".join(str(v) for v in values) if values else "(none)"


def choose_image(path: str, image: str | None) -> tuple[str, str]:
    """``(type, name)`` of the image ``--image`` means: ``TYPE/NAME``, ``TYPE`` (its only
    image) or nothing (the only raw image).

    Raises
    ------
    UsageError
        If no image, or more than one, fits; the message lists every image of the sample
        as ``TYPE/NAME``.
    """
    from visor_xarray.store import VsrStore

    store = VsrStore(path)
    every = [(t, n) for t in store.image_types() for n in store.image_names(t)]
    kind, _, name = (image or "raw").partition("/")
    fitting = [(t, n) for t, n in every if t == kind and name in ("", n)]
    if len(fitting) == 1:
        return fitting[0]
    listed = _choices([f"{t}/{n}" for t, n in every])
    if not fitting:
        return _refuse(
            f"{path} has no {kind} image {name!r}" if name else f"{path} has no {kind} image",
            listed,
        )
    return _refuse(f"{path} has {len(fitting)} {kind} images", listed)


def _refuse(problem: str, listed: str) -> NoReturn:
    raise UsageError(f"{problem}; choose one with --image: {listed}")


def choose_label(image: Any, dim: str, value: str | None, option: str) -> str | None:
    """The label ``option`` names along ``dim`` of ``image`` (None: not given).

    Raises
    ------
    UsageError
        If the image has no ``dim``, or no such label (the message lists the labels).
    """
    if value is None:
        return None
    where = f"{image.attrs.get('image_type')}/{image.attrs.get('image_name')}"
    kind = LABEL_DIMS.get(dim, dim)
    if dim not in image.dims:
        raise UsageError(f"{option}: image {where} has no {kind}s ({dim!r} dimension)")
    labels = [str(v) for v in image[dim].values]
    if value not in labels:
        raise UsageError(
            f"{option} {value!r}: image {where} has no such {kind}; "
            f"choose one of: {_choices(labels)}"
        )
    return value


def choose_dim(image: Any, dim: str, option: str) -> str:
    """``dim`` if ``image`` has it, else a :class:`UsageError` listing the dims it has."""
    if dim not in image.dims:
        raise UsageError(f"{option} {dim!r}: choose one of {_choices(list(image.dims))}")
    return dim


def check_name(value: str, what: str, option: str, where: str | Path) -> str:
    """A new image type or name, if it is a valid path component."""
    from visor_xarray import layout
    from visor_xarray.errors import MetadataError

    try:
        return layout.check_name(value, what, where)
    except MetadataError as error:
        raise UsageError(f"{option}: {error.problem}") from None
