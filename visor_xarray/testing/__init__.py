"""Helpers for testing code that uses visor-xarray: sample generators."""

from visor_xarray.testing.legacy import make_legacy_sample
from visor_xarray.testing.samples import image_attributes, make_sample, synthetic_volume

__all__ = ["image_attributes", "make_legacy_sample", "make_sample", "synthetic_volume"]
