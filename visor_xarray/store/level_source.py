""":class:`LevelSource`: one resolution level of one stored image, openable anywhere.

The engine records what it opened (sample, image type, name, level and the codec pipeline
settings) as a ``LevelSource`` in the ``image`` variable's encoding
(``encoding["visor_source"]``). Resampling reads stored images through it: it opens any
level of the same image through the store, with the opener's settings, in whichever
process runs the read (a dask worker included). It pickles as a few strings and a small
dict, never as an open array or file handle.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from visor_xarray import layout
from visor_xarray.store.vsr_store import VsrStore
from visor_xarray.zarr_io import SafeArray, pipeline_settings, read_outer, with_pipeline_settings
from visor_xarray.zarr_io.remote_path import RemotePath

__all__ = ["SOURCE_ENCODING", "LevelSource"]

#: Key of the :class:`LevelSource` in the encoding of an image variable opened by the engine.
SOURCE_ENCODING = "visor_source"


@dataclass(frozen=True)
class LevelSource:
    """One resolution level of one stored image, with the settings it is read under.

    Parameters
    ----------
    sample : str or RemotePath
        Path of the ``.vsr`` sample, or the sample at a URL (which pickles as its URL and
        storage options without secrets).
    image_type, name : str
        The image.
    level : str
        Resolution level path.
    settings : tuple of (str, object)
        zarr configuration of the reads (codec pipeline, checksums, thread caps), as
        ``sorted(SafeArray.pipeline_settings.items())``.

    Examples
    --------
    >>> source = LevelSource.of(sample_path, "raw", "slice_1_10x", "0")  # doctest: +SKIP
    >>> source.at("1").read((0, 0, slice(0, 4), slice(0, 4), slice(0, 4)))  # doctest: +SKIP
    """

    sample: str | RemotePath
    image_type: str
    name: str
    level: str
    settings: tuple[tuple[str, Any], ...] = field(default=())

    @classmethod
    def of(
        cls,
        sample: str | Path | RemotePath,
        image_type: str,
        name: str,
        level: str | int,
        settings: Mapping[str, Any] | None = None,
    ) -> LevelSource:
        """Build a source; ``settings`` default to the options in force now.

        Parameters
        ----------
        sample : str or pathlib.Path
            The ``.vsr`` sample.
        image_type, name : str
            The image.
        level : str or int
            Resolution level path.
        settings : mapping, optional
            zarr configuration (``SafeArray.pipeline_settings``).

        Returns
        -------
        LevelSource
        """
        chosen = pipeline_settings() if settings is None else settings
        place = sample if isinstance(sample, RemotePath) else str(sample)
        return cls(place, image_type, name, str(level), tuple(sorted(chosen.items())))

    def at(self, level: str | int) -> LevelSource:
        """The same image and settings at another level.

        Parameters
        ----------
        level : str or int
            Resolution level path.

        Returns
        -------
        LevelSource
        """
        return replace(self, level=str(level))

    def array(self) -> SafeArray:
        """The level array (read-only), opened once per process and source.

        Returns
        -------
        SafeArray

        Raises
        ------
        NotAVsrError, UnknownImageError, UnknownLevelError, MetadataError
            As :meth:`VsrStore.level_array`.
        """
        stamp = None  # the store raises the error that names what is missing
        if not isinstance(self.sample, RemotePath):  # remote metadata are not watched
            image = layout.image_dir(Path(self.sample), self.image_type, self.name)
            with contextlib.suppress(OSError):
                stamp = (layout.level_dir(image, self.level) / "zarr.json").stat().st_mtime_ns
        return _open(self, stamp)

    def read(self, index: tuple[Any, ...]) -> np.ndarray:
        """Read an outer selection (integers, slices, 1-D integer arrays per axis).

        Parameters
        ----------
        index : tuple
            One entry per axis of the level array.

        Returns
        -------
        numpy.ndarray

        Raises
        ------
        CorruptDataError
            If a shard the selection touches cannot be decoded.
        """
        return read_outer(self.array(), index)


# Bounded: a process reads few images; each entry holds zarr metadata, not data. The
# modification time of the level's zarr.json is part of the key, so an image rewritten
# in place is opened afresh.
@functools.lru_cache(maxsize=64)
def _open(source: LevelSource, stamp: int | None) -> SafeArray:
    store = VsrStore(source.sample)
    array = store.level_array(source.image_type, source.name, source.level)
    return with_pipeline_settings(array, dict(source.settings))
