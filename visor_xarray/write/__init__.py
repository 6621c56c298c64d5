"""Writing xarray objects as ``.vsr`` images: metadata, pyramids, shard-streamed writes.

Why whole shards: the zarrs pipeline rewrites an entire shard on any partial-shard write
(it decodes the whole shard, updates it and re-encodes it; zarrs-python 0.2.3,
``store_chunk_subset_bytes``). So every write task here owns exactly one shard and hands
zarrs the complete shard: level 0 is streamed from the source rechunked to the shard
grid; each coarser level is computed from the level before it while that level's
shard-sized blocks are in memory (one dask graph for all levels, so level 0 is never read
back; ``add_levels`` reads the coarsest stored level in shard-footprint pieces); and
region writes that cover part of a shard merge with the stored shard in memory first.
One task never shares a shard with another, so tasks can run in parallel threads or on a
dask.distributed cluster.

Memory: a task holds its decoded shard plus the source block it came from; the peak of
a write is about ``workers * shard_bytes * PEAK_FACTOR`` (see :func:`predicted_peak`).

Interruptions (docs/reliability.md): every shard is committed atomically (the arrays
from :mod:`visor_xarray.zarr_io` encode a shard in a scratch directory and rename the
finished file onto its key), so a killed write never leaves a truncated shard; and every
write holds the image's in-progress marker (``{image}.zarr/.visor-write.json``) from
before its first byte to after its last, so an interrupted image is detectably
incomplete (``validate`` reports it, readers warn) until it is rewritten, and a second
writer of the same image is refused. ``add_levels`` writes the new levels before it
lists them, so an interrupted run leaves the image as it was.

One job per module; every public name is re-exported here:

- :mod:`~visor_xarray.write.image`: whole-image writes (:func:`write_dataarray`), the
  choice of inner chunk and shard;
- :mod:`~visor_xarray.write.levels`: pyramid levels and :func:`add_levels`;
- :mod:`~visor_xarray.write.region`: region writes (:func:`write_region`);
- :mod:`~visor_xarray.write.report`: :class:`WriteReport`, :class:`LevelReport`,
  :func:`predicted_peak`;
- :mod:`~visor_xarray.write.shards`: shard-streaming helpers shared by the writes;
- :mod:`~visor_xarray.write.metadata`: image metadata from a DataArray;
- :mod:`~visor_xarray.write.pyramid`: block-reduction downsampling;
- :mod:`~visor_xarray.write.writer`: the former single writer module (re-exports).
"""

from visor_xarray.write.image import write_dataarray
from visor_xarray.write.levels import add_levels
from visor_xarray.write.pyramid import block_reduce, downsample
from visor_xarray.write.region import write_region
from visor_xarray.write.report import LevelReport, WriteReport, predicted_peak

__all__ = [
    "LevelReport",
    "WriteReport",
    "add_levels",
    "block_reduce",
    "downsample",
    "predicted_peak",
    "write_dataarray",
    "write_region",
]
