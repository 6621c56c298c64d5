"""Transform files: ITK .tfm, .npy, zarr and MetaImage .mha, checked against SimpleITK."""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import SimpleITK as sitk
import zarr
from fixture_data import VISOR001
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from visor_xarray.errors import CorruptDataError, MetadataError, UnsupportedTransformError
from visor_xarray.transforms import (
    READABLE,
    WRITABLE,
    Affine,
    DisplacementField,
    read_mha_displacement,
    read_npy,
    read_tfm,
    read_transform,
    read_zarr_affine,
    write_npy,
    write_tfm,
    write_transform,
    write_zarr_affine,
)

FIXTURE = VISOR001
VERSION = "xxx_20250525"
SLICE = "slice_1_10x"
FIXTURE_TFM = FIXTURE / "visor_recon_transforms" / VERSION / SLICE / "raw_to_ortho/0/0/affine.tfm"

# The examples overwrite the same files in one tmp_path; file I/O makes timing uneven.
per_example_dir = settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)

coordinate = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
vector = st.tuples(coordinate, coordinate, coordinate).map(np.array)
points = st.lists(vector, min_size=1, max_size=6).map(np.array)


@st.composite
def affines(draw: st.DrawFn) -> Affine:
    """Well-conditioned affines with arbitrary (full-precision) entries and a centre."""
    matrix = np.eye(3) * draw(st.floats(0.5, 4.0)) + np.array(
        draw(st.lists(st.floats(-0.4, 0.4), min_size=9, max_size=9))
    ).reshape(3, 3)
    return Affine(matrix, draw(vector), draw(vector))


def magnitude(*arrays: npt.ArrayLike) -> float:
    return 1.0 + max(float(np.max(np.abs(np.asarray(a)))) for a in arrays)


def sitk_affine(affine: Affine) -> sitk.AffineTransform:
    transform = sitk.AffineTransform(3)
    transform.SetMatrix(affine.matrix.ravel().tolist())
    transform.SetTranslation(affine.translation.tolist())
    transform.SetCenter(affine.center.tolist())
    return transform


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    copy = tmp_path / FIXTURE.name
    shutil.copytree(FIXTURE, copy)
    return copy


@pytest.fixture
def restore_zarr_config() -> Iterator[None]:
    # visor-py switches the whole process to the zarrs pipeline; undo that for other tests.
    saved = zarr.config.get("codec_pipeline.path")
    yield
    zarr.config.set({"codec_pipeline.path": saved})


# --------------------------------------------------------------------- .tfm


@given(affines())
@per_example_dir
def test_tfm_round_trip_is_exact(tmp_path: Path, affine: Affine) -> None:
    path = tmp_path / "affine.tfm"
    write_tfm(path, affine)
    assert read_tfm(path) == affine  # exact: full precision, centre kept
    write_tfm(path, affine, axis_order="xyz")
    assert read_tfm(path, axis_order="xyz") == affine


def test_tfm_keeps_the_centre(tmp_path: Path) -> None:
    affine = Affine(
        np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 2.0]]),
        np.array([1.0, 2.0, 3.0]),
        np.array([100.0, 200.0, 0.1]),
    )
    path = tmp_path / "deep" / "er" / "affine.tfm"  # parents are created
    write_tfm(path, affine)
    text = path.read_text()
    assert "FixedParameters: 100.0 200.0 0.1" in text
    assert "Transform: AffineTransform_double_3_3" in text
    assert read_tfm(path) == affine
    assert [p.name for p in path.parent.iterdir()] == ["affine.tfm"]  # no temp file left


def test_read_fixture_tfm() -> None:
    affine = read_tfm(FIXTURE_TFM)
    np.testing.assert_array_equal(
        affine.matrix,
        [[0.0, 0.876430630270142, 0.0], [0.0, 0.0, 1.03], [3.5, 0.5410816484822616, 0.0]],
    )
    np.testing.assert_array_equal(affine.translation, np.zeros(3))
    np.testing.assert_array_equal(affine.center, np.zeros(3))
    assert read_transform(FIXTURE_TFM, "affine", "tfm") == affine


