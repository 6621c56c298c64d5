"""Check a whole ``.vsr`` sample and list what is wrong with it, without raising.

:func:`validate` reads every metadata document through the schema parsers and the
:class:`~visor_xarray.store.VsrStore`, ties each image's metadata to its level arrays,
checks the cross-references between documents (``selected.json``, ``sources``,
``transform_version``), reports writes that were interrupted (in-progress markers,
leftover scratch directories) and, with ``deep=True``, decodes every shard of every
level. Each finding is a :class:`Problem`; a bad sample never makes it raise.

:func:`resolve_source` is the one place a ``sources[].path`` becomes a filesystem path:
it refuses paths that leave the sample (absolute, ``..``, or through a symbolic link).

One job per module; every public name is re-exported here:

- :mod:`~visor_xarray.validate.sample`: :func:`validate`, running the checks in order;
- :mod:`~visor_xarray.validate.problems`: :class:`Problem` and the shared recorder;
- :mod:`~visor_xarray.validate.tree`: the sample tree and each document (schema);
- :mod:`~visor_xarray.validate.shards`: level arrays and (deep) their shards;
- :mod:`~visor_xarray.validate.markers`: in-progress markers and scratch leftovers;
- :mod:`~visor_xarray.validate.references`: cross-references, :func:`resolve_source`.
"""

from __future__ import annotations

from visor_xarray.validate.problems import Problem, Severity
from visor_xarray.validate.references import resolve_source
from visor_xarray.validate.sample import validate
from visor_xarray.validate.shards import DEEP_READ_BYTES as DEEP_READ_BYTES

__all__ = ["Problem", "Severity", "resolve_source", "validate"]
