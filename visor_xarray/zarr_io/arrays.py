"""The array classes: :class:`SafeArray` (writable) and :class:`ReadOnlyArray`.

- Writes commit whole shards atomically (:mod:`visor_xarray.zarr_io.commit`), and a
  guarded array (:func:`guard_writes`) stops committing once its write is abandoned.
- Failed reads name the corrupt shard file (:mod:`visor_xarray.zarr_io.corruption`).
- **Settings travel.** An array keeps the pipeline settings it was opened with (pipeline,
  ``zarrs_threads``, ``validate_checksums``) through pickling: on a dask worker it is
  rebuilt under the same settings (zarrs would otherwise read the worker's defaults).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.core.array import AsyncArray
from zarr.core.metadata import ArrayV3Metadata
from zarr.storage import StorePath

from visor_xarray.errors import ReadOnlyError
from visor_xarray.zarr_io.commit import atomic_commit_enabled, set_selection_atomic
from visor_xarray.zarr_io.corruption import (
    array_dir,
    check_shard_indexes,
    index_unverified,
    named_corruption,
)
from visor_xarray.zarr_io.pipeline import pipeline_settings, settings_of
from visor_xarray.zarr_io.remote_path import store_reconstruction_quiet

__all__ = [
    "ReadOnlyArray",
    "ReadOnlyAsyncArray",
    "SafeArray",
    "SafeAsyncArray",
    "as_safe",
    "guard_writes",
    "with_pipeline_settings",
    "wrap_array",
]


def _rebuild(
    cls: type[SafeAsyncArray],
    metadata: Any,
    store_path: StorePath,
    config: Any,
    settings: dict[str, Any],
    guard: tuple[Path, str] | None = None,
    remote: Any = None,
) -> SafeAsyncArray:
    if remote is not None:  # the store is rebuilt here, credentials from this process
        store = remote.zarr_store(read_only=issubclass(cls, ReadOnlyAsyncArray))
        store_path = StorePath(store, remote.key)
    with zarr.config.set(settings), store_reconstruction_quiet():
        array = cls(metadata=metadata, store_path=store_path, config=config)
    object.__setattr__(array, "_visor_settings", dict(settings))
    object.__setattr__(array, "_visor_guard", guard)
    if remote is not None:  # pickled again (dask ships graphs more than once): by URL
        object.__setattr__(array, "_visor_remote", remote)
    return array


class SafeAsyncArray(AsyncArray):  # type: ignore[type-arg]
    """The async half of :class:`SafeArray`: named corruption, atomic commits, settings.

    Writes go through :meth:`_set_selection` (every zarr write path does), reads through
    :meth:`_get_selection`.

    Parameters
    ----------
    metadata : zarr.core.metadata.ArrayV3Metadata
        As for ``zarr.AsyncArray``.
    store_path : zarr.storage.StorePath
        As for ``zarr.AsyncArray``.
    config : zarr.core.array_spec.ArrayConfig
        As for ``zarr.AsyncArray``.
    """

    @property
    def pipeline_settings(self) -> dict[str, Any]:
        """zarr configuration the array was built under (re-applied when unpickled)."""
        return settings_of(self)

    def __reduce__(self) -> tuple[Any, ...]:
        guard = getattr(self, "_visor_guard", None)
        remote = getattr(self, "_visor_remote", None)
        return (
            _rebuild,
            (
                type(self),
                self.metadata,
                None if remote is not None else self.store_path,
                self.config,
                self.pipeline_settings,
                guard,
                remote,
            ),
        )

    async def _get_selection(self, indexer: Any, *args: Any, **kwargs: Any) -> Any:
        if index_unverified(self):
            await asyncio.to_thread(check_shard_indexes, self, list(indexer))
        try:
            return await super()._get_selection(indexer, *args, **kwargs)
        except Exception as error:
            named = await named_corruption(self, error, indexer, "reading", args, kwargs)
            if named is None:
                raise
            raise named from error

    async def _set_selection(self, indexer: Any, value: Any, *args: Any, **kwargs: Any) -> None:
        directory = array_dir(self)
        if (
            directory is None
            or not atomic_commit_enabled()
            or not isinstance(self.metadata, ArrayV3Metadata)
        ):
            await super()._set_selection(indexer, value, *args, **kwargs)
            return
        await set_selection_atomic(self, directory, indexer, value, *args, **kwargs)


def _expand_integers(
    selection: Any, shape: Sequence[int]
) -> tuple[tuple[slice, ...], tuple[Any, ...]] | None:
    """Replace integer indices of a basic selection by length-1 slices.

    zarrs 0.2.3 fails (``RuntimeError: incompatible offset ...``) on selections that mix
    integer indices with a slice crossing a shard boundary, e.g. ``a[1, 0, 12:17, 8, 34]``
    with 16-voxel shards. Returns ``(block, take)`` such that ``a[block][take]`` is
    ``a[selection]``, or None when the selection is not a plain int/slice tuple.
    """
    items = selection if isinstance(selection, tuple) else (selection,)
    if len(items) > len(shape):
        return None
    if not any(isinstance(k, int | np.integer) and not isinstance(k, bool) for k in items):
        return None
    block: list[slice] = []
    take: list[Any] = []
    for k, size in zip(items, shape, strict=False):
        if isinstance(k, bool | np.bool_):
            return None
        if isinstance(k, int | np.integer):
            index = int(k) + size if int(k) < 0 else int(k)
            if not 0 <= index < size:
                return None  # let zarr raise its own IndexError
            block.append(slice(index, index + 1))
            take.append(0)
        elif isinstance(k, slice):
            block.append(k)
            take.append(slice(None))
        else:
            return None
    return tuple(block), tuple(take)


class SafeArray(zarr.Array):  # type: ignore[type-arg]
    """A ``zarr.Array`` whose writes commit whole shards atomically and whose failed reads
    name the corrupt shard file (see the module documentation).

    Basic selections with integer indices are read as length-1 slices (works around a
    zarrs 0.2.3 bug with integer indices and slices that cross a shard boundary).

    Parameters
    ----------
    _async_array : SafeAsyncArray
        The async array (as for ``zarr.Array``).
    """

    def __getitem__(self, selection: Any) -> Any:
        expanded = _expand_integers(selection, self.shape)
        if expanded is None:
            return super().__getitem__(selection)
        block, take = expanded
        result = np.asarray(super().__getitem__(block))[take]
        return np.asarray(result) if np.ndim(result) == 0 else result

    @property
    def pipeline_settings(self) -> dict[str, Any]:
        """zarr configuration the array was built under (re-applied when unpickled)."""
        inner = self.async_array
        if isinstance(inner, SafeAsyncArray):
            return inner.pipeline_settings
        return pipeline_settings()


def _refusal(store_path: Any) -> ReadOnlyError:
    location = getattr(store_path.store, "root", store_path)
    return ReadOnlyError(str(location), "write to this array")


class ReadOnlyAsyncArray(SafeAsyncArray):
    """The async half of :class:`ReadOnlyArray`: closes the ``.async_array`` route too.

    Parameters
    ----------
    metadata : zarr.core.metadata.ArrayV3Metadata
        As for ``zarr.AsyncArray``.
    store_path : zarr.storage.StorePath
        As for ``zarr.AsyncArray``.
    config : zarr.core.array_spec.ArrayConfig
        As for ``zarr.AsyncArray``.
    """

    async def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise _refusal(self.store_path)

    _set_selection = _refuse
    setitem = _refuse
    resize = _refuse
    append = _refuse
    update_attributes = _refuse


class ReadOnlyArray(SafeArray):
    """A ``zarr.Array`` that refuses every write, synchronous or asynchronous.

    zarrs writes shard files itself, so a read-only ``LocalStore`` does not stop a write
    through the zarrs pipeline (see docs/ecosystem notes); this wrapper does.

    Parameters
    ----------
    _async_array : ReadOnlyAsyncArray
        The async array (as for ``zarr.Array``).
    """

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise _refusal(self.store_path)

    __setitem__ = _refuse
    set_basic_selection = _refuse
    set_orthogonal_selection = _refuse
    set_mask_selection = _refuse
    set_coordinate_selection = _refuse
    set_block_selection = _refuse
    resize = _refuse
    append = _refuse
    update_attributes = _refuse


def wrap_array(array: zarr.Array, cls: type[SafeAsyncArray], settings: dict[str, Any]) -> Any:  # type: ignore[type-arg]
    """Rebuild an array on one of this package's async array classes.

    Parameters
    ----------
    array : zarr.Array
        The array opened by zarr.
    cls : type
        :class:`SafeAsyncArray` or :class:`ReadOnlyAsyncArray`.
    settings : dict
        The pipeline settings it was built under (see
        :func:`~visor_xarray.zarr_io.pipeline.settings_of`).

    Returns
    -------
    SafeArray or ReadOnlyArray
        The same array, sharing metadata, store and codec pipeline.
    """
    inner = array.async_array
    wrapped = cls.__new__(cls)
    for name in ("metadata", "store_path", "config", "codec_pipeline"):
        object.__setattr__(wrapped, name, getattr(inner, name))
    remote = getattr(inner, "_visor_remote", None)
    if remote is not None:
        object.__setattr__(wrapped, "_visor_remote", remote)
    object.__setattr__(wrapped, "_visor_settings", dict(settings))
    return (ReadOnlyArray if cls is ReadOnlyAsyncArray else SafeArray)(wrapped)


def guard_writes(array: zarr.Array, image: Path, token: str) -> SafeArray:  # type: ignore[type-arg]
    """Return ``array`` whose shard commits require the image's marker to hold ``token``.

    A write that fails (or is taken over by another writer) stops committing shards at
    once, even from tasks still running in other threads, processes or dask workers:
    each commit first checks that ``{image}/.visor-write.json`` still names ``token``
    in state ``"writing"``.

    Parameters
    ----------
    array : zarr.Array
        A writable array of the image.
    image : pathlib.Path
        The image directory.
    token : str
        The ``token`` of the marker taken by :func:`image_write`.

    Returns
    -------
    SafeArray
    """
    safe = as_safe(array)
    wrapped = wrap_array(safe, SafeAsyncArray, settings_of(safe.async_array))
    object.__setattr__(wrapped.async_array, "_visor_guard", (Path(image), str(token)))
    result: SafeArray = wrapped
    return result


def as_safe(array: zarr.Array) -> SafeArray:  # type: ignore[type-arg]
    """Return ``array`` as a :class:`SafeArray` sharing its codec pipeline (reads name
    corrupt shards; writes commit atomically). Arrays already safe are returned as is."""
    if isinstance(array, SafeArray) and isinstance(array.async_array, SafeAsyncArray):
        return array
    result: SafeArray = wrap_array(array, SafeAsyncArray, settings_of(array.async_array))
    return result


def with_pipeline_settings(
    array: zarr.Array,  # type: ignore[type-arg]
    settings: Mapping[str, Any],
) -> SafeArray:
    """Return ``array`` rebuilt under other pipeline settings (same class, store and guard).

    Parameters
    ----------
    array : zarr.Array
        A level array (read-only arrays stay read-only).
    settings : mapping
        zarr config keys, as returned by ``SafeArray.pipeline_settings``.

    Returns
    -------
    SafeArray
    """
    inner = as_safe(array).async_array
    rebuilt = _rebuild(
        type(inner) if isinstance(inner, SafeAsyncArray) else SafeAsyncArray,
        inner.metadata,
        inner.store_path,
        inner.config,
        dict(settings),
        getattr(inner, "_visor_guard", None),
    )
    wrapper = ReadOnlyArray if isinstance(rebuilt, ReadOnlyAsyncArray) else SafeArray
    result: SafeArray = wrapper(rebuilt)
    return result
