"""Reading samples in the legacy layout of visor-py 2024.12.x (Zarr v2, flat attributes).

Real upstream data (the vendored ``VISOR001-v2024.12.3.vsr``) and samples written here
with plain zarr in that layout (several levels, label gaps, channels listed out of index
order, a 4-D image) open through every entry point, with a ``LegacyLayoutWarning``;
writes are refused with a ``LegacyLayoutError`` and leave every file as it was.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
import zarr

import visor_xarray as vx
from visor_xarray.errors import LegacyLayoutError, LegacyLayoutWarning, ReadOnlyError
from visor_xarray.testing import make_legacy_sample
from visor_xarray.validate import validate

DATA = Path(__file__).resolve().parent / "data"
LEGACY_FIXTURE = DATA / "VISOR001-v2024.12.3.vsr"
# written by visor-py 2024.12.3 itself (tests/data/generate_legacy002.py): two levels
LEGACY002 = DATA / "LEGACY002-v2024.12.3.vsr"
LEGACY = "legacy layout of visor-py 2024.12.x"


def stored(sample: Path, kind: str, name: str, level: str = "0") -> np.ndarray:
    """A level read with plain zarr (the reference the library must agree with)."""
    array = zarr.open_array(
        str(sample / f"visor_{kind}_images" / f"{name}.zarr" / level), mode="r"
    )
    assert array.metadata.zarr_format == 2
    return np.asarray(array[...])


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A multi-level legacy sample written with plain zarr v2 (do not modify)."""
    return make_legacy_sample(tmp_path_factory.mktemp("legacy") / "L.vsr", levels=3)


def opened(path: Path, **kwargs: Any) -> xr.Dataset:
    with pytest.warns(LegacyLayoutWarning, match=LEGACY) as record:
        dataset = xr.open_dataset(path, engine="visor", **kwargs)
    assert "copy_sample" in str(record[0].message)
    return dataset


def test_upstream_legacy_fixture_opens_with_labels_and_micrometres() -> None:
    dataset = opened(LEGACY_FIXTURE, name="slice_1_10x")
    image = dataset["image"]
    assert image.dims == ("vs", "ch", "z", "y", "x")
    assert list(image["vs"].values) == ["stack_1", "stack_2"]
    assert list(image["ch"].values) == ["488", "561"]
    np.testing.assert_allclose(image["z"].values, [0.0, 3.5, 7.0, 10.5])
    np.testing.assert_allclose(image["x"].values, 1.03 * np.arange(4))
    assert image["x"].attrs["units"] == "micrometer"
    assert image.attrs["ome_version"] == "0.4"
    np.testing.assert_array_equal(image.values, stored(LEGACY_FIXTURE, "raw", "slice_1_10x"))
    np.testing.assert_array_equal(
        image.sel(vs="stack_2", ch="561").values,
        stored(LEGACY_FIXTURE, "raw", "slice_1_10x")[1, 1],
    )


def test_upstream_legacy_fixture_compr_image_and_tree() -> None:
    dataset = opened(LEGACY_FIXTURE, image_type="compr")
    np.testing.assert_array_equal(
        dataset["image"].values, stored(LEGACY_FIXTURE, "compr", "xxx_slice_1_10x_20241201")
    )
    assert dataset.attrs["sources"] == ["visor_raw_images/slice_1_10x.zarr"]
    with pytest.warns(LegacyLayoutWarning, match=LEGACY):
        tree = xr.open_datatree(LEGACY_FIXTURE, engine="visor")
    assert sorted(tree["raw"].children) == ["slice_1_10x", "slice_1_10x_1"]
    np.testing.assert_array_equal(
        tree["raw/slice_1_10x_1/0"]["image"].values,
        stored(LEGACY_FIXTURE, "raw", "slice_1_10x_1"),
    )
    assert list(tree["raw/slice_1_10x_1"]["ch"].values) == ["405", "640"]