@given(affines(), points)
@per_example_dir
def test_sitk_reads_our_tfm_as_the_same_map(
    tmp_path: Path, affine: Affine, pts: npt.NDArray[np.float64]
) -> None:
    path = tmp_path / "ours.tfm"
    write_tfm(path, affine)
    theirs = sitk.ReadTransform(str(path))
    expected = affine.apply(pts)
    got = np.array([theirs.TransformPoint(p.tolist()) for p in pts])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9 * magnitude(expected))


@given(affines(), points)
@per_example_dir
def test_we_read_sitk_tfm_as_the_same_map(
    tmp_path: Path, affine: Affine, pts: npt.NDArray[np.float64]
) -> None:
    path = tmp_path / "theirs.tfm"
    transform = sitk_affine(affine)
    sitk.WriteTransform(transform, str(path))
    ours = read_tfm(path)
    expected = np.array([transform.TransformPoint(p.tolist()) for p in pts])
    np.testing.assert_allclose(ours.apply(pts), expected, rtol=0, atol=1e-9 * magnitude(expected))
    np.testing.assert_allclose(ours.center, affine.center)


@given(affines(), points)
@per_example_dir
def test_xyz_file_maps_zyx_points_consistently(
    tmp_path: Path, affine: Affine, pts: npt.NDArray[np.float64]
) -> None:
    # ``affine`` plays an ITK-native transform acting on (x, y, z) points
    path = tmp_path / "native.tfm"
    native = sitk_affine(affine)
    sitk.WriteTransform(native, str(path))
    ours = read_tfm(path, axis_order="xyz")
    zyx = pts
    expected = np.array([native.TransformPoint(p[::-1].tolist())[::-1] for p in zyx])
    np.testing.assert_allclose(ours.apply(zyx), expected, rtol=0, atol=1e-9 * magnitude(expected))
    # and writing it back in xyz order gives sitk the same native transform
    write_tfm(path, ours, axis_order="xyz")
    again = sitk.ReadTransform(str(path))
    got = np.array([again.TransformPoint(p[::-1].tolist())[::-1] for p in zyx])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9 * magnitude(expected))


@pytest.mark.usefixtures("restore_zarr_config")
def test_read_tfm_written_by_visor_py(sample: Path) -> None:
    visor = pytest.importorskip("visor")
    m9 = [1.5, -0.25, 0.125, 0.1, 0.9, -0.3, 0.0, 0.2, 2.0 / 3.0]
    t3 = [556.4931133465265, -12.0, 1e-7]
    xfm = visor.Transform(sample, VERSION, SLICE, create=True)
    written = xfm.save("raw", "ortho", "affine", "tfm", params=[1, 0, *m9, *t3])
    affine = read_tfm(written)
    np.testing.assert_array_equal(affine.matrix, np.reshape(m9, (3, 3)))
    np.testing.assert_array_equal(affine.translation, t3)
    np.testing.assert_array_equal(affine.center, np.zeros(3))
    # and visor-py's own loader agrees with our reading of the map
    loaded = sitk.ReadTransform(str(written))
    p = [3.0, 400.0, 17.0]
    np.testing.assert_allclose(affine.apply(p), loaded.TransformPoint(p), rtol=1e-13)


def test_tfm_accepts_float_and_matrix_offset_types(tmp_path: Path) -> None:
    for kind in ("AffineTransform_float_3_3", "MatrixOffsetTransformBase_double_3_3"):
        path = tmp_path / f"{kind}.tfm"
        path.write_text(
            "#Insight Transform File V1.0\r\n#Transform 0\r\n"
            f"Transform: {kind}\r\n"
            "Parameters: 2 0 0 0 2 0 0 0 2 1 -1 .5\r\n"
            "FixedParameters: 1e1 0 -0\r\n"
        )
        affine = read_tfm(path)
        np.testing.assert_array_equal(affine.matrix, 2 * np.eye(3))
        np.testing.assert_array_equal(affine.translation, [1.0, -1.0, 0.5])
        np.testing.assert_array_equal(affine.center, [10.0, 0.0, 0.0])


