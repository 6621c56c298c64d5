"""Checks of level arrays: their metadata against the image's, and (``deep=True``) the
decoding of every stored shard.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from visor_xarray import layout
from visor_xarray.chunking import grow_chunks
from visor_xarray.errors import CorruptDataError
from visor_xarray.options import set_options
from visor_xarray.schema import ImageAttrs
from visor_xarray.validate.problems import Recorder
from visor_xarray.zarr_io.corruption import shard_index_problem, sharding_codec

__all__ = ["DEEP_READ_BYTES", "ArrayChecks"]

#: Bytes decoded at once when ``deep=True`` reads a shard (shards can be far larger).
DEEP_READ_BYTES = 64 * 2**20


class ArrayChecks(Recorder):
    """Checks each level array of an image, and with ``deep`` decodes its shards.

    Parameters
    ----------
    store, deep
        As :class:`~visor_xarray.validate.problems.Recorder`.
    """

    def check_level(self, image_type: str, name: str, level: str, attrs: ImageAttrs) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # incomplete images are reported above
            with set_options(validate_checksums=True):
                array = self.store.level_array(
                    image_type, name, level, attrs=attrs, pipeline="zarrs"
                )
        level_doc = layout.array_document(layout.image_dir(self.root, image_type, name) / level)
        names = getattr(array.metadata, "dimension_names", None)
        axes = attrs.multiscale.dims
        if array.metadata.zarr_format == 2:
            pass  # Zarr v2 (legacy layout, reported per image) has no dimension names
        elif names is None:
            self.add(
                level_doc,
                "dimension_names",
                "missing: OME-Zarr 0.5 requires the axis "
                f"names {list(axes)} here (not compliant, still readable)",
                "warning",
            )
        elif tuple(names) != tuple(a.name for a in attrs.multiscale.axes):
            self.add(
                level_doc,
                "dimension_names",
                f"{list(names)} differ from the axes "
                f"{[a.name for a in attrs.multiscale.axes]} of the image",
                "warning",
            )
        sharding = sharding_codec(array.metadata)
        if sharding is not None and not any(
            type(c).__name__ == "Crc32cCodec" for c in sharding.index_codecs
        ):
            self.add(
                level_doc,
                "codecs[0].configuration.index_codecs",
                "no crc32c codec: damaged shard indexes cannot be detected",
                "warning",
            )
        if self.deep:
            self.check_shards(array, layout.image_dir(self.root, image_type, name) / level)

    def check_shards(self, array: Any, directory: Path) -> None:
        grid = tuple(int(c) for c in array.metadata.chunk_grid.chunk_shape)
        shape = tuple(int(s) for s in array.shape)
        counts = tuple(-(-s // g) for s, g in zip(shape, grid, strict=True))
        inner = tuple(int(c) for c in array.chunks)
        piece = grow_chunks(inner, grid, shape, array.dtype.itemsize, DEEP_READ_BYTES)
        stored = 0
        for coords, file in self.shard_files(array, directory, counts):
            stored += coords is not None
            if coords is None:
                self.add(
                    file,
                    "",
                    "stray file among the shards (not a chunk key of this array)",
                    "warning",
                )
                continue
            if file.is_dir():
                self.add(
                    file, "", "a directory where a shard file belongs (the shard cannot be read)"
                )
                continue
            problem = shard_index_problem(file, array.metadata)
            if problem is not None:  # checked first: zarrs may abort on such an index
                self.add(file, "", f"corrupt shard: {problem}")
                continue
            origin = [c * g for c, g in zip(coords, grid, strict=True)]
            extent = [min(g, s - o) for g, s, o in zip(grid, shape, origin, strict=True)]
            steps = [range(0, e, p) for e, p in zip(extent, piece, strict=True)]
            for offset in np.ndindex(*[len(s) for s in steps]):
                starts = [o + s[i] for o, s, i in zip(origin, steps, offset, strict=True)]
                box = tuple(
                    slice(a, min(a + p, o + e))
                    for a, p, o, e in zip(starts, piece, origin, extent, strict=True)
                )
                try:
                    array[box]
                except CorruptDataError as error:
                    cause = error.__cause__ or error
                    self.add(
                        file,
                        "",
                        f"corrupt shard (cannot be decoded): {type(cause).__name__}: {cause}",
                    )
                    break
                except Exception as error:
                    self.add(file, "", f"shard cannot be decoded: {type(error).__name__}: {error}")
                    break
        expected = math.prod(counts)
        if expected and not stored:
            # legal (missing shards read as the fill value) but almost never meant: a
            # write that never happened, or shard files lost in a copy
            self.add(
                directory,
                "",
                f"none of the {expected} shard file(s) of this level is stored: it reads as "
                f"the fill value ({array.metadata.fill_value}) everywhere",
                "warning",
            )

    def shard_files(
        self, array: Any, directory: Path, counts: tuple[int, ...]
    ) -> Iterator[tuple[tuple[int, ...] | None, Path]]:
        metadata = array.metadata
        for file in sorted(directory.rglob("*")):
            if file.name == "zarr.json" or file.name.startswith("."):
                continue
            key = file.relative_to(directory).as_posix()
            coords = None
            for candidate in _key_coords(key, len(counts)):
                if (
                    all(0 <= c < n for c, n in zip(candidate, counts, strict=True))
                    and metadata.encode_chunk_key(candidate) == key
                ):
                    coords = candidate
                    break
            if file.is_dir() and coords is None:
                continue  # an intermediate directory of the key tree
            yield coords, file


def _key_coords(key: str, ndim: int) -> Iterator[tuple[int, ...]]:
    """Candidate grid coordinates of a chunk key (default and v2 encodings, either separator)."""
    for text in (key.removeprefix("c/").removeprefix("c."), key):
        for separator in ("/", "."):
            parts = text.split(separator)
            if len(parts) == ndim and all(p.isdigit() for p in parts):
                yield tuple(int(p) for p in parts)
