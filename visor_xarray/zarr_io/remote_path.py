""":class:`RemotePath`: a file or directory of a sample at a URL, with a path's manners.

Samples live on object storage (``s3://bucket/S.vsr``) and behind web servers
(``https://host/S.vsr``). A ``RemotePath`` answers what the store layer asks of a local
``pathlib.Path`` (join, name, exists, is it a directory, list it, read it, write it) through
obstore, so the sample code above it reads a remote sample as it reads a local one; level
arrays open as zarr ``ObjectStore`` arrays, which the zarrs codec pipeline reads.

Object stores have no directories: a "directory" exists when objects lie under its prefix.
Plain HTTP has no listing at all: :meth:`RemotePath.iterdir` raises
:class:`~visor_xarray.errors.ListingUnavailableError` there, and a directory is known by the
documents it holds (``zarr.json``, ``info.json``, ...).

A ``RemotePath`` pickles as its URL and its :class:`StorageOptions` (whose secrets never
travel in the pickle).
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import os
import posixpath
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import obstore
from obstore.exceptions import (
    BaseError,
    NotFoundError,
    PermissionDeniedError,
    UnauthenticatedError,
)
from obstore.store import HTTPStore, S3Store

from visor_xarray.errors import ListingUnavailableError, RemoteAccessError
from visor_xarray.zarr_io.storage_options import StorageOptions

__all__ = [
    "REMOTE_SCHEMES",
    "Location",
    "RemotePath",
    "is_url",
    "relative_key",
    "sample_path",
    "store_reconstruction_quiet",
]

#: URL schemes of remote samples.
REMOTE_SCHEMES = ("s3", "http", "https")

#: Documents by which a directory is known where nothing can be listed.
_DIRECTORY_DOCUMENTS = (
    "zarr.json",
    "info.json",
    ".zgroup",
    ".zattrs",
    "recon.json",
    "transforms.json",
    "selected.json",
)

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
#: What obstore's messages say when a store refuses the credentials.
_DENIED = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403 Forbidden")
T = TypeVar("T")


def _split_url(url: str) -> tuple[str, str, str]:
    """``(scheme, bucket or host, path)`` of a URL.

    An ``s3://`` key is taken as written (``#``, ``?``, ``%`` are key characters there); a
    web URL's path is percent-decoded (``base%20path`` is the directory ``base path``).
    """
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme == "s3":
        authority, _, path = rest.partition("/")
        return scheme, authority, path
    parts = urlsplit(url)
    return scheme, parts.netloc, unquote(parts.path)


def _remote_path(scheme: str, authority: str, options: StorageOptions, key: str) -> RemotePath:
    """A RemotePath from its parts (how it unpickles)."""
    return RemotePath._at(_Location(scheme, authority, options), key)


def is_url(path: object) -> bool:
    """True for a string with a URL scheme (``s3://``, ``https://``, ``file://``...).

    Parameters
    ----------
    path : object

    Returns
    -------
    bool
    """
    return isinstance(path, str) and bool(_URL.match(path))


@dataclass(frozen=True)
class _Location:
    """Where a remote sample's store is rooted: a bucket, or a web server."""

    scheme: str
    authority: str
    options: StorageOptions

    @property
    def listable(self) -> bool:
        return self.scheme == "s3"

    def url(self, key: str) -> str:
        return f"{self.scheme}://{self.authority}/{key}".rstrip("/")


def _store(location: _Location) -> Any:
    """The obstore store of a location, with the credentials known in this process now."""
    # the secrets are part of the key: credentials registered after a failed attempt
    # (share_credentials reaching a worker late) give a new store, not the old one
    return _cached_store(location, tuple(sorted(location.options.secrets.items())))


@functools.lru_cache(maxsize=64)
def _cached_store(location: _Location, secrets: tuple[tuple[str, str], ...]) -> Any:
    options = location.options
    client = options.client_options(location.scheme)
    if location.scheme == "s3":
        return S3Store(
            location.authority,
            config=options.s3_config(),
            client_options=client,
            retry_config=options.retry_config(),
        )
    return HTTPStore.from_url(
        f"{location.scheme}://{location.authority}",
        client_options=client,
        retry_config=options.retry_config(),
    )


class RemotePath:
    """A file or directory of a remote sample (see the module documentation).

    Parameters
    ----------
    url : str
        ``s3://bucket/key`` or ``http(s)://host[:port]/key``.
    storage_options : mapping or StorageOptions, optional
        xarray/fsspec-style options (:class:`StorageOptions`).

    Raises
    ------
    ValueError
        For another scheme, a URL without bucket or host, or unknown options.
    """

    def __init__(
        self, url: str, storage_options: Mapping[str, Any] | StorageOptions | None = None
    ) -> None:
        scheme, authority, path = _split_url(url)
        if scheme not in REMOTE_SCHEMES:
            raise ValueError(
                f"{url}: unsupported URL scheme {scheme!r}; choose one of {list(REMOTE_SCHEMES)}"
                " (or a local path, or file://)"
            )
        if not authority:
            raise ValueError(f"{url}: the URL names no {'bucket' if scheme == 's3' else 'host'}")
        options = (
            storage_options
            if isinstance(storage_options, StorageOptions)
            else StorageOptions.from_mapping(storage_options)
        )
        self._location = _Location(scheme, authority, options)
        self.key = posixpath.normpath(path.strip("/")) if path.strip("/") else ""

    @classmethod
    def _at(cls, location: _Location, key: str) -> RemotePath:
        path = cls.__new__(cls)
        path._location = location
        path.key = key
        return path

    def __reduce__(self) -> tuple[Any, ...]:
        # the parts, not the URL: a key may hold characters a URL would read otherwise
        location = self._location
        return (_remote_path, (location.scheme, location.authority, location.options, self.key))

    # -- a path's arithmetic -----------------------------------------------------------------

    def __truediv__(self, other: str) -> RemotePath:
        joined = posixpath.normpath(posixpath.join(self.key, str(other)).strip("/"))
        return RemotePath._at(self._location, "" if joined == "." else joined)

    def joinpath(self, *others: str) -> RemotePath:
        """Join path parts, as :meth:`pathlib.PurePath.joinpath`."""
        path = self
        for other in others:
            path = path / other
        return path

    @property
    def name(self) -> str:
        """The last part of the path."""
        return posixpath.basename(self.key)

    @property
    def suffix(self) -> str:
        """The name's extension (``".vsr"``), or ``""``."""
        return posixpath.splitext(self.name)[1]

    @property
    def stem(self) -> str:
        """The name without its extension."""
        return posixpath.splitext(self.name)[0]

    @property
    def parent(self) -> RemotePath:
        """The enclosing directory."""
        return RemotePath._at(self._location, posixpath.dirname(self.key))

    @property
    def parents(self) -> list[RemotePath]:
        """The enclosing directories, nearest first."""
        found, path = [], self
        while path.key:
            path = path.parent
            found.append(path)
        return found

    @property
    def url(self) -> str:
        """The URL."""
        return self._location.url(self.key)

    @property
    def options(self) -> StorageOptions:
        """The storage options (secrets redacted in their repr)."""
        return self._location.options

    @property
    def listable(self) -> bool:
        """Whether the store can list a directory (object stores; not plain HTTP)."""
        return self._location.listable

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"RemotePath({self.url!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemotePath) and (self._location, self.key) == (
            other._location,
            other.key,
        )

    def __hash__(self) -> int:
        return hash((self._location, self.key))

    def __lt__(self, other: RemotePath) -> bool:
        return self.url < other.url

    # -- the store -----------------------------------------------------------------------------

    @property
    def store(self) -> Any:
        """The obstore store this path's keys are in (shared per process and location)."""
        return _store(self._location)

    def _denied(self) -> str:
        options = self._location.options
        if options.fingerprint and not options.secrets:
            return (
                "access denied: the credentials this sample was opened with did not reach "
                "this process (a dask worker?); call visor_xarray.share_credentials(client), "
                "or give the workers AWS_* environment variables"
            )
        return "access denied: check the credentials (storage_options key/secret)"

    def _call(self, action: Callable[[], T]) -> T:
        """Run a store request, turning obstore's errors into this package's."""
        try:
            return action()
        except (NotFoundError, FileNotFoundError):
            raise FileNotFoundError(f"{self.url}: no such object") from None
        except (PermissionDeniedError, UnauthenticatedError, PermissionError) as error:
            raise RemoteAccessError(
                self.url,
                self._denied(),
                self._location.options.redact(str(error)),
            ) from None
        except (BaseError, OSError, RuntimeError) as error:
            text = self._location.options.redact(str(error))
            if "NoSuchBucket" in text:
                raise RemoteAccessError(
                    self.url, f"the bucket {self._location.authority!r} does not exist", ""
                ) from None
            if any(mark in text for mark in _DENIED):
                raise RemoteAccessError(
                    self.url,
                    self._denied(),
                    text,
                ) from None
            raise RemoteAccessError(
                self.url,
                "cannot reach the store (check the URL and storage_options endpoint_url)",
                text,
            ) from None

    def read_bytes(self) -> bytes:
        """The object's bytes.

        Raises
        ------
        FileNotFoundError
            If there is no such object.
        RemoteAccessError
            If the store refuses or cannot be reached.
        """
        return self._call(lambda: bytes(obstore.get(self.store, self.key).bytes()))

    def read_text(self, encoding: str = "utf-8") -> str:
        """The object's text."""
        return self.read_bytes().decode(encoding)

    def write_bytes(self, data: bytes) -> int:
        """Store ``data`` as this object (one PUT: readers see the old or the new object)."""
        self._call(lambda: obstore.put(self.store, self.key, data))
        return len(data)

    def write_text(self, text: str, encoding: str = "utf-8") -> int:
        """Store ``text`` as this object."""
        return self.write_bytes(text.encode(encoding))

    def upload(self, local: Any) -> None:
        """Store a local file as this object (multipart for large files: complete or absent).

        Parameters
        ----------
        local : pathlib.Path
        """
        self._call(lambda: obstore.put(self.store, self.key, local))

    def unlink(self, missing_ok: bool = False) -> None:
        """Delete the object."""
        try:
            self._call(lambda: obstore.delete(self.store, self.key))
        except FileNotFoundError:
            if not missing_ok:
                raise

    def is_file(self) -> bool:
        """True if an object has this key."""
        if not self.key:
            return False
        try:
            self._call(lambda: obstore.head(self.store, self.key))
        except FileNotFoundError:
            return False
        return True

    def is_dir(self) -> bool:
        """True if objects lie under this prefix (over HTTP: if it holds a known document)."""
        if self.listable:
            listing = self._list()
            return bool(listing["common_prefixes"] or listing["objects"])
        return any((self / name).is_file() for name in _DIRECTORY_DOCUMENTS)

    def exists(self) -> bool:
        """True for an object or a directory."""
        return self.is_file() or self.is_dir()

    def _list(self) -> Any:
        prefix = f"{self.key}/" if self.key else None
        return self._call(lambda: obstore.list_with_delimiter(self.store, prefix))

    def iterdir(self) -> Iterator[RemotePath]:
        """The entries of a directory.

        Raises
        ------
        ListingUnavailableError
            Over plain HTTP, which cannot list.
        """
        if not self.listable:
            raise ListingUnavailableError(self.url)
        listing = self._list()
        for prefix in listing["common_prefixes"]:
            yield RemotePath._at(self._location, prefix.rstrip("/"))
        for entry in listing["objects"]:
            yield RemotePath._at(self._location, entry["path"])

    def rglob_files(self) -> Iterator[RemotePath]:
        """Every object under this prefix (object stores only)."""
        if not self.listable:
            raise ListingUnavailableError(self.url)
        for batch in self._call(lambda: list(obstore.list(self.store, f"{self.key}/"))):
            for entry in batch:
                yield RemotePath._at(self._location, entry["path"])

    def relative_to(self, other: RemotePath) -> str:
        """This path's key relative to ``other``'s (a prefix of it)."""
        inside = not other.key or self.key == other.key or self.key.startswith(other.key + "/")
        if other._location != self._location or not inside:
            raise ValueError(f"{self.url} is not under {other.url}")
        return self.key[len(other.key) :].lstrip("/")

    def rglob(self, pattern: str) -> Iterator[RemotePath]:
        """Objects under this prefix whose name matches ``pattern`` (object stores only)."""
        return (path for path in self.rglob_files() if fnmatch.fnmatch(path.name, pattern))

    def download(self, directory: Path) -> Path:
        """Copy this object (or, for a directory, every object under it) into ``directory``.

        Parameters
        ----------
        directory : pathlib.Path
            An existing local directory.

        Returns
        -------
        pathlib.Path
            The local copy, named as this path.
        """
        target = directory / self.name
        if self.is_file():
            self.download_file(target)
            return target
        for remote in self.rglob_files():
            remote.download_file(target / remote.relative_to(self))
        return target

    def download_file(self, target: Path) -> int:
        """Stream this object into the local file ``target`` (parents created).

        Memory stays at a few MiB whatever the object's size.

        Parameters
        ----------
        target : pathlib.Path

        Returns
        -------
        int
            Bytes written.
        """
        target.parent.mkdir(parents=True, exist_ok=True)
        written = 0

        def fetch() -> None:
            nonlocal written
            result = obstore.get(self.store, self.key)
            with target.open("wb") as stream:
                for piece in result.stream(min_chunk_size=8 * 2**20):
                    written += stream.write(piece)

        self._call(fetch)
        return written

    def zarr_store(self, *, read_only: bool = True) -> Any:
        """A zarr ``ObjectStore`` over this path's store (arrays open at their key)."""
        from zarr.storage import ObjectStore

        return ObjectStore(self.store, read_only=read_only)


