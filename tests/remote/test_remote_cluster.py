"""A dask.distributed cluster of worker processes reads a sample from S3.

Workers open the remote store themselves: the graph carries the URL and the public
storage options, and the credentials reach the workers once, through
:func:`visor_xarray.share_credentials` (dask's own connection), never in the graph.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
import xarray as xr
from conftest import SECRET, upload_tree
from fixture_data import VISOR001

import visor_xarray as vx

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

NAME = "slice_1_10x"


def test_workers_read_and_resample_from_s3(
    client: distributed.Client, s3_endpoint: str, s3_bucket: str, s3_options: dict[str, Any]
) -> None:
    upload_tree(VISOR001, s3_endpoint, s3_bucket, "S.vsr")
    url = f"s3://{s3_bucket}/S.vsr"
    image = xr.open_dataset(url, engine="visor", name=NAME, chunks={}, storage_options=s3_options)[
        "image"
    ]
    version = vx.list_transform(VISOR001)[0].version
    ortho = image.isel(vs=0, ch=0).visor.resample(to_space="ortho", version=version)
    assert SECRET.encode() not in pickle.dumps(dict(ortho.data.__dask_graph__()))

    vx.share_credentials(client)
    values, resampled = client.compute([image.data, ortho.data], sync=True)

    local = xr.open_dataset(VISOR001, engine="visor", name=NAME, chunks={})["image"]
    np.testing.assert_array_equal(values, local.values)
    expected = local.isel(vs=0, ch=0).visor.resample(to_space="ortho", version=version)
    np.testing.assert_allclose(resampled, expected.values)
    # the tasks ran in the worker processes, which opened the store themselves
    assert client.run(lambda: True)  # the workers are alive after the reads
