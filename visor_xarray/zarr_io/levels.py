"""Opening and creating level arrays (``{image}.zarr/{level}``) under the chosen pipeline.

Arrays opened here are :class:`~visor_xarray.zarr_io.arrays.SafeArray` (writable) or
:class:`~visor_xarray.zarr_io.arrays.ReadOnlyArray` objects, built under
:func:`~visor_xarray.zarr_io.pipeline.pipeline_settings`; paths that leave their ``.vsr``
sample and chunk geometry zarrs could not allocate are refused first.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.storage import LocalStore

from visor_xarray.errors import MetadataError, VisorError, VisorWarning
from visor_xarray.layout import SamplePath
from visor_xarray.options import OPTIONS
from visor_xarray.zarr_io.arrays import ReadOnlyAsyncArray, SafeArray, SafeAsyncArray, wrap_array
from visor_xarray.zarr_io.corruption import check_chunk_geometry
from visor_xarray.zarr_io.markers import foreign_write_marker, marker_is_stale
from visor_xarray.zarr_io.pipeline import default_compressor, pipeline_scope
from visor_xarray.zarr_io.remote_path import RemotePath, store_reconstruction_quiet

__all__ = ["check_dtype", "create_level_array", "open_level_array"]


def check_dtype(dtype: Any, fill_value: Any = 0) -> np.dtype[Any]:
    """Return ``dtype`` as a numpy dtype that zarr v3 can store with ``fill_value``.

    Parameters
    ----------
    dtype : object
        Anything ``numpy.dtype`` accepts.
    fill_value : scalar, default 0
        The array's fill value.

    Returns
    -------
    numpy.dtype

    Raises
    ------
    TypeError or ValueError
        If numpy does not know the dtype, or zarr has no v3 data type for it (``object``,
        ``float128``, ...), or ``fill_value`` does not fit it (unit-less ``datetime64``).
    """
    from zarr.core.dtype import get_data_type_from_native_dtype

    np_dtype: np.dtype[Any] = np.dtype(dtype)
    get_data_type_from_native_dtype(np_dtype).cast_scalar(fill_value)
    return np_dtype


def _check_inside_sample(path: Path) -> None:
    """Refuse an array path that resolves (through symlinks) outside its ``.vsr`` sample."""
    sample = next((p for p in (path, *path.parents) if p.suffix == ".vsr"), None)
    if sample is None:
        return
    try:
        inside = path.resolve().is_relative_to(sample.resolve())
    except OSError:
        return
    if not inside:
        raise MetadataError(
            path,
            "",
            f"resolves to {path.resolve()}, outside the sample {sample} (a symbolic link "
            "leaves the sample directory); refusing to read or write through it",
        )


def _warn_if_incomplete(image: SamplePath) -> None:
    marker = foreign_write_marker(image)
    if marker is None:
        return
    state = "was interrupted" if marker_is_stale(marker) else "is in progress"
    warnings.warn(
        f"{image}: a write ({marker.get('operation', '?')}, pid {marker.get('pid', '?')} on "
        f"{marker.get('host', '?')}, started {marker.get('started', '?')}) {state}; the image "
        "may be incomplete. Rewrite it (to_vsr mode='w' / the same region write) to repair it; "
        "visor_xarray.validate.validate() lists such images.",
        VisorWarning,
        stacklevel=4,
    )


def open_level_array(
    path: Path | RemotePath, *, writable: bool, pipeline: str | None = None
) -> SafeArray:
    """Open the level array at ``path``.

    Parameters
    ----------
    path : pathlib.Path or RemotePath
        Directory of the level array (``{image}.zarr/{level}``), local or at a URL.
    writable : bool
        False returns a :class:`ReadOnlyArray`; True a :class:`SafeArray`.
    pipeline : {"zarrs", "default"}, optional
        Codec pipeline; defaults to the ``codec_pipeline`` option (for a remote path, the
        ``remote_codec_pipeline`` option).

    Returns
    -------
    SafeArray
        A :class:`ReadOnlyArray` unless ``writable``.

    Raises
    ------
    MetadataError
        If the path resolves outside its ``.vsr`` sample (symbolic link).

    Warns
    -----
    VisorWarning
        When opening read-only an image that another write is writing (or left
        incomplete when it was killed).
    """
    if not writable:
        _warn_if_incomplete(path.parent)
    remote = path if isinstance(path, RemotePath) else None
    if isinstance(path, RemotePath):
        store, key = path.zarr_store(read_only=not writable), path.key
        pipeline = pipeline or OPTIONS["remote_codec_pipeline"]
    else:
        _check_inside_sample(path)
        store, key = LocalStore(path, read_only=not writable), ""
    with pipeline_scope(pipeline) as settings, store_reconstruction_quiet():
        try:
            array = zarr.open_array(store=store, path=key, mode="r+" if writable else "r")
        except (VisorError, FileNotFoundError):
            raise
        except (RecursionError, AttributeError, IndexError, NotImplementedError, OSError) as error:
            # zarr's own parser lets these through for malformed zarr.json documents
            raise MetadataError(
                path / "zarr.json",
                "",
                f"not a readable Zarr v3 array: {type(error).__name__}: {error}",
            ) from None
    check_chunk_geometry(array.metadata, path / "zarr.json")
    result: SafeArray = wrap_array(
        array, SafeAsyncArray if writable else ReadOnlyAsyncArray, settings
    )
    if remote is not None:  # pickled as its URL, not as a store holding credentials
        object.__setattr__(result.async_array, "_visor_remote", remote)
    return result


def create_level_array(
    path: Path,
    *,
    shape: Sequence[int],
    dtype: Any,
    shard_shape: Sequence[int] | None,
    chunk_shape: Sequence[int],
    compressors: Any,
    dimension_names: Sequence[str],
    fill_value: Any = 0,
    pipeline: str | None = None,
) -> SafeArray:
    """Create (replacing any existing one) a sharded level array at ``path``.

    Parameters
    ----------
    path : pathlib.Path
        Directory of the new level array.
    shape : sequence of int
        Array shape.
    dtype : numpy.dtype or str
        Data type.
    shard_shape : sequence of int or None
        Shard (outer chunk) shape; None writes unsharded chunks.
    chunk_shape : sequence of int
        Inner chunk shape.
    compressors : zarr codec, sequence of codecs or None
        zarr v3 compressor codec(s); ``None`` selects :func:`default_compressor`. Add
        ``zarr.codecs.Crc32cCodec()`` after it to checksum every inner chunk too.
    dimension_names : sequence of str
        Written to ``zarr.json`` as OME-Zarr 0.5 requires.
    fill_value : scalar, default 0
        Value of never-written chunks.
    pipeline : {"zarrs", "default"}, optional
        Codec pipeline of the returned array.

    Returns
    -------
    SafeArray
        Writes to it commit whole shards atomically.
    """
    if compressors is None:
        compressors = default_compressor()
    _check_inside_sample(path)
    store = LocalStore(path)
    with pipeline_scope(pipeline) as settings:
        array = zarr.create_array(
            store=store,
            shape=tuple(int(s) for s in shape),
            dtype=np.dtype(dtype),
            shards=tuple(int(s) for s in shard_shape) if shard_shape is not None else None,
            chunks=tuple(int(c) for c in chunk_shape),
            compressors=compressors,
            dimension_names=list(dimension_names),
            fill_value=fill_value,
            overwrite=True,
        )
    result: SafeArray = wrap_array(array, SafeAsyncArray, settings)
    return result