def test_info_and_list_image_read_the_legacy_layout() -> None:
    with pytest.warns(LegacyLayoutWarning, match=LEGACY):
        summary = vx.info(LEGACY_FIXTURE)
    assert summary.animal_id == "VISOR001"
    assert summary.image_types == ("raw", "compr")
    with pytest.warns(LegacyLayoutWarning, match=LEGACY):
        records = vx.list_image(LEGACY_FIXTURE, channel="561")
    assert [(r.type, r.name, r.channels, r.selected) for r in records] == [
        ("raw", "slice_1_10x", ("488", "561"), True)
    ]
    assert records[0].selected_channels == ("488", "561")  # legacy "path" keys of selected.json


@pytest.mark.parametrize("level", [0, 1, 2])
def test_every_level_of_a_multilevel_legacy_sample(legacy: Path, level: int) -> None:
    image = opened(legacy, name="slice_1_10x", resolution=level)["image"]
    expected = stored(legacy, "raw", "slice_1_10x", str(level))
    np.testing.assert_array_equal(image.values, expected)
    # labels follow "index", not list position: 561 is index 0 though listed second
    assert list(image["ch"].values) == ["561", "488"]
    assert list(image["vs"].values) == ["stack_1", "stack_3"]
    np.testing.assert_allclose(image["y"].values, 1.03 * 2**level * np.arange(expected.shape[3]))
    np.testing.assert_allclose(image["z"].values, 3.5 * np.arange(expected.shape[2]))
    np.testing.assert_array_equal(image.sel(ch="488").values, expected[:, 1])


def test_legacy_4d_image_and_the_tree(legacy: Path) -> None:
    image = opened(legacy, image_type="recon", resolution=1)["image"]
    assert image.dims == ("ch", "z", "y", "x")
    np.testing.assert_allclose(image["z"].values, [0.0, 8.0])
    np.testing.assert_array_equal(
        image.values, stored(legacy, "recon", "xxx_brain_10x_20241201", "1")
    )
    with pytest.warns(LegacyLayoutWarning):
        tree = xr.open_datatree(legacy, engine="visor")
    assert sorted(tree["raw/slice_1_10x"].children) == ["0", "1", "2"]
    assert sorted(tree["recon/xxx_brain_10x_20241201"].children) == ["0", "1"]


def test_seed_image_reads_legacy_levels_and_labels(legacy: Path) -> None:
    with pytest.warns(LegacyLayoutWarning, match=LEGACY):
        img = vx.Image(legacy, type="raw", name="slice_1_10x", mode="r")
    assert img.levels == ("0", "1", "2")
    assert img.label_to_index("channel", "488") == 1
    assert img.label_to_index("stack", "stack_3") == 1
    array = img.open(2)
    np.testing.assert_array_equal(array[...], stored(legacy, "raw", "slice_1_10x", "2"))
    with pytest.raises(ReadOnlyError):
        array[0, 0, 0, 0, 0] = 1


def test_an_image_directory_of_the_legacy_layout_opens_by_path(legacy: Path) -> None:
    image_dir = legacy / "visor_raw_images" / "slice_1_10x.zarr"
    from visor_xarray.backend.entrypoint import VisorBackendEntrypoint

    assert VisorBackendEntrypoint().guess_can_open(image_dir)
    dataset = opened(image_dir, resolution=1)
    assert dataset.attrs["image_name"] == "slice_1_10x"


def test_validate_reports_the_layout_as_a_warning_not_an_error(legacy: Path) -> None:
    problems = validate(legacy, deep=True)
    assert [p.severity for p in problems] == ["warning", "warning"]
    assert {p.file.name for p in problems} == {".zattrs"}
    assert all(LEGACY in p.message and "copy_sample" in p.message for p in problems)
    fixture = validate(LEGACY_FIXTURE, deep=True)
    assert not [p for p in fixture if p.severity == "error"]


