"""Label lookups on ``vs``/``ch`` name the labels that exist, and nothing else changes.

Run on images opened by the engine (real ``.vsr`` files): the synthetic sample has stacks
``stack_1, stack_2, stack_3`` and channels ``488, 561`` (channel entries stored out of
order), the demo sample stacks with a gap (``stack_1, stack_2, stack_4``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from xarray.indexes import PandasIndex

import visor_xarray as vx
from visor_xarray.backend.label_index import LabelIndex, label_indexed
from visor_xarray.demo import DEMO_VERSION, make_demo_sample

IMAGE = "slice_1_10x"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo_sample(tmp_path_factory.mktemp("labels") / "demo.vsr")


@pytest.fixture
def image(demo: Path) -> xr.DataArray:
    return xr.open_dataset(demo, engine="visor", name=IMAGE, chunks={})["image"]


def test_engine_gives_vs_and_ch_a_label_index(image: xr.DataArray) -> None:
    assert type(image.xindexes["vs"]) is LabelIndex
    assert type(image.xindexes["ch"]) is LabelIndex
    assert type(image.xindexes["z"]) is PandasIndex


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        (
            {"vs": "stack_3"},
            "index 'vs': unknown stack label 'stack_3'; "
            "labels that exist: 'stack_1', 'stack_2', 'stack_4'",
        ),
        (
            {"ch": "640"},
            "index 'ch': unknown channel label '640'; labels that exist: '488', '561'",
        ),
        (
            {"vs": ["stack_1", "stack_9", "stack_7"]},
            "unknown stack labels ['stack_9', 'stack_7']; labels that exist",
        ),
        ({"ch": 488}, "unknown channel label 488 (labels are strings: use '488')"),
        ({"vs": xr.DataArray(["stack_2", "x"], dims="p")}, "unknown stack label 'x'"),
    ],
)
def test_unknown_labels_name_the_labels_that_exist(
    image: xr.DataArray, selection: dict[str, object], message: str
) -> None:
    for target in (image, image.to_dataset()):
        with pytest.raises(vx.UnknownLabelError) as caught:
            target.sel(selection)
        assert message in str(caught.value)
        assert isinstance(caught.value, KeyError)


def test_loc_names_the_labels(image: xr.DataArray) -> None:
    with pytest.raises(KeyError, match="labels that exist: 'stack_1', 'stack_2', 'stack_4'"):
        image.loc["stack_5"]


def test_valid_selections_are_unchanged(image: xr.DataArray) -> None:
    reference = image.drop_indexes(["vs", "ch"]).set_xindex("vs").set_xindex("ch")
    assert type(reference.xindexes["vs"]) is PandasIndex
    cases: list[dict[str, object]] = [
        {"vs": "stack_2"},
        {"vs": ["stack_4", "stack_1"], "ch": "561"},
        {"vs": slice("stack_1", "stack_2")},
        {"ch": np.array(["561", "488"])},
        {"vs": xr.DataArray(["stack_2", "stack_1"], dims="p")},
    ]
    for case in cases:
        expected = label_indexed(reference.sel(case)).compute()
        xr.testing.assert_identical(image.sel(case).compute(), expected)
    # method= works as xarray's: stack_3 does not exist, "pad" takes the one before
    assert str(image.sel(vs="stack_3", method="pad")["vs"].values) == "stack_2"
    assert list(image.sel(vs=["stack_3"], method="backfill")["vs"].values) == ["stack_4"]


def test_index_survives_isel_concat_and_alignment(image: xr.DataArray) -> None:
    first, last = image.isel(vs=[0, 1]), image.isel(vs=[1, 2])
    assert type(first.xindexes["vs"]) is LabelIndex
    joined = xr.concat([first.isel(vs=[0]), last.isel(vs=[1])], dim="vs")
    assert list(joined["vs"].values) == ["stack_1", "stack_4"]
    assert type(joined.xindexes["vs"]) is LabelIndex
    overlap = first + last  # inner join on the labels
    assert list(overlap["vs"].values) == ["stack_2"]
    outer, _ = xr.align(first, last, join="outer")
    assert list(outer["vs"].values) == ["stack_1", "stack_2", "stack_4"]
    with pytest.raises(vx.UnknownLabelError, match="'stack_1', 'stack_2', 'stack_4'"):
        outer.sel(vs="stack_3")


def test_plain_indexed_objects_align_when_labels_agree(image: xr.DataArray) -> None:
    gains = xr.DataArray([2.0, 3.0], dims="ch", coords={"ch": ["488", "561"]})
    scaled = (image.isel(vs=0, z=0) * gains).compute()
    expected = image.isel(vs=0, z=0).values * np.array([2.0, 3.0])[:, None, None]
    np.testing.assert_array_equal(scaled.values, expected)
    # different labels: xarray aligns one index type at a time; label_indexed helps
    subset = xr.DataArray([2.0], dims="ch", coords={"ch": ["561"]})
    joined = image.isel(vs=0, z=0) * label_indexed(subset)
    assert list(joined["ch"].values) == ["561"]
    plain = image.drop_indexes("ch").set_xindex("ch")
    assert list(plain.reindex(ch=["561", "640"])["ch"].values) == ["561", "640"]


def test_datatree_levels_inherit_the_label_index(demo: Path) -> None:
    tree = xr.open_datatree(demo, engine="visor")
    level = tree[f"raw/{IMAGE}/1"]
    assert type(level.xindexes["vs"]) is LabelIndex
    with pytest.raises(vx.UnknownLabelError, match="labels that exist: '488', '561'"):
        level.sel(ch="405")
    assert level.to_dataset().sel(ch="561", vs="stack_4")["image"].shape == (48, 20, 32)


def test_results_of_the_accessor_keep_the_label_index(image: xr.DataArray) -> None:
    ortho = image.isel(vs=[1], z=slice(0, 8)).visor.resample(
        to_space="ortho", version=DEMO_VERSION, level=None
    )
    levels = image.isel(vs=[0]).visor.pyramid(2)
    for result in (ortho, levels[1]):
        assert type(result.xindexes["ch"]) is LabelIndex
        with pytest.raises(vx.UnknownLabelError, match="labels that exist: '488', '561'"):
            result.sel(ch="640")


def test_written_and_reopened_labels_round_trip(image: xr.DataArray, tmp_path: Path) -> None:
    picked = image.sel(vs=["stack_4", "stack_1"], ch=["561"]).isel(z=slice(0, 16))
    picked.visor.to_vsr(tmp_path / "out.vsr", image_type="raw", name="picked")
    back = xr.open_dataset(tmp_path / "out.vsr", engine="visor", name="picked")["image"]
    assert list(back["vs"].values) == ["stack_4", "stack_1"]
    assert type(back.xindexes["vs"]) is LabelIndex
    xr.testing.assert_equal(back.sel(vs="stack_1").compute(), picked.sel(vs="stack_1").compute())
    with pytest.raises(vx.UnknownLabelError, match="labels that exist: 'stack_4', 'stack_1'"):
        back.sel(vs="stack_2")


def test_label_indexed_leaves_other_objects_alone() -> None:
    plain = xr.DataArray(np.zeros((2, 3)), dims=("vs", "x"))  # vs without a coordinate
    assert label_indexed(plain) is plain
    labelled = label_indexed(xr.DataArray([1, 2], coords={"ch": ["488", "561"]}))
    assert label_indexed(labelled) is labelled
