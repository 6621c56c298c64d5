"""Transforms stored in a sample: the seed ``Transform`` API and chains between spaces.

A version (``visor_recon_transforms/{version}``) holds, per slice, the transforms listed
in ``transforms.json``; each is stored once, in one direction, at
``{from}_to_{to}/[{stack}/]{channel}/{type}.{format}`` (indices) or slice-level
``{from}_to_{to}/{type}.{format}``. Any other direction is computed: a chain through
the spaces (raw -> ortho -> slice -> brain), inverting stored affines where needed.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from visor_xarray import layout
from visor_xarray.errors import (
    ReadOnlyError,
    TargetExistsError,
    UnknownTransformError,
    UnsupportedTransformError,
)
from visor_xarray.schema import ReconInfo, ReconSlice, TransformEntry, TransformList
from visor_xarray.store import Location, VsrStore
from visor_xarray.transforms.files import READABLE, read_transform, write_transform
from visor_xarray.transforms.model import Affine, SpatialTransform, compose
from visor_xarray.zarr_io.lock import sample_lock
from visor_xarray.zarr_io.remote_path import RemotePath, relative_key, sample_path
from visor_xarray.zarr_io.remote_transfer import staged_edit

__all__ = ["KNOWN_SPACES", "Transform", "as_affine"]

#: The spaces of the schema, in pipeline order (others are appended as met).
KNOWN_SPACES = ("raw", "ortho", "slice", "brain")


def as_affine(matrix: Any) -> tuple[Affine, int | None, int | None]:
    """Coerce the matrix forms users pass to ``Transform.save`` into an :class:`Affine`.

    Accepted: an :class:`Affine`; 9 numbers or a 3x3 matrix (no translation, as in
    visor-py's README); 12 numbers (3x3 row-major then translation) or a 3x4 ``[M | t]``;
    a 4x4 homogeneous matrix; visor-py's 14-number ``params`` list
    ``[stack, channel, m00..m22, t0, t1, t2]``.

    Returns
    -------
    tuple
        ``(affine, stack, channel)``; stack and channel are set only by the 14-number form.

    Raises
    ------
    ValueError
        For any other shape.
    """
    if isinstance(matrix, Affine):
        return matrix, None, None
    values = np.asarray(matrix, dtype=np.float64)
    flat = values.ravel()
    if values.shape == (4, 4):
        return Affine.from_homogeneous(values), None, None
    if values.shape == (3, 4):
        return Affine(values[:, :3], values[:, 3]), None, None
    if values.shape in ((3, 3), (9,)):
        return Affine(flat.reshape(3, 3), np.zeros(3)), None, None
    if values.shape == (12,):
        return Affine(flat[:9].reshape(3, 3), flat[9:]), None, None
    if values.shape == (14,):
        return Affine(flat[2:11].reshape(3, 3), flat[11:]), int(flat[0]), int(flat[1])
    raise ValueError(
        f"cannot read an affine from shape {values.shape}: give an Affine, 9 values / 3x3, "
        "12 values / 3x4, a 4x4 homogeneous matrix, or visor-py's 14-number params"
    )


class Transform:
    """The stored transforms of one slice in one version, visor-py style.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.vsr`` sample.
    version : str
        Transform version (``visor_recon_transforms/{version}``).
    name : str
        Slice name: the raw image the transforms belong to (e.g. ``"slice_1_10x"``).
    mode : {"r", "a"}, default "a"
        ``"r"`` refuses :meth:`save`; ``"a"`` creates the version and slice on save.
        A sample at a URL opens with ``"r"`` only.
    storage_options : mapping, optional
        For a sample at a URL (``s3://``, ``http(s)://``): ``key``, ``secret``, ``token``,
        ``endpoint_url``, ``region``, ``anon``, ``client_kwargs`` (docs/remote.md).

    Raises
    ------
    NotAVsrError, UnknownVersionError
        For a missing sample, or (mode ``"r"``) a missing version.

    Examples
    --------
    >>> xfm = vx.Transform(sample_path, version="v1", name="slice_1_10x")   # doctest: +SKIP
    >>> shear = vx.transforms.deskew(45, (3.5, 1.03, 1.03), 788)            # doctest: +SKIP
    >>> xfm.save(shear, stack=0, channel=0)                                  # doctest: +SKIP
    >>> xfm.load("raw_to_ortho", stack=0, channel=0).apply([0, 0, 0])        # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        version: str,
        name: str,
        mode: str = "a",
        *,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        if mode not in ("r", "a"):
            raise ValueError(f"mode must be 'r' or 'a', got {mode!r}")
        self.mode = mode
        sample = sample_path(path, storage_options)
        # a remote sample opens read-only; saves go through a local copy of the version
        remote = isinstance(sample, RemotePath)
        self._store = VsrStore(sample, "r" if mode == "r" or remote else "r+")
        self.version = layout.check_name(version, "transform version", self._store.path)
        self.name = layout.check_name(name, "slice name", self._store.path)
        if mode == "r":
            self._store.slice_dir(version, name)  # raises, listing what exists

    def __repr__(self) -> str:
        return (
            f"Transform({str(self._store.path)!r}, version={self.version!r}, name={self.name!r})"
        )

    @property
    def path(self) -> Location:
        """The slice directory inside the version."""
        return self._store.slice_dir(self.version, self.name, must_exist=False)

    @property
    def entries(self) -> tuple[TransformEntry, ...]:
        """The entries of this slice's ``transforms.json``."""
        if not self.path.is_dir():
            return ()
        return self._store.transform_list(self.version, self.name).entries

    @property
    def spaces(self) -> tuple[str, ...]:
        """Spaces of the version (``recon.json``), or those the stored transforms connect."""
        recon = (
            self._store.recon(self.version)
            if self._store.version_dir(self.version, must_exist=False).is_dir()
            else None
        )
        found = list(recon.spaces) if recon is not None else []
        for entry in self.entries:
            for space in entry.spaces:
                if space not in found:
                    found.append(space)
        return tuple(found)

    def _index(self, kind: str, value: int | str | None) -> int | None:
        if value is None or isinstance(value, int | np.integer):
            return None if value is None else int(value)
        attrs = self._store.image_attrs(layout.RAW, self.name)
        return attrs.label_to_index(kind, value, self._store.path / self.name)

    # ------------------------------------------------------------------------ save

    def save(
        self,
        matrix: Any,
        name: str = "raw_to_ortho",
        type: str = "affine",
        format: str = "tfm",
        stack: int | str | None = None,
        channel: int | str | None = None,
        *,
        overwrite: bool = False,
        axis_order: str = "zyx",
    ) -> Location:
        """Store an affine transform and register it in ``transforms.json`` / ``recon.json``.

        Parameters
        ----------
        matrix : Affine or array-like
            See :func:`as_affine` for the accepted forms. The centre is kept (``.tfm``
            stores it; ``.npy`` and zarr fold it into the translation: the same map).
        name : str, default "raw_to_ortho"
            ``{from}_to_{to}``: the direction the stored transform maps.
        type : {"affine"}, default "affine"
        format : {"tfm", "npy", "zarr"}, default "tfm"
        stack, channel : int or str, optional
            Stack / channel (index, or label resolved through the raw image). Both given:
            a per-stack/channel file; only ``channel``: per channel; neither: slice level.
        overwrite : bool, default False
            Replace an existing file.
        axis_order : {"zyx", "xyz"}, default "zyx"
            Point order written to the file.

        Returns
        -------
        pathlib.Path or RemotePath
            The file written (in a remote sample: uploaded, through a local copy of the
            version).

        Raises
        ------
        ReadOnlyError
            In mode ``"r"``.
        TargetExistsError
            If the file exists and ``overwrite`` is False.
        UnsupportedTransformError
            For a type/format pair that cannot be written.
        """
        if self.mode == "r":
            raise ReadOnlyError(self.path, "save a transform")
        if isinstance(self._store.path, RemotePath):
            # labels are resolved here, against the remote raw image: the staged copy
            # holds the transform version only
            return self._save_remote(
                matrix,
                name,
                type,
                format,
                self._index("stack", stack) if stack is not None else None,
                self._index("channel", channel) if channel is not None else None,
                overwrite,
                axis_order,
            )
        affine, legacy_stack, legacy_channel = as_affine(matrix)
        stack_index = self._index("stack", stack) if stack is not None else legacy_stack
        channel_index = self._index("channel", channel) if channel is not None else legacy_channel
        if "_to_" not in name:
            raise ValueError(f"transform name must be '{{from}}_to_{{to}}', got {name!r}")
        existing = next((e for e in self.entries if e.name == name), None)
        if existing is not None and (existing.type, existing.format) != (type, format):
            raise TargetExistsError(
                self.path / "transforms.json",
                f"transform {name!r} (stored as {existing.type}/{existing.format})",
                f"a slice stores each transform in one type/format; use type={existing.type!r}, "
                f"format={existing.format!r}",
            )
        slice_dir = layout.version_dir(self._store.local_path, self.version) / self.name
        file = layout.transform_file(slice_dir, name, type, format, stack_index, channel_index)
        if file.exists() and not overwrite:
            raise TargetExistsError(file, "transform file", "pass overwrite=True to replace it")
        write_transform(file, affine, type, format, axis_order=axis_order)
        # transforms.json and recon.json are read-modify-written: serialised across writers
        with sample_lock(self._store.local_path):
            if existing is None:
                entries = (
                    self._store.transform_list(self.version, self.name).entries
                    if self.path.is_dir()
                    else ()
                )
                self._store.write_transform_list(
                    self.version,
                    self.name,
                    TransformList(
                        entries=(*entries, TransformEntry(name=name, type=type, format=format))
                    ),
                )
            self._register(name)
        return file

    def _save_remote(
        self,
        matrix: Any,
        name: str,
        type: str,
        format: str,
        stack: int | None,
        channel: int | None,
        overwrite: bool,
        axis_order: str,
    ) -> Location:
        """:meth:`save` into a remote sample, through a local copy of the version."""
        sample = self._store.path
        assert isinstance(sample, RemotePath)

        def save_locally(local: Path) -> Location:
            saver = Transform(local, self.version, self.name, mode="a")
            file = saver.save(
                matrix,
                name,
                type,
                format,
                stack,
                channel,
                overwrite=overwrite,
                axis_order=axis_order,
            )
            return sample / relative_key(file, local)

        version = relative_key(layout.version_dir(sample, self.version), sample)
        return staged_edit(sample, version, "transform", save_locally)

    def _register(self, transform: str) -> None:
        version_dir = self._store.version_dir(self.version, must_exist=False)
        recon = self._store.recon(self.version) if version_dir.is_dir() else None
        recon = recon or ReconInfo()
        source, _, target = transform.partition("_to_")
        spaces = list(recon.spaces)
        for space in (source, target):
            if space not in spaces:
                spaces.append(space)
        spaces.sort(
            key=lambda s: KNOWN_SPACES.index(s) if s in KNOWN_SPACES else len(KNOWN_SPACES)
        )
        slices = list(recon.slices)
        position = next((i for i, s in enumerate(slices) if s.name == self.name), None)
        if position is None:
            slices.append(ReconSlice(name=self.name, transforms=(transform,)))
        elif transform not in slices[position].transforms:
            slices[position] = replace(
                slices[position], transforms=(*slices[position].transforms, transform)
            )
        self._store.write_recon(
            self.version, replace(recon, spaces=tuple(spaces), slices=tuple(slices))
        )

    # ------------------------------------------------------------------------ load

    def _file(self, entry: TransformEntry, stack: int | None, channel: int | None) -> Location:
        candidates = []
        if stack is not None and channel is not None:
            candidates.append(
                layout.transform_file(
                    self.path, entry.name, entry.type, entry.format, stack, channel
                )
            )
        if channel is not None:
            candidates.append(
                layout.transform_file(
                    self.path, entry.name, entry.type, entry.format, None, channel
                )
            )
        candidates.append(layout.transform_file(self.path, entry.name, entry.type, entry.format))
        for candidate in candidates:
            if candidate.is_file() or (entry.format == "zarr" and candidate.is_dir()):
                return candidate
        stored = (
            sorted(
                relative_key(p, self.path)
                for p in (self.path / entry.name).rglob(f"{entry.type}.{entry.format}")
            )
            if (self.path / entry.name).is_dir()
            else []
        )
        raise UnknownTransformError(
            self.path / entry.name,
            f"file for stack={stack}, channel={channel} (stored files listed)",
            f"{entry.type}.{entry.format}",
            stored,
        )

    def load(
        self,
        name: str = "raw_to_ortho",
        stack: int | str | None = None,
        channel: int | str | None = None,
        *,
        axis_order: str = "zyx",
    ) -> SpatialTransform:
        """Load the transform ``{from}_to_{to}`` (or the inverse of the one stored the other way).

        Parameters
        ----------
        name : str, default "raw_to_ortho"
            The direction wanted.
        stack, channel : int or str, optional
            Index or label; the most specific stored file is used (stack+channel, then
            channel, then slice level).
        axis_order : {"zyx", "xyz"}, default "zyx"
            Point order of the stored file.

        Returns
        -------
        Affine or DisplacementField

        Raises
        ------
        UnknownTransformError
            If neither direction is listed, or no file fits (the message lists the files).
        UnsupportedTransformError
            For a type/format that cannot be read, or the inverse of a displacement field.
        """
        source, _, target = name.partition("_to_")
        if not target:
            raise ValueError(f"transform name must be '{{from}}_to_{{to}}', got {name!r}")
        listing = TransformList(entries=self.entries)
        found = listing.find(source, target)
        if found is None:
            raise UnknownTransformError(
                self.path / "transforms.json", "transform", name, [e.name for e in self.entries]
            )
        entry, inverted = found
        if (entry.type, entry.format) not in READABLE:
            raise UnsupportedTransformError(
                f"{self.path / 'transforms.json'}: {entry.name} is stored as type {entry.type!r}, "
                f"format {entry.format!r}, which cannot be read; readable: {sorted(READABLE)}"
            )
        file = self._file(entry, self._index("stack", stack), self._index("channel", channel))
        if isinstance(file, RemotePath):
            with tempfile.TemporaryDirectory() as scratch:
                local = file.download(Path(scratch))
                transform = read_transform(local, entry.type, entry.format, axis_order=axis_order)
        else:
            transform = read_transform(file, entry.type, entry.format, axis_order=axis_order)
        return transform.inverse() if inverted else transform

    def chain(
        self,
        from_space: str,
        to_space: str,
        stack: int | str | None = None,
        channel: int | str | None = None,
    ) -> Affine:
        """The affine map ``from_space -> to_space``, composed through intermediate spaces.

        Stored transforms are edges usable in both directions (affines are inverted);
        the shortest path is taken.

        Raises
        ------
        UnknownTransformError
            If no chain of stored transforms connects the two spaces.
        """
        if from_space == to_space:
            return Affine.identity()
        edges: dict[str, list[str]] = {}
        for entry in self.entries:
            a, b = entry.spaces
            edges.setdefault(a, []).append(b)
            edges.setdefault(b, []).append(a)
        previous: dict[str, str] = {from_space: from_space}
        queue = deque([from_space])
        while queue:
            space = queue.popleft()
            for neighbour in edges.get(space, []):
                if neighbour not in previous:
                    previous[neighbour] = space
                    queue.append(neighbour)
        if to_space not in previous:
            raise UnknownTransformError(
                self.path / "transforms.json",
                f"chain of transforms from {from_space!r} to",
                to_space,
                sorted(s for s in previous if s != from_space),
            )
        path = [to_space]
        while path[-1] != from_space:
            path.append(previous[path[-1]])
        path.reverse()
        steps: list[Affine] = []
        for a, b in itertools.pairwise(path):
            step = self.load(f"{a}_to_{b}", stack=stack, channel=channel)
            if not isinstance(step, Affine):
                raise UnsupportedTransformError(
                    f"{self.path}: {a}_to_{b} is not affine; chains compose affines only"
                )
            steps.append(step)
        return compose(*reversed(steps))
