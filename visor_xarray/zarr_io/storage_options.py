"""``storage_options`` as xarray and fsspec users pass them, mapped to obstore's settings.

A sample at a URL is read through obstore (zarr's ``ObjectStore``). Users pass the
options they know from s3fs and fsspec: ``key``, ``secret``, ``token``,
``endpoint_url``, ``region``, ``anon`` and ``client_kwargs`` (``endpoint_url``,
``region_name``). :class:`StorageOptions` keeps them, maps them to obstore's
configuration, and keeps the secrets out of reprs and pickles: a pickled
``StorageOptions`` (in a dask graph, or an attribute) carries a fingerprint of its
secrets (a random token), which the receiving process finds in its registry
(:func:`register_credentials`; ``visor_xarray.share_credentials`` fills the registries
of dask.distributed workers), and otherwise falls back on the ``AWS_*`` environment
variables and files of that process.
"""

from __future__ import annotations

import os
import secrets as secrets_module
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig, S3Config

__all__ = [
    "SECRET_KEYS",
    "StorageOptions",
    "register_credentials",
    "registered_credentials",
]

#: Option names whose values are secrets (never shown, never pickled).
SECRET_KEYS = ("key", "secret", "token")
_PUBLIC_KEYS = ("endpoint_url", "region", "anon", "client_kwargs")
_CLIENT_KWARGS = ("endpoint_url", "region_name")
_OBSTORE_SECRETS = {
    "key": "access_key_id",
    "secret": "secret_access_key",
    "token": "session_token",
}

_REGISTRY: dict[str, dict[str, str]] = {}
_REGISTRY_LOCK = threading.Lock()


def register_credentials(secrets: Mapping[str, str], fingerprint: str | None = None) -> str:
    """Keep ``secrets`` in this process under a fingerprint, which is returned.

    Parameters
    ----------
    secrets : mapping
        ``key``, ``secret`` and ``token`` values.
    fingerprint : str, optional
        The fingerprint another process gave them (a worker receiving them); by default
        the one they already have here, else a new random one.

    Returns
    -------
    str
        The fingerprint: random, so it reveals nothing of the secrets.
    """
    cleaned = {k: str(v) for k, v in secrets.items() if k in SECRET_KEYS and v is not None}
    with _REGISTRY_LOCK:
        if fingerprint is None:
            known = [f for f, s in _REGISTRY.items() if s == cleaned]
            fingerprint = known[0] if known else secrets_module.token_hex(12)
        _REGISTRY[fingerprint] = cleaned
    return fingerprint


def _registered(fingerprint: str) -> dict[str, str]:
    with _REGISTRY_LOCK:
        return dict(_REGISTRY.get(fingerprint, {}))


