"""Writing xarray objects as ``.vsr`` images: metadata, pyramids, streamed shards.

Shards are streamed (:mod:`visor_xarray.write.stream`, on
:mod:`visor_xarray.zarr_io.shard_stream`): zarrs and zarr-python encode a whole shard in
memory (2-3x its decoded size, 28 GB for VISoR's standard raw shard), so here a shard is
assembled from its inner chunks as blocks of the source arrive: each block's chunks are
encoded with the array's codec chain and appended to the shard's staging file, and a
last task per shard writes the index and renames the file onto the shard's key. Memory
is bounded by the blocks in flight, not by the shard, so images get VISoR's standard
layouts (:mod:`visor_xarray.write.layouts`) whatever the budget, and the memory budget
decides only the block size (:mod:`visor_xarray.write.memory`). Level 0 is streamed from
the source; each coarser level is computed from the blocks of the level before it in one
dask graph (``add_levels`` reads the coarsest stored level back in blocks); region writes
copy the encoded bytes of the chunks they do not touch from the stored shard.

Interruptions (docs/reliability.md): a shard is renamed into place only when complete,
so a killed write never leaves a truncated shard, and a failed one removes its staging
files; every write holds the image's in-progress marker (``{image}.zarr/.visor-write.json``)
from before its first byte to after its last, so an interrupted image is detectably
incomplete (``validate`` reports it, readers warn) until it is rewritten, and a second
writer of the same image is refused. ``add_levels`` writes the new levels before it
lists them, so an interrupted run leaves the image as it was.

One job per module; the public names are re-exported here:

- :mod:`~visor_xarray.write.image`: whole-image writes (:func:`write_dataarray`);
- :mod:`~visor_xarray.write.levels`: pyramid levels and :func:`add_levels`;
- :mod:`~visor_xarray.write.region`: region writes (:func:`write_region`);
- :mod:`~visor_xarray.write.plan`: what a write does (levels, shards, blocks);
- :mod:`~visor_xarray.write.layouts`: VISoR's standard inner chunks and shards;
- :mod:`~visor_xarray.write.memory`: the memory model: block size and predicted peak;
- :mod:`~visor_xarray.write.stream`: the dask graph of a streamed write;
- :mod:`~visor_xarray.write.report`: :class:`WriteReport`, :class:`LevelReport`;
- :mod:`~visor_xarray.write.sources`: numpy sources as dask arrays without a copy;
- :mod:`~visor_xarray.write.metadata`: image metadata from a DataArray;
- :mod:`~visor_xarray.write.pyramid`: block-reduction downsampling.
"""

from visor_xarray.write.image import write_dataarray
from visor_xarray.write.levels import add_levels
from visor_xarray.write.pyramid import block_reduce, downsample
from visor_xarray.write.region import write_region
from visor_xarray.write.report import LevelReport, WriteReport

__all__ = [
    "LevelReport",
    "WriteReport",
    "add_levels",
    "block_reduce",
    "downsample",
    "write_dataarray",
    "write_region",
]