def _tfm(
    kind: str = "AffineTransform_double_3_3",
    parameters: str = "1 0 0 0 1 0 0 0 1 0 0 0",
    fixed: str | None = "0 0 0",
    header: str = "#Insight Transform File V1.0",
) -> str:
    lines = [header, "#Transform 0", f"Transform: {kind}", f"Parameters: {parameters}"]
    if fixed is not None:
        lines.append(f"FixedParameters: {fixed}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (_tfm(parameters="1 0 0 0 1 0 0 0 1 0 0"), "Parameters"),  # truncated
        (_tfm(parameters="1 0 0 0 1 0 0 0 1 0 0 0 0"), "Parameters"),
        (_tfm(parameters="1 0 0 0 one 0 0 0 1 0 0 0"), "Parameters"),
        (_tfm(parameters="1 0 0 0 nan 0 0 0 1 0 0 0"), "Parameters"),
        (_tfm(parameters="1 0 0 0 1_0 0 0 0 1 0 0 0"), "Parameters"),
        (_tfm(parameters="1 0 0 0 1e999 0 0 0 1 0 0 0"), "Parameters"),
        (_tfm(fixed="0 0"), "FixedParameters"),
        (_tfm(fixed="0 0 x"), "FixedParameters"),
        (_tfm(fixed=None), "FixedParameters"),
        (_tfm(header="# some other file"), "header"),
        ("", "header"),
        ("#Insight Transform File V1.0\n#Transform 0\n", "Transform"),
        (_tfm() + "Parameters: 1 2 3\n", "Parameters"),
        ("#Insight Transform File V1.0\nTransform AffineTransform_double_3_3\n", "line 2"),
    ],
)
def test_malformed_tfm_raises_metadata_error(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "bad.tfm"
    path.write_text(text)
    with pytest.raises(MetadataError) as info:
        read_tfm(path)
    assert info.value.field == field
    assert info.value.file == path
    assert str(path) in str(info.value)


def test_binary_tfm_raises_metadata_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.tfm"
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(MetadataError, match="not an ITK text transform file"):
        read_tfm(path)


@pytest.mark.parametrize(
    "kind",
    ["BSplineTransform_double_3_3", "Euler3DTransform_double_3_3", "AffineTransform_double_2_2"],
)
def test_other_transform_types_are_unsupported(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "other.tfm"
    path.write_text(_tfm(kind=kind))
    with pytest.raises(UnsupportedTransformError, match=kind) as info:
        read_tfm(path)
    assert str(path) in str(info.value)


def test_composite_tfm_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "composite.tfm"
    composite = sitk.CompositeTransform(3)
    composite.AddTransform(sitk.AffineTransform(3))
    composite.AddTransform(sitk.AffineTransform(3))
    sitk.WriteTransform(composite, str(path))
    with pytest.raises(UnsupportedTransformError, match="composite") as info:
        read_tfm(path)
    assert str(path) in str(info.value)


def test_missing_tfm_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_tfm(tmp_path / "nothing.tfm")


def test_bad_axis_order(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="axis_order"):
        read_tfm(FIXTURE_TFM, axis_order="yxz")
    with pytest.raises(ValueError, match="axis_order"):
        write_tfm(tmp_path / "a.tfm", Affine.identity(), axis_order="zxy")


# --------------------------------------------------------------------- .npy


@given(affines(), st.sampled_from(["zyx", "xyz"]))
@per_example_dir
def test_npy_round_trip(tmp_path: Path, affine: Affine, axis_order: str) -> None:
    path = tmp_path / "affine.npy"
    write_npy(path, affine, axis_order=axis_order)
    back = read_npy(path, axis_order=axis_order)
    assert back.allclose(affine, atol=1e-9 * magnitude(affine.offset))
    np.testing.assert_array_equal(back.center, np.zeros(3))  # folded into the offset


def test_npy_is_the_zyx_homogeneous_matrix(tmp_path: Path) -> None:
    affine = Affine(np.diag([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0]))
    path = tmp_path / "affine.npy"
    write_npy(path, affine)
    stored = np.load(path)
    assert stored.dtype == np.float64
    np.testing.assert_array_equal(stored, affine.homogeneous)
    write_npy(path, affine, axis_order="xyz")
    np.testing.assert_array_equal(np.load(path)[:3, :3], np.diag([3.0, 2.0, 1.0]))


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (np.eye(3), "matrix"),
        (np.eye(4)[None], "matrix"),
        (np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 1]], float), "matrix"),
        (np.full((4, 4), np.nan), "matrix"),
        (np.array([["a"] * 4] * 4), "matrix"),
    ],
)
def test_malformed_npy(tmp_path: Path, data: npt.NDArray[Any], field: str) -> None:
    path = tmp_path / "bad.npy"
    np.save(path, data)
    with pytest.raises(MetadataError) as info:
        read_npy(path)
    assert info.value.field == field
    assert str(path) in str(info.value)


