"""Whole samples: :func:`copy_sample` copies a sample (or some of its images and levels),
re-encoding where asked and converting the legacy layout to the current one.

One job per module:

- :mod:`~visor_xarray.convert.copy`: :func:`copy_sample`;
- :mod:`~visor_xarray.convert.report`: :class:`CopyReport`;
- :mod:`~visor_xarray.convert.destination`: what a copy may replace, and clearing it;
- :mod:`~visor_xarray.convert.selection`: which images and levels a copy takes;
- :mod:`~visor_xarray.convert.plan`: the plan of each image, made before writing;
- :mod:`~visor_xarray.convert.encoding`: shard, chunk and compressors of re-encoded levels;
- :mod:`~visor_xarray.convert.files`: files carried as they are, copied atomically;
- :mod:`~visor_xarray.convert.cli`: the ``visor-xarray copy`` command.
"""

from __future__ import annotations

from visor_xarray.convert.copy import copy_sample
from visor_xarray.convert.report import CopyReport

__all__ = ["CopyReport", "copy_sample"]
