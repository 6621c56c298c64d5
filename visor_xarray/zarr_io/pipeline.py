"""Codec pipeline selection: the zarr configuration an array is built (and rebuilt) under.

The codec pipeline (zarrs by default, see :func:`visor_xarray.set_options`) is chosen
*inside* each open/create call: zarr fixes the pipeline when an array object is built,
so zarr's process-global configuration is never changed behind the user's back
(visor-py, by contrast, switches the whole process to zarrs).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import zarr
import zarr.codecs
from zarr.core.array import AsyncArray

from visor_xarray.options import DEFAULT_PIPELINE, OPTIONS, ZARRS_PIPELINE, check_option

__all__ = [
    "default_compressor",
    "pipeline_name",
    "pipeline_scope",
    "pipeline_settings",
    "settings_of",
]


def default_compressor(clevel: int = 5) -> zarr.codecs.BloscCodec:
    """Return the format's typical compressor: blosc zstd with byte shuffle.

    Parameters
    ----------
    clevel : int, default 5
        zstd level (the format's published examples use 5).

    Returns
    -------
    zarr.codecs.BloscCodec
    """
    return zarr.codecs.BloscCodec(cname="zstd", clevel=clevel, shuffle="shuffle")


def pipeline_settings(pipeline: str | None = None) -> dict[str, Any]:
    """Return the zarr configuration an array opened now would be built under.

    Parameters
    ----------
    pipeline : {"zarrs", "default"}, optional
        Codec pipeline; defaults to the ``codec_pipeline`` option.

    Returns
    -------
    dict
        The zarr configuration keys (``codec_pipeline.path``, ``codec_pipeline.validate_checksums``
        and, when ``zarrs_threads`` is set, ``threading.max_workers`` and
        ``codec_pipeline.chunk_concurrent_maximum``).

    Raises
    ------
    ValueError
        For a pipeline other than ``"zarrs"`` and ``"default"`` (the message lists them).
    """
    chosen = OPTIONS["codec_pipeline"] if pipeline is None else pipeline
    # a typo would otherwise quietly select zarr-python's pipeline
    check_option("codec_pipeline", chosen)
    settings: dict[str, Any] = {
        "codec_pipeline.path": ZARRS_PIPELINE if chosen == "zarrs" else DEFAULT_PIPELINE,
        "codec_pipeline.validate_checksums": OPTIONS["validate_checksums"],
    }
    if OPTIONS["zarrs_threads"] is not None:
        settings["threading.max_workers"] = OPTIONS["zarrs_threads"]
        settings["codec_pipeline.chunk_concurrent_maximum"] = OPTIONS["zarrs_threads"]
    return settings


@contextlib.contextmanager
def pipeline_scope(pipeline: str | None) -> Iterator[dict[str, Any]]:
    """Build arrays in this block under :func:`pipeline_settings`.

    Parameters
    ----------
    pipeline : {"zarrs", "default"} or None
        The codec pipeline (None: the ``codec_pipeline`` option).

    Yields
    ------
    dict
        The settings in force.
    """
    settings = pipeline_settings(pipeline)
    with zarr.config.set(settings):
        yield settings


def _pipeline_path(async_array: AsyncArray) -> str:  # type: ignore[type-arg]
    """Dotted class name of the codec pipeline of ``async_array``."""
    pipeline = type(async_array.codec_pipeline)
    return f"{pipeline.__module__}.{pipeline.__qualname__}"


def pipeline_name(array: zarr.Array) -> str:  # type: ignore[type-arg]
    """Return the dotted class name of the codec pipeline that serves ``array``.

    Parameters
    ----------
    array : zarr.Array
        An array opened by this library (or any zarr v3 array).

    Returns
    -------
    str
        For example ``"zarrs.ZarrsCodecPipeline"`` or
        ``"zarr.core.codec_pipeline.BatchedCodecPipeline"``.
    """
    return _pipeline_path(array.async_array)


def settings_of(async_array: AsyncArray) -> dict[str, Any]:  # type: ignore[type-arg]
    """The settings an array was built under.

    Parameters
    ----------
    async_array : zarr.AsyncArray

    Returns
    -------
    dict
        The settings of an array this library opened; for a foreign array, those of its
        codec pipeline.
    """
    settings = getattr(async_array, "_visor_settings", None)
    if settings is None:
        name = _pipeline_path(async_array)
        settings = pipeline_settings("zarrs" if name == ZARRS_PIPELINE else "default")
    return dict(settings)