def test_npy_that_is_not_npy(tmp_path: Path) -> None:
    path = tmp_path / "bad.npy"
    path.write_bytes(b"this is not numpy")
    with pytest.raises(MetadataError, match="not a readable"):
        read_npy(path)
    pickled = tmp_path / "pickled.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(MetadataError):
        read_npy(pickled)


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "affine.npy"
    write_npy(path, Affine.identity())

    def explode(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", explode)
    with pytest.raises(OSError, match="disk full"):
        write_npy(path, Affine(2 * np.eye(3), np.zeros(3)))
    monkeypatch.undo()
    assert read_npy(path) == Affine.identity()
    assert [p.name for p in tmp_path.iterdir()] == ["affine.npy"]


# --------------------------------------------------------------------- zarr


@given(affines(), st.sampled_from(["zyx", "xyz"]))
@per_example_dir
def test_zarr_round_trip_keeps_the_centre(tmp_path: Path, affine: Affine, axis_order: str) -> None:
    path = tmp_path / "affine.zarr"
    write_zarr_affine(path, affine, axis_order=axis_order)
    assert read_zarr_affine(path) == affine
    assert sorted(p.name for p in tmp_path.iterdir()) == ["affine.zarr"]


def test_zarr_layout(tmp_path: Path) -> None:
    affine = Affine(np.diag([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0]))
    path = tmp_path / "t" / "affine.zarr"
    write_zarr_affine(path, affine)
    array = zarr.open_array(str(path), mode="r")
    assert array.metadata.zarr_format == 3
    assert array.shape == (4, 4)
    assert array.dtype == np.float64
    np.testing.assert_array_equal(array[...], affine.homogeneous)
    assert dict(array.attrs) == {
        "matrix": affine.matrix.tolist(),
        "translation": [1.0, 2.0, 3.0],
        "center": [4.0, 5.0, 6.0],
        "axis_order": "zyx",
    }
    # replacing an existing array
    write_zarr_affine(path, Affine.identity())
    assert read_zarr_affine(path) == Affine.identity()
    assert [p.name for p in path.parent.iterdir()] == ["affine.zarr"]


def test_zarr_without_attributes_reads_the_matrix(tmp_path: Path) -> None:
    path = tmp_path / "plain.zarr"
    array = zarr.create_array(str(path), shape=(4, 4), dtype="float64", zarr_format=3)
    h = np.eye(4)
    h[:3, 3] = [1.0, 2.0, 3.0]
    array[...] = h
    assert read_zarr_affine(path) == Affine(np.eye(3), np.array([1.0, 2.0, 3.0]))


def test_zarr_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_zarr_affine(tmp_path / "missing.zarr")
    not_array = tmp_path / "empty.zarr"
    not_array.mkdir()
    with pytest.raises(MetadataError, match="not a readable zarr array"):
        read_zarr_affine(not_array)
    path = tmp_path / "affine.zarr"
    write_zarr_affine(path, Affine.identity())
    array = zarr.open_array(str(path), mode="r+")
    array.attrs["translation"] = [5.0, 0.0, 0.0]
    with pytest.raises(MetadataError, match="different map") as info:
        read_zarr_affine(path)
    assert str(path) in str(info.value)
    del array.attrs["translation"]
    with pytest.raises(MetadataError, match="translation"):
        read_zarr_affine(path)
    array.attrs["axis_order"] = "yzx"
    with pytest.raises(MetadataError, match="axis_order"):
        read_zarr_affine(path)
    wrong_shape = zarr.create_array(str(tmp_path / "w.zarr"), shape=(3, 3), dtype="float64")
    wrong_shape[...] = np.eye(3)
    with pytest.raises(MetadataError, match="4x4"):
        read_zarr_affine(tmp_path / "w.zarr")


# --------------------------------------------------------------------- .mha


def make_sitk_field(
    shape_xyz: tuple[int, int, int],
    origin_xyz: tuple[float, float, float],
    spacing_xyz: tuple[float, float, float],
    direction: npt.NDArray[np.float64] | None = None,
    seed: int = 0,
) -> sitk.Image:
    rng = np.random.default_rng(seed)
    values = rng.normal(scale=3.0, size=(*shape_xyz[::-1], 3))
    image = sitk.GetImageFromArray(values, isVector=True)
    image.SetOrigin(origin_xyz)
    image.SetSpacing(spacing_xyz)
    if direction is not None:
        image.SetDirection(direction.ravel().tolist())
    return image


def compare_with_sitk(
    field: DisplacementField, image: sitk.Image, pts_xyz: npt.NDArray[np.float64]
) -> None:
    reference = sitk.DisplacementFieldTransform(sitk.Cast(image, sitk.sitkVectorFloat64))
    expected = np.array([reference.TransformPoint(p.tolist()) for p in pts_xyz])
    got = field.apply(pts_xyz[:, ::-1])[:, ::-1]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def grid_points(image: sitk.Image, fractions: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Physical (x, y, z) points at fractional continuous indices of the image grid."""
    size = np.array(image.GetSize(), dtype=np.float64)
    return np.array(
        [
            image.TransformContinuousIndexToPhysicalPoint((f * (size - 1)).tolist())
            for f in fractions
        ]
    )


@pytest.mark.parametrize("pixel", [sitk.sitkVectorFloat32, sitk.sitkVectorFloat64])
def test_mha_field_matches_sitk(tmp_path: Path, pixel: int) -> None:
    image = make_sitk_field((7, 6, 5), (-3.5, 10.0, 2.25), (0.7, 1.3, 2.1))
    path = tmp_path / "dense displacement field.mha"
    sitk.WriteImage(sitk.Cast(image, pixel), str(path))
    field = read_mha_displacement(path)
    assert field.shape == (5, 6, 7)
    np.testing.assert_array_equal(field.origin, [2.25, 10.0, -3.5])
    np.testing.assert_array_equal(field.spacing, [2.1, 1.3, 0.7])
    np.testing.assert_array_equal(field.direction, np.eye(3))
    # voxel (x=1, y=2, z=3) holds (dx, dy, dz) in sitk, (dz, dy, dx) here
    vx, vy, vz = image.GetPixel(1, 2, 3)
    np.testing.assert_allclose(field.field[3, 2, 1], [vz, vy, vx], rtol=1e-6)
    rng = np.random.default_rng(1)
    stored = sitk.ReadImage(str(path))
    compare_with_sitk(field, stored, grid_points(stored, rng.random((50, 3))))
    assert read_transform(path, "dense displacement field", "mha") == field


def test_mha_field_with_direction_matches_sitk(tmp_path: Path) -> None:
    angle = math.radians(30.0)
    rotation = np.array(
        [
            [math.cos(angle), -math.sin(angle), 0.0],
            [math.sin(angle), math.cos(angle), 0.0],
            [0, 0, 1],
        ]
    )
    permuted = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    image = make_sitk_field((6, 5, 4), (1.0, -2.0, 3.0), (0.5, 1.0, 2.0), rotation @ permuted)
    path = tmp_path / "ddf.mha"
    sitk.WriteImage(sitk.Cast(image, sitk.sitkVectorFloat32), str(path))
    field = read_mha_displacement(path)
    stored = sitk.ReadImage(str(path))
    rng = np.random.default_rng(2)
    compare_with_sitk(field, stored, grid_points(stored, rng.random((50, 3))))


def test_mha_edges_match_sitk(tmp_path: Path) -> None:
    image = make_sitk_field((4, 4, 4), (0.0, 0.0, 0.0), (1.0, 2.0, 3.0))
    path = tmp_path / "ddf.mha"
    sitk.WriteImage(sitk.Cast(image, sitk.sitkVectorFloat32), str(path))
    field = read_mha_displacement(path)
    stored = sitk.ReadImage(str(path))
    # continuous indices inside the half-voxel border, and beyond it
    fractions = np.array(
        [[-0.1, 0.5, 0.5], [1.1, 0.5, 0.5], [0.5, -0.3, 1.0], [0.5, 1.4, 0.2], [2.0, 2.0, 2.0]]
    )
    compare_with_sitk(field, stored, grid_points(stored, fractions))


def test_mha_field_has_no_inverse(tmp_path: Path) -> None:
    path = tmp_path / "ddf.mha"
    sitk.WriteImage(
        sitk.Cast(make_sitk_field((2, 2, 2), (0, 0, 0), (1, 1, 1)), sitk.sitkVectorFloat32),
        str(path),
    )
    with pytest.raises(UnsupportedTransformError, match="no analytic inverse"):
        read_mha_displacement(path).inverse()


def _mha(header: dict[str, str], data: bytes) -> bytes:
    # MetaIO: the data follows the ElementDataFile line, so that key goes last.
    ordered = sorted(header.items(), key=lambda item: item[0] == "ElementDataFile")
    text = "".join(f"{key} = {value}\n" for key, value in ordered)
    return text.encode("ascii") + data


BASE_HEADER = {
    "ObjectType": "Image",
    "NDims": "3",
    "BinaryData": "True",
    "BinaryDataByteOrderMSB": "False",
    "CompressedData": "False",
    "TransformMatrix": "1 0 0 0 1 0 0 0 1",
    "Offset": "0 0 0",
    "ElementSpacing": "1 1 1",
    "DimSize": "3 2 2",
    "ElementNumberOfChannels": "3",
    "ElementType": "MET_FLOAT",
    "ElementDataFile": "LOCAL",
}
VALUES = np.arange(2 * 2 * 3 * 3, dtype=np.float64).reshape(2, 2, 3, 3)


def test_mha_big_endian(tmp_path: Path) -> None:
    little = tmp_path / "little.mha"
    big = tmp_path / "big.mha"
    little.write_bytes(_mha(BASE_HEADER, VALUES.astype("<f4").tobytes()))
    big.write_bytes(
        _mha({**BASE_HEADER, "BinaryDataByteOrderMSB": "True"}, VALUES.astype(">f4").tobytes())
    )
    assert read_mha_displacement(big) == read_mha_displacement(little)
    np.testing.assert_array_equal(read_mha_displacement(little).field, VALUES[..., ::-1])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"DimSize": "3 2"}, "DimSize"),
        ({"DimSize": "3 two 2"}, "DimSize"),
        ({"DimSize": "3 0 2"}, "DimSize"),
        ({"DimSize": None}, "DimSize"),
        ({"ElementType": None}, "ElementType"),
        ({"ObjectType": "Mesh"}, "ObjectType"),
        ({"ElementSpacing": "1 1 nan"}, "ElementSpacing"),
        ({"ElementSpacing": "1 -1 1"}, "header"),
        ({"TransformMatrix": "1 0 0 0 1 0 0 0"}, "TransformMatrix"),
        ({"CompressedData": "maybe"}, "CompressedData"),
        ({"HeaderSize": "many"}, "HeaderSize"),
    ],
)
def test_malformed_mha_header(tmp_path: Path, change: dict[str, str | None], field: str) -> None:
    header = {k: v for k, v in {**BASE_HEADER, **change}.items() if v is not None}
    path = tmp_path / "bad.mha"
    path.write_bytes(_mha(header, VALUES.astype("<f4").tobytes()))
    with pytest.raises(MetadataError) as info:
        read_mha_displacement(path)
    assert info.value.field == field
    assert str(path) in str(info.value)


def test_mha_without_header_end(tmp_path: Path) -> None:
    path = tmp_path / "bad.mha"
    path.write_bytes(b"ObjectType = Image\nNDims = 3\n")
    with pytest.raises(MetadataError, match="ElementDataFile"):
        read_mha_displacement(path)
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    with pytest.raises(MetadataError):
        read_mha_displacement(path)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"CompressedData": "True"}, "CompressedData = True"),
        ({"NDims": "2"}, "NDims"),
        ({"ElementNumberOfChannels": "1"}, "ElementNumberOfChannels"),
        ({"ElementType": "MET_SHORT"}, "MET_SHORT"),
        ({"ElementDataFile": "field.raw"}, "field.raw"),
        ({"BinaryData": "False"}, "BinaryData"),
    ],
)
def test_unsupported_mha(tmp_path: Path, change: dict[str, str], named: str) -> None:
    path = tmp_path / "other.mha"
    path.write_bytes(_mha({**BASE_HEADER, **change}, VALUES.astype("<f4").tobytes()))
    with pytest.raises(UnsupportedTransformError, match=named) as info:
        read_mha_displacement(path)
    assert str(path) in str(info.value)


def test_sitk_compressed_mha_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "compressed.mha"
    image = make_sitk_field((3, 3, 3), (0, 0, 0), (1, 1, 1))
    sitk.WriteImage(sitk.Cast(image, sitk.sitkVectorFloat32), str(path), True)
    with pytest.raises(UnsupportedTransformError, match="CompressedData"):
        read_mha_displacement(path)


@pytest.mark.parametrize("delta", [-4, 4])
def test_mha_with_wrong_data_length(tmp_path: Path, delta: int) -> None:
    data = VALUES.astype("<f4").tobytes()
    data = data[:delta] if delta < 0 else data + b"\0" * delta
    path = tmp_path / "short.mha"
    path.write_bytes(_mha(BASE_HEADER, data))
    with pytest.raises(CorruptDataError) as info:
        read_mha_displacement(path)
    assert str(path) in str(info.value)


# --------------------------------------------------------------------- dispatch


def test_dispatch_round_trips(tmp_path: Path) -> None:
    affine = Affine(np.diag([2.0, 1.0, 0.5]), np.array([1.0, 2.0, 3.0]), np.array([7.0, 8.0, 9.0]))
    for fmt in ("tfm", "npy", "zarr"):
        path = tmp_path / f"affine.{fmt}"
        write_transform(path, affine, "affine", fmt)
        back = read_transform(path, "affine", fmt)
        assert isinstance(back, Affine)
        assert back.allclose(affine)
        write_transform(path, affine, "affine", fmt, axis_order="xyz")
        assert read_transform(path, "affine", fmt, axis_order="xyz").allclose(  # type: ignore[union-attr]
            affine
        )
    assert ("affine", "tfm") in READABLE
    assert ("dense displacement field", "mha") in READABLE
    assert ("dense displacement field", "mha") not in WRITABLE


@pytest.mark.parametrize(
    ("kind", "fmt"),
    [("b-spline", "tfm"), ("affine", "mha"), ("neural network", "onnx"), ("model", "binary")],
)
def test_unsupported_combinations(tmp_path: Path, kind: str, fmt: str) -> None:
    path = tmp_path / f"{kind}.{fmt}"
    with pytest.raises(UnsupportedTransformError) as info:
        read_transform(path, kind, fmt)
    message = str(info.value)
    assert repr(kind) in message
    assert repr(fmt) in message
    assert "'affine'+'tfm'" in message
    assert "'dense displacement field'+'mha'" in message
    with pytest.raises(UnsupportedTransformError, match="supported: 'affine'"):
        write_transform(path, Affine.identity(), kind, fmt)


def test_write_transform_refuses_fields_and_mismatched_types(tmp_path: Path) -> None:
    field = DisplacementField(np.zeros((2, 2, 2, 3)))
    with pytest.raises(UnsupportedTransformError, match="dense displacement field"):
        write_transform(tmp_path / "ddf.mha", field, "dense displacement field", "mha")
    with pytest.raises(TypeError, match="Affine"):
        write_transform(tmp_path / "a.tfm", field, "affine", "tfm")
    with pytest.raises(TypeError, match="Affine"):
        write_tfm(tmp_path / "a.tfm", field)  # type: ignore[arg-type]
