"""The only package that talks to zarr: open and create level arrays, write JSON atomically.

The codec pipeline (zarrs by default, see :func:`visor_xarray.set_options`) is chosen
*inside* each open/create call, so zarr's process-global configuration is never changed
behind the user's back. Arrays built here are :class:`SafeArray` (writable) or
:class:`ReadOnlyArray` objects: their writes commit whole shards atomically, their failed
reads name the corrupt shard file(s), and their pipeline settings travel through pickling.
It also holds the write bookkeeping of a sample: the per-image in-progress marker
(:func:`image_write`, :data:`WRITE_MARKER`) and the sample lock (:func:`sample_lock`).

One job per module; the names other packages use most are re-exported here:

- :mod:`~visor_xarray.zarr_io.pipeline`: codec pipeline selection and settings;
- :mod:`~visor_xarray.zarr_io.levels`: opening and creating level arrays;
- :mod:`~visor_xarray.zarr_io.arrays`: :class:`SafeArray`, :class:`ReadOnlyArray`,
  guarded arrays, pickling;
- :mod:`~visor_xarray.zarr_io.reading`: outer selections kept on the zarrs pipeline;
- :mod:`~visor_xarray.zarr_io.commit`: atomic shard commits;
- :mod:`~visor_xarray.zarr_io.corruption`: naming corrupt shards, index/geometry checks;
- :mod:`~visor_xarray.zarr_io.markers`: in-progress markers (:func:`image_write`);
- :mod:`~visor_xarray.zarr_io.lock`: the sample lock;
- :mod:`~visor_xarray.zarr_io.atomic_files`: JSON documents and atomic file writes;
- :mod:`~visor_xarray.zarr_io.codecs`: building, checking and translating compressors;
- :mod:`~visor_xarray.zarr_io.small_arrays`: small arrays read and written whole;
- :mod:`~visor_xarray.zarr_io.legacy_v2`: Zarr v2 images of legacy test samples.
"""

from __future__ import annotations

from visor_xarray.zarr_io.arrays import (
    ReadOnlyArray,
    ReadOnlyAsyncArray,
    SafeArray,
    SafeAsyncArray,
    as_safe,
    guard_writes,
    with_pipeline_settings,
)
from visor_xarray.zarr_io.atomic_files import read_json, write_json_atomic
from visor_xarray.zarr_io.corruption import (
    MAX_CHUNK_BYTES,
    MAX_INDEX_BYTES,
    is_decode_error,
    shard_file,
    shard_index_problem,
)
from visor_xarray.zarr_io.levels import check_dtype, create_level_array, open_level_array
from visor_xarray.zarr_io.lock import LOCK_FILE, sample_lock
from visor_xarray.zarr_io.markers import (
    SCRATCH_INFIX,
    WRITE_MARKER,
    WriteInProgressError,
    image_write,
    marker_is_stale,
    process_start,
    read_write_marker,
    remove_scratch,
    scratch_dirs,
)
from visor_xarray.zarr_io.pipeline import default_compressor, pipeline_name, pipeline_settings
from visor_xarray.zarr_io.reading import read_outer

__all__ = [
    "LOCK_FILE",
    "MAX_CHUNK_BYTES",
    "MAX_INDEX_BYTES",
    "SCRATCH_INFIX",
    "WRITE_MARKER",
    "ReadOnlyArray",
    "ReadOnlyAsyncArray",
    "SafeArray",
    "SafeAsyncArray",
    "WriteInProgressError",
    "as_safe",
    "check_dtype",
    "create_level_array",
    "default_compressor",
    "guard_writes",
    "image_write",
    "is_decode_error",
    "marker_is_stale",
    "open_level_array",
    "pipeline_name",
    "pipeline_settings",
    "process_start",
    "read_json",
    "read_outer",
    "read_write_marker",
    "remove_scratch",
    "sample_lock",
    "scratch_dirs",
    "shard_file",
    "shard_index_problem",
    "with_pipeline_settings",
    "write_json_atomic",
]

# Private switch of the atomic shard commit, read at every write (tests turn it off to
# show what it prevents): ``visor_xarray.zarr_io._ATOMIC_COMMIT = False``.
_ATOMIC_COMMIT = True
