"""Helpers for testing code that uses visor-xarray: sample generators, loopback servers."""

from visor_xarray.testing.legacy import make_legacy_sample
from visor_xarray.testing.samples import image_attributes, make_sample, synthetic_volume
from visor_xarray.testing.servers import http_server, moto_server

__all__ = [
    "http_server",
    "image_attributes",
    "make_legacy_sample",
    "make_sample",
    "moto_server",
    "synthetic_volume",
]