@dataclass(frozen=True)
class StorageOptions:
    """Options of a remote store, secrets held apart (see the module documentation).

    Build it with :meth:`from_mapping`.

    Parameters
    ----------
    public : tuple of (str, object)
        ``endpoint_url``, ``region``, ``anon`` (``client_kwargs`` folded in).
    fingerprint : str
        Fingerprint of the secrets in this process's registry ("" when none were given).
    """

    public: tuple[tuple[str, Any], ...] = ()
    fingerprint: str = ""
    _secrets: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any] | None) -> StorageOptions:
        """Check and keep xarray/fsspec-style ``storage_options``.

        Parameters
        ----------
        options : mapping or None
            ``key``, ``secret``, ``token``, ``endpoint_url``, ``region``, ``anon``,
            ``client_kwargs`` (``endpoint_url``, ``region_name``).

        Returns
        -------
        StorageOptions

        Raises
        ------
        ValueError
            For an option that is not one of those, naming the valid ones.
        """
        options = dict(options or {})
        unknown = sorted(set(options) - set(SECRET_KEYS) - set(_PUBLIC_KEYS))
        if unknown:
            raise ValueError(
                f"storage_options: unknown option(s) {unknown}; choose from "
                f"{sorted((*SECRET_KEYS, *_PUBLIC_KEYS))}"
            )
        client = dict(options.pop("client_kwargs", None) or {})
        strange = sorted(set(client) - set(_CLIENT_KWARGS))
        if strange:
            raise ValueError(
                f"storage_options: client_kwargs {strange} are not supported; choose from "
                f"{list(_CLIENT_KWARGS)}"
            )
        public: dict[str, Any] = {}
        endpoint = options.get("endpoint_url") or client.get("endpoint_url")
        region = options.get("region") or client.get("region_name")
        if endpoint:
            public["endpoint_url"] = str(endpoint)
        if region:
            public["region"] = str(region)
        anon = options.get("anon", False)
        if not isinstance(anon, bool):
            raise ValueError(f"storage_options: anon must be True or False, got {anon!r}")
        if anon:
            public["anon"] = True
        secrets = {k: str(options[k]) for k in SECRET_KEYS if options.get(k) is not None}
        fingerprint = register_credentials(secrets) if secrets else ""
        return cls(tuple(sorted(public.items())), fingerprint, secrets)

    def __getstate__(self) -> dict[str, Any]:
        # secrets stay in this process: the receiver looks the fingerprint up
        return {"public": self.public, "fingerprint": self.fingerprint}

    def __setstate__(self, state: dict[str, Any]) -> None:
        object.__setattr__(self, "public", state["public"])
        object.__setattr__(self, "fingerprint", state["fingerprint"])
        object.__setattr__(self, "_secrets", _registered(state["fingerprint"]))

    def __repr__(self) -> str:
        shown = [f"{k}={v!r}" for k, v in self.public]
        shown += [f"{k}='***'" for k in SECRET_KEYS if k in self._secrets]
        return f"StorageOptions({', '.join(shown)})"

    @property
    def secrets(self) -> dict[str, str]:
        """The secrets known in this process (empty when the fingerprint is unknown here)."""
        return dict(self._secrets)

    def redact(self, text: str) -> str:
        """``text`` with every secret value replaced by ``***``.

        Parameters
        ----------
        text : str

        Returns
        -------
        str
        """
        for value in self._secrets.values():
            if value:
                text = text.replace(value, "***")
        return text

    def s3_config(self) -> S3Config:
        """obstore ``S3Store`` configuration (credentials included when known here).

        Returns
        -------
        dict
        """
        public = dict(self.public)
        config: S3Config = {}
        if "endpoint_url" in public:
            config["endpoint"] = public["endpoint_url"]
        if "region" in public:
            config["region"] = public["region"]
        elif "endpoint_url" in public:
            config["region"] = "us-east-1"  # S3-compatible servers ignore it
        if public.get("anon"):
            config["skip_signature"] = True
        for name, value in self._secrets.items():
            config[_OBSTORE_SECRETS[name]] = value  # type: ignore[literal-required]
        return config

    def client_options(self, url_scheme: str) -> ClientConfig:
        """obstore client options: plain HTTP allowed where the endpoint or URL uses it.

        Endpoints, regions and credentials missing from the options come from the
        ``AWS_*`` environment variables (``AWS_ENDPOINT_URL``, ``AWS_REGION``,
        ``AWS_ACCESS_KEY_ID``, ...), as for the AWS tools.

        Parameters
        ----------
        url_scheme : str
            Scheme of the sample's URL.

        Returns
        -------
        dict
        """
        # an endpoint may also come from the environment (AWS_ENDPOINT_URL), as for the
        # AWS tools; plain HTTP is allowed where the endpoint in use says so
        endpoint = str(
            dict(self.public).get("endpoint_url")
            or os.environ.get("AWS_ENDPOINT_URL")
            or os.environ.get("AWS_ENDPOINT", "")
        )
        config: ClientConfig = {"connect_timeout": "10s"}
        if url_scheme == "http" or endpoint.startswith("http://"):
            config["allow_http"] = True
        return config

    @staticmethod
    def retry_config() -> RetryConfig:
        """obstore retries: a few, so an unreachable endpoint fails within seconds.

        Returns
        -------
        dict
        """
        return {
            "max_retries": 2,
            "retry_timeout": timedelta(seconds=10),
            "backoff": {
                "init_backoff": timedelta(milliseconds=100),
                "max_backoff": timedelta(seconds=2),
                "base": 2,
            },
        }


def registered_credentials() -> dict[str, dict[str, str]]:
    """The secrets registered in this process, by fingerprint (for sharing with workers).

    Returns
    -------
    dict
    """
    with _REGISTRY_LOCK:
        return {fingerprint: dict(s) for fingerprint, s in _REGISTRY.items()}
