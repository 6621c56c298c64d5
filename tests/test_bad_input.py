"""Bad input: every case raises its *specific* error, naming the file and the field, and
leaves every file of the sample byte-identical (checked with the ``unchanged`` fixture).

The samples are writable copies, so a write that should not happen would show up.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from zarr.core.sync import sync

import visor_xarray as vx
from visor_xarray.errors import (
    InvalidArrayError,
    MetadataError,
    NotAVsrError,
    ReadOnlyError,
    TargetExistsError,
    UnknownImageError,
    UnknownLabelError,
    UnknownLevelError,
    UnknownVersionError,
    VisorError,
)
from visor_xarray.schema import ReconInfo, SampleInfo, Selection, TransformList, parse_image_attrs
from visor_xarray.store import VsrStore
from visor_xarray.testing.samples import image_attributes

Unchanged = Callable[[Path], Callable[[], None]]

RAW_DIR = "visor_raw_images"
IMAGE = "slice_1_10x"
VERSION = "xxx_20250525"
GROUP = f"{RAW_DIR}/{IMAGE}.zarr/zarr.json"
INFO = "info.json"
SELECTED = f"{RAW_DIR}/selected.json"
RECON = f"visor_recon_transforms/{VERSION}/recon.json"
TRANSFORMS = f"visor_recon_transforms/{VERSION}/slice_1_10x/transforms.json"


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def dump(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2), encoding="utf-8")


def edit_attrs(sample: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    """Change the group attributes of raw image slice_1_10x in place."""
    document = load(sample / GROUP)
    edit(document["attributes"])
    dump(sample / GROUP, document)


def new_attrs(name: str = "slice_2_10x") -> dict[str, Any]:
    return image_attributes(name, stacks=["stack_1", "stack_2"], channels=["488", "561"])


# ------------------------------------------------------------------- not a sample

OPENERS: dict[str, Callable[[Path], object]] = {
    "VsrStore": VsrStore,
    "VsrStore-r+": lambda p: VsrStore(p, mode="r+"),
    "info": vx.info,
    "list_image": vx.list_image,
    "list_transform": vx.list_transform,
    "Image": lambda p: vx.Image(p, name=IMAGE),
    "Image-r+": lambda p: vx.Image(p, name=IMAGE, mode="r+"),
}


@pytest.mark.parametrize("opener", OPENERS.values(), ids=OPENERS.keys())
def test_missing_path(tmp_path: Path, opener: Callable[[Path], object]) -> None:
    missing = tmp_path / "MISSING.vsr"
    with pytest.raises(NotAVsrError) as caught:
        opener(missing)
    assert isinstance(caught.value, FileNotFoundError)
    assert isinstance(caught.value, VisorError)
    assert caught.value.path == missing
    assert str(caught.value) == f"{missing}: no such sample directory"
    assert not missing.exists()


@pytest.mark.parametrize("mode", ["r", "r+", "a"])
def test_path_without_vsr_suffix(
    visor001: Path, tmp_path: Path, unchanged: Unchanged, mode: str
) -> None:
    plain = tmp_path / "VISOR001"
    shutil.copytree(visor001, plain)
    check = unchanged(tmp_path)
    with pytest.raises(NotAVsrError, match=r"must end in \.vsr"):
        VsrStore(plain, mode=mode)  # type: ignore[arg-type]
    with pytest.raises(NotAVsrError, match=r"must end in \.vsr"):
        VsrStore(tmp_path / "NEW", mode=mode)  # type: ignore[arg-type]
    with pytest.raises(NotAVsrError, match=r"must end in \.vsr"):
        vx.info(plain)
    assert not (tmp_path / "NEW").exists()
    check()


@pytest.mark.parametrize("mode", ["r", "r+", "a"])
def test_file_instead_of_directory(tmp_path: Path, unchanged: Unchanged, mode: str) -> None:
    file = tmp_path / "FILE.vsr"
    file.write_text("not a directory")
    check = unchanged(tmp_path)
    with pytest.raises(NotAVsrError) as caught:
        VsrStore(file, mode=mode)  # type: ignore[arg-type]
    assert str(caught.value) == f"{file}: not a directory (a .vsr sample is a directory)"
    with pytest.raises(NotAVsrError):
        vx.Image(file, name=IMAGE, mode="a")
    check()


@pytest.mark.parametrize("mode", ["r", "r+", "a"])
def test_vsr_directory_without_visor_content(
    tmp_path: Path, unchanged: Unchanged, mode: str
) -> None:
    junk = tmp_path / "JUNK.vsr"
    (junk / "visor_raw").mkdir(parents=True)
    (junk / "notes.txt").write_text("holiday photos")
    check = unchanged(tmp_path)
    with pytest.raises(NotAVsrError, match=r"no info\.json and no visor_"):
        VsrStore(junk, mode=mode)  # type: ignore[arg-type]
    # mode 'a' may create a sample in an *empty* directory, never in one holding other files
    with pytest.raises(NotAVsrError):
        vx.Image(junk, name=IMAGE, mode="a")
    check()
    assert sorted(p.name for p in junk.iterdir()) == ["notes.txt", "visor_raw"]


def test_empty_vsr_directory_is_not_a_sample_when_reading(tmp_path: Path) -> None:
    empty = tmp_path / "EMPTY.vsr"
    empty.mkdir()
    with pytest.raises(NotAVsrError):
        vx.info(empty)
    assert list(empty.iterdir()) == []


def test_invalid_sample_mode(visor001_copy: Path, unchanged: Unchanged) -> None:
    check = unchanged(visor001_copy)
    with pytest.raises(ValueError, match="sample mode"):
        VsrStore(visor001_copy, mode="w")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode must be one of"):
        vx.Image(visor001_copy, name=IMAGE, mode="x")
    check()


# ------------------------------------------------------------------- broken documents

READERS: dict[str, tuple[str, Callable[[Path], object]]] = {
    "info.json": (INFO, vx.info),
    "selected.json": (SELECTED, lambda p: vx.list_image(p, type="raw")),
    "image zarr.json": (GROUP, lambda p: vx.Image(p, name=IMAGE).open(0)),
    "image zarr.json via list_image": (GROUP, vx.list_image),
    "recon.json": (RECON, lambda p: VsrStore(p).recon(VERSION)),
    "transforms.json": (TRANSFORMS, vx.list_transform),
}


@pytest.mark.parametrize(("relative", "read"), READERS.values(), ids=READERS.keys())
@pytest.mark.parametrize(
    "content",
    [b'{"animal_id": "VISOR001",', b"[{]", b"", b"\xff\xfe not utf-8"],
    ids=["truncated", "garbage", "empty", "not-utf8"],
)
def test_broken_json(
    visor001_copy: Path,
    unchanged: Unchanged,
    relative: str,
    read: Callable[[Path], object],
    content: bytes,
) -> None:
    file = visor001_copy / relative
    file.write_bytes(content)
    check = unchanged(visor001_copy)
    with pytest.raises(MetadataError) as caught:
        read(visor001_copy)
    assert caught.value.file == file
    assert str(caught.value).startswith(f"{file}: ")
    assert "not valid JSON" in str(caught.value)
    check()


@pytest.mark.parametrize(
    ("relative", "read", "value", "field"),
    [
        (INFO, vx.info, {"animal_id": 70}, "animal_id"),
        (SELECTED, vx.list_image, [{"name": IMAGE, "channels": [488]}], "[0].channels[0]"),
        (SELECTED, vx.list_image, {"name": IMAGE}, ""),
        (
            RECON,
            lambda p: VsrStore(p).recon(VERSION),
            {"slices": [{"transforms": []}]},
            "slices[0].name",
        ),
        (
            TRANSFORMS,
            vx.list_transform,
            [{"name": "raw_to_ortho", "type": "affine"}],
            "[0].format",
        ),
    ],
    ids=["info", "selected-channel", "selected-object", "recon", "transforms"],
)
def test_schema_errors_name_file_and_field(
    visor001_copy: Path,
    unchanged: Unchanged,
    relative: str,
    read: Callable[[Path], object],
    value: Any,
    field: str,
) -> None:
    file = visor001_copy / relative
    dump(file, value)
    check = unchanged(visor001_copy)
    with pytest.raises(MetadataError) as caught:
        read(visor001_copy)
    assert caught.value.file == file
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{file}: ")
    check()


def test_image_attrs_error_names_file_and_field(visor001_copy: Path, unchanged: Unchanged) -> None:
    edit_attrs(visor001_copy, lambda a: a["visor"]["channels"][1].__setitem__("wavelength", 561))
    check = unchanged(visor001_copy)
    for read in (vx.list_image, lambda p: vx.Image(p, name=IMAGE).open(0)):
        with pytest.raises(MetadataError) as caught:
            read(visor001_copy)
        assert caught.value.file == visor001_copy / GROUP
        assert caught.value.field == "attributes.visor.channels[1].wavelength"
        assert f"{visor001_copy / GROUP}: field 'attributes.visor.channels[1].wavelength'" in str(
            caught.value
        )
    check()


def test_missing_image_zarr_json(visor001_copy: Path, unchanged: Unchanged) -> None:
    (visor001_copy / GROUP).unlink()
    check = unchanged(visor001_copy)
    for read in (
        vx.list_image,
        lambda p: vx.Image(p, name=IMAGE).open(0),
        lambda p: vx.Image(p, name=IMAGE, mode="r+").open(0),
    ):
        with pytest.raises(MetadataError) as caught:
            read(visor001_copy)
        assert caught.value.file == visor001_copy / GROUP
        assert "zarr.json is missing" in str(caught.value)
    check()
    assert not (visor001_copy / GROUP).exists()  # opening never creates a group


def test_missing_level_array(visor001_copy: Path, unchanged: Unchanged) -> None:
    level = visor001_copy / RAW_DIR / f"{IMAGE}.zarr" / "0" / "zarr.json"
    level.unlink()
    check = unchanged(visor001_copy)
    with pytest.raises(MetadataError) as caught:
        vx.Image(visor001_copy, name=IMAGE).open(0)
    assert caught.value.file == level
    assert "level '0' is listed but its array is missing" in str(caught.value)
    check()


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [("zarr_format", 2, "expected 3 (Zarr v3), got 2"), ("node_type", "array", "'group'")],
)
def test_not_a_zarr_v3_group(
    visor001_copy: Path, unchanged: Unchanged, key: str, value: object, expected: str
) -> None:
    document = load(visor001_copy / GROUP)
    document[key] = value
    dump(visor001_copy / GROUP, document)
    check = unchanged(visor001_copy)
    with pytest.raises(MetadataError) as caught:
        vx.Image(visor001_copy, name=IMAGE).open(0)
    assert caught.value.file == visor001_copy / GROUP
    assert caught.value.field == key
    assert expected in str(caught.value)
    check()


def test_axis_count_differs_from_array_ndim(visor001_copy: Path, unchanged: Unchanged) -> None:
    def drop_vs(attrs: dict[str, Any]) -> None:
        multiscale = attrs["ome"]["multiscales"][0]
        del multiscale["axes"][0]
        for transforms in [
            multiscale["coordinateTransformations"],
            multiscale["datasets"][0]["coordinateTransformations"],
        ]:
            del transforms[0]["scale"][0]
        del attrs["visor"]["visor_stacks"]

    edit_attrs(visor001_copy, drop_vs)
    check = unchanged(visor001_copy)
    with pytest.raises(MetadataError) as caught:
        vx.Image(visor001_copy, name=IMAGE).open(0)
    error = caught.value
    assert error.file == visor001_copy / GROUP
    assert error.field == "attributes.ome.multiscales[0].axes"
    assert "4 axes ['ch', 'z', 'y', 'x']" in str(error)
    assert "has 5 dimensions (shape (2, 2, 4, 4, 4))" in str(error)
    check()


@pytest.mark.parametrize(
    ("collection", "entry", "field", "axis"),
    [
        ("visor_stacks", {"index": 2, "label": "stack_3"}, "attributes.visor.visor_stacks", "vs"),
        ("channels", {"index": 2, "wavelength": "640"}, "attributes.visor.channels", "ch"),
    ],
)
def test_entry_count_differs_from_axis_length(
    visor001_copy: Path,
    unchanged: Unchanged,
    collection: str,
    entry: dict[str, Any],
    field: str,
    axis: str,
) -> None:
    edit_attrs(visor001_copy, lambda a: a["visor"][collection].append(entry))
    check = unchanged(visor001_copy)
    with pytest.raises(MetadataError) as caught:
        vx.Image(visor001_copy, name=IMAGE).open(0)
    assert caught.value.file == visor001_copy / GROUP
    assert caught.value.field == field
    assert f"lists 3 entries but axis '{axis}' of level '0' has length 2" in str(caught.value)
    check()


# --------------------------------------------------------------- unknown choices


def test_unknown_image_name_lists_names(visor001_copy: Path, unchanged: Unchanged) -> None:
    check = unchanged(visor001_copy)
    with pytest.raises(UnknownImageError) as caught:
        vx.Image(visor001_copy, name="slice_9_10x")
    assert isinstance(caught.value, KeyError)
    assert caught.value.valid == ["slice_1_10x", "slice_1_10x_1"]
    message = str(caught.value)
    assert "'slice_9_10x'" in message
    assert "'slice_1_10x', 'slice_1_10x_1'" in message
    assert str(visor001_copy / RAW_DIR) in message
    # name=None needs exactly one image of the type
    with pytest.raises(UnknownImageError, match="exactly one image") as caught:
        vx.Image(visor001_copy, type="raw")
    assert str(caught.value) == (
        f"{visor001_copy / RAW_DIR}: name=None needs exactly one image of this type, found 2;"
        " choose one of: 'slice_1_10x', 'slice_1_10x_1'"
    )
    check()


def test_unknown_image_type_lists_types(visor001_copy: Path, unchanged: Unchanged) -> None:
    check = unchanged(visor001_copy)
    with pytest.raises(UnknownImageError) as caught:
        vx.Image(visor001_copy, type="recon", name="xxx_brain_10x_20250525")
    assert caught.value.valid == ["raw", "compr"]
    assert "'recon'" in str(caught.value)
    check()
    assert not (visor001_copy / "visor_recon_images").exists()


def test_unknown_level_lists_levels(visor001_copy: Path, unchanged: Unchanged) -> None:
    check = unchanged(visor001_copy)
    for mode in ("r", "r+"):
        with pytest.raises(UnknownLevelError) as caught:
            vx.Image(visor001_copy, name=IMAGE, mode=mode).open(3)
        assert isinstance(caught.value, UnknownImageError)
        assert caught.value.valid == ["0"]
        assert "no resolution level '3'; choose one of: '0'" in str(caught.value)
    check()
    assert not (visor001_copy / RAW_DIR / f"{IMAGE}.zarr" / "3").exists()


def test_unknown_version_lists_versions(visor001_copy: Path, unchanged: Unchanged) -> None:
    check = unchanged(visor001_copy)
    store = VsrStore(visor001_copy, mode="r+")
    for call in (
        lambda: store.recon("yyy_20990101"),
        lambda: store.transform_slices("yyy_20990101"),
        lambda: vx.list_transform(visor001_copy, version="yyy_20990101"),
    ):
        with pytest.raises(UnknownVersionError) as caught:
            call()
        assert caught.value.valid == [VERSION]
        assert f"choose one of: '{VERSION}'" in str(caught.value)
    with pytest.raises(UnknownImageError) as slice_error:
        store.transform_list(VERSION, "slice_9_10x")
    assert slice_error.value.valid == ["slice_1_10x"]
    check()


def test_unknown_label(visor001_copy: Path, unchanged: Unchanged) -> None:
    check = unchanged(visor001_copy)
    image = vx.Image(visor001_copy, name=IMAGE)
    with pytest.raises(UnknownLabelError) as caught:
        image.label_to_index("stack", "stack_9")
    error = caught.value
    assert isinstance(error, KeyError)
    assert isinstance(error, ValueError)  # what visor-py raises
    assert error.valid == ["stack_1", "stack_2"]
    assert str(error) == (
        f"{image.path}: unknown stack label 'stack_9'; labels that exist: 'stack_1', 'stack_2'"
    )
    with pytest.raises(UnknownLabelError, match="'488', '561'"):
        image.label_to_index("channel", "405")
    check()


def test_label_given_as_int_hints_at_the_string(visor001: Path) -> None:
    image = vx.Image(visor001, name=IMAGE)
    with pytest.raises(UnknownLabelError) as caught:
        image.label_to_index("channel", 488)  # type: ignore[arg-type]
    assert "unknown channel label 488 (labels are strings: use '488')" in str(caught.value)
    # no hint when the string would not match either
    with pytest.raises(UnknownLabelError) as other:
        image.label_to_index("channel", 405)  # type: ignore[arg-type]
    assert "labels are strings" not in str(other.value)


# ------------------------------------------------------------ invalid arrays


@pytest.mark.parametrize("dtype", ["not-a-dtype", object, "float128", "V3", "M8"])
def test_wrong_dtype(visor001_copy: Path, unchanged: Unchanged, dtype: object) -> None:
    check = unchanged(visor001_copy)
    image = vx.Image(visor001_copy, name="slice_2_10x", mode="w-")
    with pytest.raises(InvalidArrayError, match="invalid dtype") as caught:
        image.create(0, dtype=dtype, attr=new_attrs(), shape=(2, 2, 4, 4, 4))
    assert isinstance(caught.value, ValueError)
    assert str(visor001_copy / RAW_DIR / "slice_2_10x.zarr" / "0") in str(caught.value)
    check()
    assert not (visor001_copy / RAW_DIR / "slice_2_10x.zarr").exists()


@pytest.mark.parametrize("shape", [(2, 2, 4, 4), (2, 2, 4, 4, 4, 1), ()])
def test_wrong_shape_length(
    visor001_copy: Path, unchanged: Unchanged, shape: tuple[int, ...]
) -> None:
    check = unchanged(visor001_copy)
    image = vx.Image(visor001_copy, name="slice_2_10x", mode="w-")
    with pytest.raises(InvalidArrayError, match=f"has {len(shape)} dimensions"):
        image.create(0, attr=new_attrs(), shape=shape)
    check()
    assert not (visor001_copy / RAW_DIR / "slice_2_10x.zarr").exists()


def test_shape_disagrees_with_stack_count(visor001_copy: Path, unchanged: Unchanged) -> None:
    check = unchanged(visor001_copy)
    image = vx.Image(visor001_copy, name="slice_2_10x", mode="w-")
    with pytest.raises(MetadataError) as caught:
        image.create(0, attr=new_attrs(), shape=(3, 2, 4, 4, 4))
    assert caught.value.field == "attributes.visor.visor_stacks"
    check()
    assert not (visor001_copy / RAW_DIR / "slice_2_10x.zarr").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chunk_size": (1, 1, 2, 2)}, "chunk_size has 4 values"),
        ({"shard_size": (1, 1, 4, 4, 0)}, "shard_size must be positive"),
        ({"chunk_size": (1, 1, 4, 4, 4), "shard_size": (1, 1, 4, 4, 6)}, "multiple"),
    ],
)
def test_invalid_chunking(
    visor001_copy: Path, unchanged: Unchanged, kwargs: dict[str, Any], message: str
) -> None:
    check = unchanged(visor001_copy)
    image = vx.Image(visor001_copy, name="slice_2_10x", mode="w-")
    with pytest.raises(InvalidArrayError, match=message):
        image.create(0, attr=new_attrs(), shape=(2, 2, 8, 8, 8), **kwargs)
    check()


# ----------------------------------------------------------------- read-only


WRITES: dict[str, Callable[[Any], object]] = {
    "setitem": lambda a: a.__setitem__(Ellipsis, 1),
    "setitem-one": lambda a: a.__setitem__((0, 0, 0, 0, 0), 7),
    "oindex": lambda a: a.oindex.__setitem__((Ellipsis,), 1),
    "vindex": lambda a: a.vindex.__setitem__(([0], [0], [0], [0], [0]), 1),
    "blocks": lambda a: a.blocks.__setitem__((0, 0, 0, 0, 0), 1),
    "set_basic_selection": lambda a: a.set_basic_selection(Ellipsis, 1),
    "set_orthogonal_selection": lambda a: a.set_orthogonal_selection((Ellipsis,), 1),
    "resize": lambda a: a.resize((3, 2, 4, 4, 4)),
    "append": lambda a: a.append(np.ones((1, 2, 4, 4, 4), dtype="uint16")),
    "attrs": lambda a: a.attrs.__setitem__("x", 1),
    "update_attributes": lambda a: a.update_attributes({"x": 1}),
    "async setitem": lambda a: sync(a.async_array.setitem((0, 0, 0, 0, 0), 1)),
    "async resize": lambda a: sync(a.async_array.resize((3, 2, 4, 4, 4))),
    "async update_attributes": lambda a: sync(a.async_array.update_attributes({"x": 1})),
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_write_through_read_only_array(
    visor001_copy: Path, unchanged: Unchanged, write: Callable[[Any], object]
) -> None:
    check = unchanged(visor001_copy)
    array = vx.Image(visor001_copy, name=IMAGE, mode="r").open(0)
    assert vx.pipeline_name(array) == "zarrs.ZarrsCodecPipeline"
    before = array[...]
    with pytest.raises(ReadOnlyError) as caught:
        write(array)
    assert isinstance(caught.value, PermissionError)
    assert str(visor001_copy / RAW_DIR / f"{IMAGE}.zarr" / "0") in str(caught.value)
    assert "mode='r'" in str(caught.value)
    check()  # the shard files are untouched
    np.testing.assert_array_equal(array[...], before)
    assert array.shape == (2, 2, 4, 4, 4)


def test_write_through_writable_array_does_change_files(
    visor001_copy: Path, unchanged: Unchanged
) -> None:
    # the counterpart of the read-only tests: the same write with mode 'r+' reaches disk
    check = unchanged(visor001_copy)
    array = vx.Image(visor001_copy, name=IMAGE, mode="r+").open(0)
    array[0, 0, 0, 0, 0] = 7
    with pytest.raises(AssertionError, match="changed"):
        check()
    assert vx.Image(visor001_copy, name=IMAGE).open(0)[0, 0, 0, 0, 0] == 7


def test_create_in_read_only_image(visor001_copy: Path, unchanged: Unchanged) -> None:
    check = unchanged(visor001_copy)
    image = vx.Image(visor001_copy, name=IMAGE, mode="r")
    with pytest.raises(ReadOnlyError):
        image.create(0, shape=(2, 2, 4, 4, 4))
    check()


def test_read_only_sample_refuses_writes(visor001_copy: Path, unchanged: Unchanged) -> None:
    check = unchanged(visor001_copy)
    store = VsrStore(visor001_copy, mode="r")
    attrs = parse_image_attrs(new_attrs())
    writes: list[Callable[[], object]] = [
        lambda: store.write_info(SampleInfo(animal_id="X")),
        lambda: store.write_selection(Selection()),
        lambda: store.create_image("raw", "slice_2_10x", attrs, "w-"),
        lambda: store.write_image_attrs("raw", IMAGE, attrs),
        lambda: store.write_recon(VERSION, ReconInfo()),
        lambda: store.write_transform_list(VERSION, "slice_1_10x", TransformList()),
        lambda: store.level_array("raw", IMAGE, 0, writable=True),
    ]
    for write in writes:
        with pytest.raises(ReadOnlyError) as caught:
            write()
        assert isinstance(caught.value, PermissionError)
        assert str(visor001_copy) in str(caught.value)
    check()


# ----------------------------------------------------------------- existing targets


def test_mode_w_minus_on_existing_image(visor001_copy: Path, unchanged: Unchanged) -> None:
    check = unchanged(visor001_copy)
    with pytest.raises(TargetExistsError) as caught:
        vx.Image(visor001_copy, name=IMAGE, mode="w-")
    assert isinstance(caught.value, FileExistsError)
    assert caught.value.path == visor001_copy / RAW_DIR / f"{IMAGE}.zarr"
    assert "mode='w-'" in str(caught.value)
    store = VsrStore(visor001_copy, mode="r+")
    with pytest.raises(TargetExistsError):
        store.create_image("raw", IMAGE, parse_image_attrs(new_attrs(IMAGE)), "w-")
    check()


def test_create_existing_level(visor001_copy: Path, unchanged: Unchanged) -> None:
    check = unchanged(visor001_copy)
    image = vx.Image(visor001_copy, name=IMAGE, mode="a")
    # even with new metadata, nothing is rewritten when the level array exists
    with pytest.raises(TargetExistsError):
        image.create(0, attr=new_attrs(IMAGE), shape=(2, 2, 4, 4, 4))
    with pytest.raises(TargetExistsError):
        image.create(0, shape=(2, 2, 4, 4, 4))
    check()


# ------------------------------------------------------------------ unsafe names

BAD_NAMES = ["../x", "/abs", "a/b", "..", "", ".hidden", "a\\..\\b", "x/../../y"]


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_escaping_image_names_are_refused(
    visor001_copy: Path, tmp_path: Path, unchanged: Unchanged, bad: str
) -> None:
    check = unchanged(tmp_path)
    for call in (
        lambda: vx.Image(visor001_copy, name=bad, mode="a"),
        lambda: vx.Image(visor001_copy, name=bad, mode="w"),
        lambda: vx.Image(visor001_copy, type=bad, name="x", mode="a"),
        lambda: VsrStore(visor001_copy, "r+").create_image(
            "raw", bad, parse_image_attrs(new_attrs()), "w-"
        ),
        lambda: VsrStore(visor001_copy, "r+").write_recon(bad, ReconInfo()),
        lambda: VsrStore(visor001_copy, "r+").write_transform_list(VERSION, bad, TransformList()),
    ):
        with pytest.raises(MetadataError) as caught:
            call()
        assert repr(bad) in str(caught.value)
        assert "not a valid" in str(caught.value)
    # a level path taken from the metadata is checked as well, before the group is written
    attrs = new_attrs()
    attrs["ome"]["multiscales"][0]["datasets"][0]["path"] = bad
    image = vx.Image(visor001_copy, name="slice_2_10x", mode="w-")
    with pytest.raises(MetadataError, match="not a valid resolution level"):
        image.create(bad, attr=attrs, shape=(2, 2, 4, 4, 4))
    # a new sample is not even created for a bad name
    with pytest.raises(MetadataError):
        vx.Image(tmp_path / "NEW.vsr", name=bad, mode="a")
    assert not (tmp_path / "NEW.vsr").exists()
    check()


# ------------------------------------------------------------- failing create


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda a: a.pop("ome"), "attributes.ome"),
        (
            lambda a: a["visor"]["channels"][0].__setitem__("wavelength", 488),
            "attributes.visor.channels[0].wavelength",
        ),
        (
            lambda a: a["visor"]["visor_stacks"][1].__setitem__("index", 5),
            "attributes.visor.visor_stacks",
        ),
        (
            lambda a: a["ome"]["multiscales"][0]["datasets"].clear(),
            "attributes.ome.multiscales[0].datasets",
        ),
    ],
    ids=["no-ome", "int-wavelength", "stack-gap", "no-levels"],
)
def test_failing_create_leaves_nothing(
    visor001_copy: Path,
    unchanged: Unchanged,
    edit: Callable[[dict[str, Any]], object],
    field: str,
) -> None:
    check = unchanged(visor001_copy)
    attrs = new_attrs()
    edit(attrs)
    image = vx.Image(visor001_copy, name="slice_2_10x", mode="w-")
    with pytest.raises(MetadataError) as caught:
        image.create(0, attr=attrs, shape=(2, 2, 4, 4, 4))
    target = visor001_copy / RAW_DIR / "slice_2_10x.zarr"
    assert caught.value.file == target / "zarr.json"
    assert caught.value.field == field
    assert not target.exists()
    check()  # selected.json included
