"""Sending remote-store credentials to the workers of a dask.distributed cluster."""

from __future__ import annotations

from typing import Any

from visor_xarray.zarr_io.storage_options import registered_credentials

__all__ = ["share_credentials"]


def share_credentials(client: Any) -> None:
    """Send the credentials known in this process to the workers of a dask client.

    Graphs carry only a fingerprint of the credentials of the remote samples they read;
    workers look it up in their registry, which this fills (once per worker, through
    dask's own connection, present and future workers). Workers that read their
    credentials from their environment (``AWS_*`` variables, ``~/.aws``) need no call.

    Parameters
    ----------
    client : distributed.Client
    """
    # distributed is optional: imported only when credentials are shared with a cluster
    from visor_xarray.zarr_io.credentials_plugin import CredentialsPlugin

    plugin = CredentialsPlugin(registered_credentials())
    client.register_plugin(plugin, name=CredentialsPlugin.name)