@contextlib.contextmanager
def store_reconstruction_quiet() -> Iterator[None]:
    """Silence obstore's note that zarrs rebuilt a store built by another Python module.

    zarrs reads an obstore store by rebuilding it from its configuration (obstore warns
    that connection pools are then not shared); that is expected here, on every level
    opened, so the note would only be noise.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Successfully reconstructed a store", category=RuntimeWarning
        )
        yield


#: Where a sample's files are: a local path, or a path in a remote store.
Location = Path | RemotePath


def relative_key(path: Location, root: Location) -> str:
    """``path`` relative to ``root`` as a ``/``-separated string, local or remote.

    Parameters
    ----------
    path, root : pathlib.Path or RemotePath
        Of the same kind, ``root`` a prefix of ``path``.

    Returns
    -------
    str
    """
    if isinstance(path, RemotePath) and isinstance(root, RemotePath):
        return path.relative_to(root)
    if isinstance(path, Path) and isinstance(root, Path):
        return path.relative_to(root).as_posix()
    raise TypeError(f"{path} and {root} are not of the same kind")


def sample_path(
    path: Any, storage_options: Mapping[str, Any] | StorageOptions | None = None
) -> Location:
    """A sample location as the store uses it: a local ``Path`` or a :class:`RemotePath`.

    Parameters
    ----------
    path : str, os.PathLike, RemotePath or store
        A local path, ``file://...``, ``s3://bucket/...`` or ``http(s)://host/...``; or a
        store rooted at the sample: zarr's ``LocalStore`` or ``ObjectStore``, or an
        obstore ``S3Store`` / ``HTTPStore`` (their configuration gives the options).
    storage_options : mapping, optional
        For remote URLs (:class:`~visor_xarray.zarr_io.storage_options.StorageOptions`).

    Returns
    -------
    pathlib.Path or RemotePath

    Raises
    ------
    ValueError
        For ``storage_options`` with a local path, an unsupported URL scheme, or unknown
        options.
    TypeError
        For an object that is neither a path, a URL nor a supported store.
    """
    if isinstance(path, RemotePath):
        return path
    if not isinstance(path, (str, os.PathLike)):
        return _from_store(path)
    if is_url(path) and not str(path).lower().startswith("file://"):
        return RemotePath(str(path), storage_options)
    if storage_options:
        raise ValueError(
            f"{path}: storage_options apply to remote samples (s3://, http(s)://), "
            "not to a local path"
        )
    if is_url(path):
        return Path(unquote(urlsplit(str(path)).path))
    return Path(os.fspath(path))


#: obstore S3 configuration keys and the storage options they become.
_FROM_S3_CONFIG = {
    "access_key_id": "key",
    "secret_access_key": "secret",
    "session_token": "token",
    "endpoint": "endpoint_url",
    "region": "region",
}


def _from_store(store: Any) -> Location:
    """The location of a store object rooted at a sample (see :func:`sample_path`)."""
    from zarr.storage import LocalStore, ObjectStore

    if isinstance(store, LocalStore):
        return Path(store.root)
    inner = store.store if isinstance(store, ObjectStore) else store
    if isinstance(inner, S3Store):
        config = {str(k).lower().removeprefix("aws_"): v for k, v in inner.config.items()}
        options: dict[str, Any] = {
            option: str(config[key]) for key, option in _FROM_S3_CONFIG.items() if config.get(key)
        }
        if str(config.get("skip_signature", "")).lower() in ("true", "1"):
            options["anon"] = True
        prefix = str(inner.prefix or "").strip("/")
        return RemotePath(f"s3://{config['bucket']}/{prefix}", options)
    if isinstance(inner, HTTPStore):
        return RemotePath(str(inner.url))
    raise TypeError(
        f"cannot open a sample from {type(store).__name__}: give a path, a URL (s3://, "
        "http(s)://, file://), or a zarr LocalStore / ObjectStore (obstore S3Store or "
        "HTTPStore) rooted at the sample"
    )
