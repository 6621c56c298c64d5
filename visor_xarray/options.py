"""Library-wide options, set with :func:`set_options` (globally or as a context manager)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["CODEC_PIPELINES", "OPTIONS", "check_option", "get_options", "set_options"]

#: Codec pipelines that may serve our arrays.
ZARRS_PIPELINE = "zarrs.ZarrsCodecPipeline"
DEFAULT_PIPELINE = "zarr.core.codec_pipeline.BatchedCodecPipeline"

#: The values of the ``codec_pipeline`` option (and of ``codec_pipeline=`` arguments).
CODEC_PIPELINES = ("zarrs", "default")


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _optional_positive_int(value: Any) -> bool:
    return value is None or _positive_int(value)


_VALIDATORS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "codec_pipeline": (
        lambda v: isinstance(v, str) and v in CODEC_PIPELINES,
        "'zarrs' (Rust zarrs pipeline) or 'default' (zarr-python's pipeline)",
    ),
    "remote_codec_pipeline": (
        lambda v: isinstance(v, str) and v in CODEC_PIPELINES,
        "'default' (zarr-python's pipeline) or 'zarrs'",
    ),
    "write_memory_budget": (_positive_int, "a positive number of bytes"),
    "dask_chunk_bytes": (_positive_int, "a positive number of bytes"),
    "zarrs_threads": (_optional_positive_int, "None (all cores) or a positive integer"),
    "validate_checksums": (lambda v: isinstance(v, bool), "True or False"),
    "pyramid_clevel": (
        lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 9),
        "None (the level-0 compressor) or a blosc level 0-9",
    ),
}

OPTIONS: dict[str, Any] = {
    # The Rust pipeline is 2x faster than zarr-python's for sharded uint16 data.
    "codec_pipeline": "zarrs",
    # Remote stores: zarrs makes two requests (HEAD, ranged GET) per inner chunk, zarr-python
    # one GET per whole shard read (or concurrent ranged GETs for parts); per-request
    # latency dominates on object stores (benchmarks/bench_remote.py, docs/remote.md).
    "remote_codec_pipeline": "default",
    # Upper bound of the bytes one shard write may hold decoded in memory.
    "write_memory_budget": 512 * 2**20,
    # Target size of the dask chunks `chunks={}` / `chunks="auto"` produce from shards.
    "dask_chunk_bytes": 128 * 2**20,
    "zarrs_threads": None,
    "validate_checksums": True,
    # zstd level of pyramid levels 1.. written with the default compressor: on their
    # smoothed data zstd 5 runs 2-4x slower per byte than on level 0, zstd 2 runs 4-8x
    # faster than zstd 5 there for a ratio within 1 % (docs/benchmarks.md).
    "pyramid_clevel": 2,
}


def check_option(key: str, value: Any) -> None:
    """Refuse an unknown option or a value it does not take.

    Parameters
    ----------
    key : str
        Option name.
    value : object
        Proposed value.

    Raises
    ------
    ValueError
        Naming the valid options, or the values the option takes.
    """
    if key not in _VALIDATORS:
        raise ValueError(
            f"unknown visor_xarray option {key!r}; valid options: {sorted(_VALIDATORS)}"
        )
    check, expected = _VALIDATORS[key]
    if not check(value):
        raise ValueError(f"option {key!r} must be {expected}, got {value!r}")


def get_options() -> dict[str, Any]:
    """Return a copy of the current options.

    Returns
    -------
    dict
        Option names and values.
    """
    return dict(OPTIONS)


class set_options:
    """Set visor-xarray options, globally or within a ``with`` block.

    Parameters
    ----------
    codec_pipeline : {"zarrs", "default"}
        Codec pipeline for arrays opened or created by the library. ``"zarrs"`` (default)
        is the Rust pipeline; ``"default"`` is zarr-python's own. The choice is scoped to
        the arrays this library builds: zarr's global configuration is never changed.
    remote_codec_pipeline : {"default", "zarrs"}
        Codec pipeline for arrays of samples at a URL (``s3://``, ``http(s)://``) when no
        ``codec_pipeline=`` is given: zarr-python's (default), which fetches a shard read
        whole in one request, where zarrs makes two requests per inner chunk.
    write_memory_budget : int
        Bytes a write may hold in memory, shared by its workers: it sizes the blocks the
        writers encode at once (see :mod:`visor_xarray.write.memory`), never the shards.
    dask_chunk_bytes : int
        Target size of dask chunks made from shards by ``chunks={}``.
    zarrs_threads : int or None
        Cap on the zarrs (Rust) thread count; set it per worker on a dask cluster.
    validate_checksums : bool
        Verify the crc32c of shard indexes when reading.
    pyramid_clevel : int or None
        Blosc zstd level of the coarser pyramid levels (1, 2, ...) when a write uses the
        default compressor (default 2; level 0 always gets the format's zstd 5). None
        writes every level with zstd 5. An explicit ``compressors=`` applies to all
        levels and ignores this option.

    Raises
    ------
    ValueError
        For an unknown option or an invalid value.

    Examples
    --------
    >>> import visor_xarray as vx
    >>> with vx.set_options(codec_pipeline="default"):
    ...     pass
    """

    def __init__(self, **kwargs: Any) -> None:
        self._old: dict[str, Any] = {}
        for key, value in kwargs.items():
            check_option(key, value)
        for key, value in kwargs.items():
            self._old[key] = OPTIONS[key]
            OPTIONS[key] = value

    def __enter__(self) -> set_options:
        return self

    def __exit__(self, *exc: object) -> None:
        OPTIONS.update(self._old)
