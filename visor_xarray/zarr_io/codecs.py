"""Building and checking compressor codecs, and translating Zarr v2 compressors to v3.

Callers describe codecs in plain terms (a Blosc name and level, a source array); the
``zarr.codecs`` objects are built here, so that zarr is imported only in this package.
"""

from __future__ import annotations

from typing import Any, Literal

import zarr
import zarr.codecs
from zarr.storage import MemoryStore

from visor_xarray.zarr_io.pipeline import default_compressor

__all__ = ["blosc_codec", "compressors_problem", "v3_compressors"]

# numcodecs' Blosc shuffle constants (Zarr v2) as the names of zarr.codecs.BloscCodec.
_SHUFFLES: dict[int, Literal["noshuffle", "shuffle", "bitshuffle"]] = {
    0: "noshuffle",
    1: "shuffle",
    2: "bitshuffle",
    -1: "shuffle",
}


def blosc_codec(cname: str, clevel: int) -> zarr.codecs.BloscCodec:
    """A Blosc compressor with byte shuffle.

    Parameters
    ----------
    cname : str
        Blosc's inner compressor (``"zstd"``, ``"lz4"``, ...).
    clevel : int
        Compression level, 0-9.

    Returns
    -------
    zarr.codecs.BloscCodec
    """
    return zarr.codecs.BloscCodec(cname=cname, clevel=clevel, shuffle="shuffle")  # type: ignore[arg-type]


def compressors_problem(compressors: Any) -> str | None:
    """Why zarr cannot build a Zarr v3 array with ``compressors``, if it cannot.

    Parameters
    ----------
    compressors : Any
        A codec or a sequence of codecs, as ``zarr.create_array`` takes them.

    Returns
    -------
    str or None
        zarr's reason (``"TypeError: ..."``), or None if an array can be built.
    """
    try:
        zarr.create_array(store=MemoryStore(), shape=(1,), dtype="uint16", compressors=compressors)
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


def v3_compressors(array: Any) -> tuple[list[Any], str | None]:
    """The compressors of an array as Zarr v3 codecs (numcodecs ones of Zarr v2 translated).

    Parameters
    ----------
    array : zarr.Array
        A Zarr v2 or v3 array.

    Returns
    -------
    codecs : list
        Its compressors as Zarr v3 codecs.
    note : str or None
        Why a Zarr v2 compressor without a v3 equivalent was replaced by blosc zstd 5, or
        None.
    """
    if array.metadata.zarr_format == 3:
        return list(array.compressors), None
    codecs: list[Any] = []
    for codec in array.compressors:
        config = codec.get_config()
        kind = config.get("id")
        if kind == "blosc":
            codecs.append(
                zarr.codecs.BloscCodec(
                    cname=config["cname"],
                    clevel=config["clevel"],
                    shuffle=_SHUFFLES.get(config.get("shuffle", 1), "shuffle"),
                    blocksize=config.get("blocksize", 0),
                )
            )
        elif kind == "zstd":
            codecs.append(zarr.codecs.ZstdCodec(level=config.get("level", 0)))
        elif kind in ("gzip", "zlib"):
            codecs.append(zarr.codecs.GzipCodec(level=config.get("level", 5)))
        else:
            return [default_compressor()], (
                f"Zarr v2 compressor {kind!r} has no Zarr v3 equivalent here; "
                "written with blosc zstd 5"
            )
    return codecs, None
