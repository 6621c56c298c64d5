"""The dask.distributed worker plugin that ``share_credentials`` registers.

A module of its own so that ``distributed`` (an optional dependency) is imported only
when credentials are shared with a cluster.
"""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from visor_xarray.zarr_io.storage_options import register_credentials

__all__ = ["CredentialsPlugin"]


class CredentialsPlugin(WorkerPlugin):
    """Registers remote-store credentials in each worker it is set up on.

    Parameters
    ----------
    secrets : dict
        ``key``/``secret``/``token`` mappings by the fingerprint graphs know them by.
    """

    name = "visor-xarray-credentials"

    def __init__(self, secrets: dict[str, dict[str, str]]) -> None:
        self.secrets = secrets

    def setup(self, worker: Any) -> None:
        """Register the credentials in the worker's process, under their fingerprints."""
        for fingerprint, secret in self.secrets.items():
            register_credentials(secret, fingerprint)
