"""Remote (S3-protocol) reads and copies, against a loopback moto server started here.

Writes a VISoR-like raw image (the sample of ``bench_read.py``: uint16, microscopy-like
content, blosc zstd 5 + shuffle, one shard per stack), starts moto's S3-protocol server
on 127.0.0.1 in a subprocess, uploads the sample into a bucket with ``obstore.put``, and
measures in this one process:

1. full read of level 0 into a fresh numpy array, decoded GB/s (median of ``--repeats``
   runs after one warm-up round, contenders round-robin): the engine from S3
   (``xr.open_dataset("s3://...", engine="visor", chunks={}, storage_options=...)``,
   ``.values``), zarr-python's default pipeline on the same S3 store, zarr-python with
   the zarrs pipeline on it (what the engine uses, to tell the engine's own cost from the
   transport's), and the engine on the local copy;
2. the latency of a 32 x 32 x 32 region of one stack and channel, engine from S3 against
   local, each repeat on a freshly opened dataset (the open timed separately);
3. ``visor_xarray.copy_sample`` upload (local -> ``s3://``) and download (``s3://`` ->
   local) in MB/s of stored bytes (the sum of the sample's file sizes), next to plain
   ``obstore.put`` / ``obstore.get`` of every file. A ``copy_sample`` that does not
   accept a URL yet is reported as NOT AVAILABLE.

For every S3 contender the script counts the HTTP requests of its first call in the
server's request log. moto is an in-process Python server: it answers a ranged GET by
reading the whole object, so each request to a shard costs time in proportion to the
shard's size, and readers that fetch one inner chunk per request pay that once per chunk.
The numbers say how the readers compare on this loopback server, not what a real object
store would give; the request counts and the transport baseline say why.

Usage::

    python benchmarks/bench_remote.py [--size-mib 128] [--repeats 3] [--roi-repeats 10]
                                      [--copy-repeats 2] [--workdir DIR] [--keep]
                                      [--markdown PATH]

``--size-mib 40 --repeats 1 --roi-repeats 3 --copy-repeats 1`` is a quick smoke run.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import zarr