def refusals(sample: Path) -> list[tuple[str, Callable[[], object]]]:
    data = xr.DataArray(
        np.zeros((1, 1, 2, 2, 2), np.uint16),
        dims=("vs", "ch", "z", "y", "x"),
        coords={"vs": ["stack_1"], "ch": ["488"], "z": [0.0, 1.0], "y": [0, 1.0], "x": [0, 1.0]},
    )
    return [
        ("r+", lambda: vx.Image(sample, type="raw", name="slice_1_10x", mode="r+")),
        ("a", lambda: vx.Image(sample, type="raw", name="slice_1_10x", mode="a")),
        ("w", lambda: vx.Image(sample, type="raw", name="slice_1_10x", mode="w")),
        ("w-", lambda: vx.Image(sample, type="raw", name="new_image", mode="w-")),
        ("to_vsr", lambda: data.visor.to_vsr(sample, image_type="raw", name="new_image")),
        (
            "add_levels",
            lambda: vx.add_levels(sample, image_type="raw", name="slice_1_10x", levels=4),
        ),
        ("VsrStore", lambda: vx.VsrStore(sample, "r+")),
        ("Transform", lambda: vx.Transform(sample, version="v1", name="slice_1_10x")),
    ]


@pytest.mark.parametrize("case", range(8))
def test_writes_to_the_legacy_layout_are_refused(
    legacy: Path,
    tmp_path: Path,
    case: int,
    unchanged: Callable[[Path], Callable[[], None]],
) -> None:
    sample = tmp_path / "L.vsr"
    shutil.copytree(legacy, sample)
    check = unchanged(sample)
    what, write = refusals(sample)[case]
    with pytest.raises(LegacyLayoutError, match=LEGACY) as caught:
        write()
    assert isinstance(caught.value, ReadOnlyError)
    assert isinstance(caught.value, PermissionError)
    assert "copy_sample" in str(caught.value), what
    assert str(sample) in str(caught.value)
    check()


@pytest.mark.parametrize("level", [0, 1])
def test_multilevel_sample_written_by_visor_py_2024(level: int) -> None:
    raw = opened(LEGACY002, name="slice_1_10x", resolution=level)["image"]
    expected = stored(LEGACY002, "raw", "slice_1_10x", str(level))
    np.testing.assert_array_equal(raw.values, expected)
    assert list(raw["vs"].values) == ["stack_1", "stack_2", "stack_4"]
    assert list(raw["ch"].values) == ["488", "561"]  # by index; listed 561 first
    np.testing.assert_array_equal(raw.sel(vs="stack_4", ch="561").values, expected[2, 1])
    np.testing.assert_allclose(raw["x"].values, 1.03 * 2**level * np.arange(expected.shape[4]))
    recon = opened(LEGACY002, image_type="recon", resolution=level)["image"]
    assert recon.dims == ("ch", "z", "y", "x")
    np.testing.assert_allclose(recon["z"].values, 3.5 * 2**level * np.arange(8 // 2**level))
    np.testing.assert_array_equal(
        recon.values, stored(LEGACY002, "recon", "xxx_brain_10x_20241201", str(level))
    )


def test_sample_written_by_visor_py_2024_converts_for_visor_py_2026(tmp_path: Path) -> None:
    report = vx.copy_sample(LEGACY002, tmp_path / "C.vsr")
    assert report.converted == ("raw/slice_1_10x", "recon/xxx_brain_10x_20241201")
    assert validate(tmp_path / "C.vsr", deep=True) == []
    import visor

    images = visor.VSR(tmp_path / "C.vsr").images()
    assert images["raw"] == [
        {
            "name": "slice_1_10x",
            "channels": ["488", "561"],
            "resolutions": {"0": [1.0] * 5, "1": [1.0, 1.0, 1.0, 2.0, 2.0]},
        }
    ]
    raw = visor.Image(tmp_path / "C.vsr", image_type="raw", image_name="slice_1_10x")
    assert raw.label_to_index("stack", "stack_4") == 2
    for level in ("0", "1"):
        np.testing.assert_array_equal(
            raw.load(resolution=level)[...], stored(LEGACY002, "raw", "slice_1_10x", level)
        )
