"""The visor-py-style :class:`Image`: open, inspect and create the levels of one image."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from visor_xarray import layout
from visor_xarray.errors import (
    InvalidArrayError,
    MetadataError,
    TargetExistsError,
    UnknownLevelError,
)
from visor_xarray.schema import ImageAttrs, check_array_matches, parse_image_attrs
from visor_xarray.store import IMAGE_MODES, SampleMode, VsrStore
from visor_xarray.zarr_io.levels import check_dtype

if TYPE_CHECKING:
    import zarr

__all__ = ["Image"]


class Image:
    """One image of a sample, visor-py style.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.vsr`` directory.
    type : str, default "raw"
        Image type (``visor_{type}_images``).
    name : str, optional
        Image name (directory name without ``.zarr``). None picks the only image of the
        type.
    mode : {"r", "r+", "a", "w-", "w"}, default "r"
        ``"r"``: read only, the image must exist, arrays refuse writes. ``"r+"``: read and
        write, the image must exist. ``"a"``: read and write, created by :meth:`create` if
        missing (the sample too). ``"w-"``: create, failing now if the image exists.
        ``"w"``: create, replacing an existing image at the first :meth:`create`.
        A sample at a URL opens with ``"r"`` only.
    storage_options : mapping, optional
        For a sample at a URL (``s3://``, ``http(s)://``): ``key``, ``secret``, ``token``,
        ``endpoint_url``, ``region``, ``anon``, ``client_kwargs`` (docs/remote.md).

    Raises
    ------
    NotAVsrError, UnknownImageError, TargetExistsError
        For a missing sample, a missing image (modes ``r``/``r+``) or an existing one
        (mode ``w-``).

    Examples
    --------
    >>> img = vx.Image(sample_path, type="raw", name="slice_1_10x")  # doctest: +SKIP
    >>> arr = img.open(0)                                           # doctest: +SKIP
    >>> arr[img.label_to_index("stack", "stack_1"), 0].shape         # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | Path,
        type: str = "raw",
        name: str | None = None,
        mode: str = "r",
        *,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        if mode not in IMAGE_MODES:
            raise ValueError(f"mode must be one of {IMAGE_MODES}, got {mode!r}")
        self.mode = mode
        self.type = layout.check_name(type, "image type", path)
        if name is not None:  # refuse a bad name before mode 'a' creates the sample
            layout.check_name(name, "image name", path)
        sample_mode: SampleMode = "r" if mode == "r" else ("r+" if mode == "r+" else "a")
        self._store = VsrStore(path, sample_mode, storage_options=storage_options)
        self.name = name if name is not None else self._store.only_image(self.type)
        layout.check_name(self.name, "image name", path)
        self.path = layout.image_dir(self._store.path, self.type, self.name)
        exists = (self.path / "zarr.json").exists()
        if mode in ("r", "r+") and not exists:
            self._store.image_dir(self.type, self.name)  # raises, listing the images
        if mode == "w-" and exists:
            raise TargetExistsError(
                self.path, "image", "mode='w-' refuses to replace it; use mode='w' or 'a'"
            )
        self._pending_replace = mode == "w"

    def __repr__(self) -> str:
        sample = str(self._store.path)
        return f"Image({sample!r}, type={self.type!r}, name={self.name!r}, mode={self.mode!r})"

    @property
    def store(self) -> VsrStore:
        """The sample store this image belongs to."""
        return self._store

    @property
    def attrs(self) -> ImageAttrs:
        """The image's parsed metadata (read afresh on each access)."""
        return self._store.image_attrs(self.type, self.name)

    @property
    def levels(self) -> tuple[str, ...]:
        """Resolution level paths, finest first."""
        return self.attrs.multiscale.level_paths

    def open(self, resolution: str | int = 0) -> zarr.Array:  # type: ignore[type-arg]
        """Open one resolution level as a lazy ``zarr.Array`` (zarrs pipeline).

        Parameters
        ----------
        resolution : str or int, default 0
            Level path.

        Returns
        -------
        zarr.Array
            All dims kept (5-D for raw images). Read-only in mode ``"r"``: writes raise
            :class:`~visor_xarray.errors.ReadOnlyError`.

        Raises
        ------
        UnknownLevelError
            If the level does not exist (the message lists those that do).
        """
        return self._store.level_array(self.type, self.name, resolution, writable=self.mode != "r")

    def label_to_index(self, filter_type: str, filter_label: str) -> int:
        """Return the axis index of a stack (``"stack"``) or channel (``"channel"``) label.

        See :meth:`visor_xarray.schema.ImageAttrs.label_to_index`.
        """
        return self.attrs.label_to_index(filter_type, filter_label, self.path)

    def create(
        self,
        resolution: str | int = 0,
        dtype: Any = "uint16",
        attr: dict[str, Any] | ImageAttrs | None = None,
        shape: Sequence[int] | None = None,
        shard_size: Sequence[int] | None = None,
        chunk_size: Sequence[int] | None = None,
        compressors: Any = None,
    ) -> zarr.Array:  # type: ignore[type-arg]
        """Create one resolution level (and, with ``attr``, the image's metadata).

        Parameters
        ----------
        resolution : str or int, default 0
            Level path; it must be listed in the multiscales of ``attr`` (or of the
            existing image).
        dtype : str or numpy.dtype, default "uint16"
        attr : dict or ImageAttrs, optional
            Group attributes ``{"ome": ..., "visor": ...}``; required for a new image.
            Validated before anything is written.
        shape : sequence of int
            Array shape; its length must equal the number of axes.
        shard_size : sequence of int, optional
            Shard shape (default: the whole array in one shard per stack and channel).
        chunk_size : sequence of int, optional
            Inner chunk shape (default: ``(1, 1, 64, 64, 64)`` clipped to the shape).
        compressors : zarr codec, optional
            Default: blosc zstd 5 with shuffle.

        Returns
        -------
        zarr.Array
            The new, writable, empty (fill value 0) level array.

        Raises
        ------
        ReadOnlyError
            In mode ``"r"``.
        MetadataError
            If ``attr`` breaks the schema.
        InvalidArrayError
            For an invalid dtype or a shape/chunking that does not fit the axes.
        TargetExistsError
            If the level array exists already.
        """
        if self.mode == "r":
            self._store.require_writable("create an image level")
        if attr is None:
            attrs = self.attrs
        elif isinstance(attr, ImageAttrs):
            attrs = attr
        else:
            try:
                attrs = parse_image_attrs(attr)
            except MetadataError as error:
                raise error.located(self.path / "zarr.json") from None
        level = layout.check_name(str(resolution), "resolution level", self.path)
        if level not in attrs.multiscale.level_paths:
            raise UnknownLevelError(
                self.path,
                "resolution level (in attr's multiscales)",
                level,
                attrs.multiscale.level_paths,
            )
        if shape is None:
            raise InvalidArrayError(f"{self.path}/{level}: shape is required to create a level")
        shape = tuple(int(s) for s in shape)
        try:
            np_dtype = check_dtype(dtype)
        except (TypeError, ValueError) as error:
            raise InvalidArrayError(
                f"{self.path}/{level}: invalid dtype {dtype!r}: {error}"
            ) from None
        # Everything that can fail is checked before the first byte is written.
        if len(shape) != len(attrs.multiscale.axes):
            raise InvalidArrayError(
                f"{self.path}/{level}: shape {shape} has {len(shape)} dimensions but the image "
                f"has {len(attrs.multiscale.axes)} axes {list(attrs.multiscale.dims)}"
            )
        check_array_matches(attrs, shape, level, self.path / "zarr.json")
        chunks, shards = _chunking(str(self.path / level), shape, chunk_size, shard_size)
        if not self._pending_replace and (self.path / level / "zarr.json").exists():
            raise TargetExistsError(
                self.path / level,
                "resolution level array",
                "open the image with mode='w' to replace it",
            )
        if attr is not None or self._pending_replace or not (self.path / "zarr.json").exists():
            mode = "w" if self._pending_replace else ("a" if self.mode != "w-" else "w-")
            self._store.create_image(self.type, self.name, attrs, mode)
            self._pending_replace = False
            if self.mode == "w-":
                self.mode = "a"  # the image is ours now: further levels may be added
        return self._store.create_level(
            self.type,
            self.name,
            level,
            shape=shape,
            dtype=np_dtype,
            chunk_shape=chunks,
            shard_shape=shards,
            compressors=compressors,
            attrs=attrs,
        )


def _chunking(
    where: str,
    shape: tuple[int, ...],
    chunk_size: Sequence[int] | None,
    shard_size: Sequence[int] | None,
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    ndim = len(shape)
    if chunk_size is None:
        spatial = [64] * min(3, ndim)
        defaults = [1] * (ndim - len(spatial)) + spatial
        # default chunks never exceed the shape; chunks the caller chose are kept as given
        chunks = tuple(max(1, min(c, s)) for c, s in zip(defaults, shape, strict=True))
    else:
        chunks = tuple(int(c) for c in chunk_size)
    if shard_size is None:
        shard_size = [1] * (ndim - 3) + [
            -(-s // c) * c for s, c in zip(shape[-3:], chunks[-3:], strict=True)
        ]
    shards = tuple(int(s) for s in shard_size)
    for name, value in (("chunk_size", chunks), ("shard_size", shards)):
        if len(value) != ndim:
            raise InvalidArrayError(
                f"{where}: {name} has {len(value)} values for a {ndim}-D shape {shape}"
            )
        if any(v <= 0 for v in value):
            raise InvalidArrayError(f"{where}: {name} must be positive, got {value}")
    if any(s % c for s, c in zip(shards, chunks, strict=True)):
        raise InvalidArrayError(
            f"{where}: shard_size {shards} must be a multiple of chunk_size {chunks} on every axis"
        )
    return chunks, shards
