"""Codec pipelines: arrays on zarrs without touching zarr's config, scoped options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
import zarr

import visor_xarray as vx
from visor_xarray.options import DEFAULT_PIPELINE, ZARRS_PIPELINE
from visor_xarray.store import VsrStore

# ------------------------------------------------------------------ codec pipelines


@pytest.mark.parametrize("global_pipeline", [DEFAULT_PIPELINE, ZARRS_PIPELINE])
def test_arrays_use_zarrs_without_touching_zarr_config(
    visor001: Path, global_pipeline: str
) -> None:
    # whatever the process-global setting (visor-py switches it to zarrs), the library
    # picks the pipeline per array and leaves the global setting as it found it
    with zarr.config.set({"codec_pipeline.path": global_pipeline}):
        array = vx.Image(visor001, name="slice_1_10x").open(0)
        assert vx.pipeline_name(array) == ZARRS_PIPELINE == "zarrs.ZarrsCodecPipeline"
        array[...]
        assert zarr.config.get("codec_pipeline.path") == global_pipeline
        with vx.set_options(codec_pipeline="default"):
            assert vx.pipeline_name(vx.Image(visor001, name="slice_1_10x").open(0)) == (
                DEFAULT_PIPELINE
            )
        assert zarr.config.get("codec_pipeline.path") == global_pipeline


def test_set_options_default_pipeline_is_scoped(visor001: Path) -> None:
    image = vx.Image(visor001, name="slice_1_10x")
    fast = image.open(0)
    global_before = zarr.config.get("codec_pipeline.path")
    with vx.set_options(codec_pipeline="default") as options:
        assert isinstance(options, vx.set_options)
        assert vx.get_options()["codec_pipeline"] == "default"
        slow = image.open(0)
        assert vx.pipeline_name(slow) == DEFAULT_PIPELINE
        assert zarr.config.get("codec_pipeline.path") == global_before
    assert vx.get_options()["codec_pipeline"] == "zarrs"
    # an array keeps the pipeline it was built with; new arrays are zarrs again
    assert vx.pipeline_name(slow) == DEFAULT_PIPELINE
    assert vx.pipeline_name(image.open(0)) == ZARRS_PIPELINE
    np.testing.assert_array_equal(slow[...], fast[...])


def test_set_options_restores_after_an_exception() -> None:
    def fail_inside() -> None:
        with vx.set_options(codec_pipeline="default", zarrs_threads=2):
            assert vx.get_options()["zarrs_threads"] == 2
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside()
    assert vx.get_options()["codec_pipeline"] == "zarrs"
    assert vx.get_options()["zarrs_threads"] is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"codec_pipeline": "rust"},
        {"codec_pipeline": None},
        {"no_such_option": 1},
        {"zarrs_threads": 0},
        {"zarrs_threads": 2.5},
        {"write_memory_budget": -1},
        {"validate_checksums": "yes"},
        {"codec_pipeline": "default", "dask_chunk_bytes": True},
    ],
)
def test_set_options_rejects_bad_input(kwargs: dict[str, Any]) -> None:
    before = vx.get_options()
    with pytest.raises(ValueError, match=next(iter(reversed(kwargs)))):
        vx.set_options(**kwargs)
    assert vx.get_options() == before  # nothing applied, not even the valid part


@pytest.mark.parametrize("pipeline", ["bogus", "Zarrs", ""])
def test_codec_pipeline_arguments_are_checked_like_the_option(
    visor001: Path, pipeline: str
) -> None:
    # the engine's codec_pipeline= used to select zarr-python's pipeline for any unknown name
    expected = "must be 'zarrs' .* or 'default'"
    with pytest.raises(ValueError, match=expected):
        xr.open_dataset(visor001, engine="visor", name="slice_1_10x", codec_pipeline=pipeline)
    with pytest.raises(ValueError, match=expected):
        xr.open_datatree(visor001, engine="visor", codec_pipeline=pipeline)
    with pytest.raises(ValueError, match=expected):
        VsrStore(visor001).level_array("raw", "slice_1_10x", pipeline=pipeline)
    with pytest.raises(ValueError, match=expected):
        vx.set_options(codec_pipeline=pipeline)
    assert vx.get_options()["codec_pipeline"] == "zarrs"
