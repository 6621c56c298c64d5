"""``validate(path, deep=...)``: one test per kind of problem, and never an exception."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sample_files import IMAGE, level_dir, shard_files
from sample_files import RAW_DIR as RAW

from visor_xarray.errors import MetadataError, NotAVsrError
from visor_xarray.store import VsrStore
from visor_xarray.testing import make_sample
from visor_xarray.validate import Problem, resolve_source, validate
from visor_xarray.zarr_io import WRITE_MARKER, open_level_array

GROUP = f"{RAW}/{IMAGE}.zarr/zarr.json"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("validate") / "V.vsr"
    make_sample(root)
    make_sample(root, name="recon_1", image_type="recon", stacks=None, channels=("488",))
    return root


@pytest.fixture
def sample(pristine: Path, tmp_path: Path) -> Path:
    target = tmp_path / "V.vsr"
    shutil.copytree(pristine, target)
    return target


def edit_json(file: Path, change: Callable[[Any], Any]) -> None:
    """Apply an in-place ``change`` to a JSON document (its return value is ignored)."""
    value = json.loads(file.read_text())
    change(value)
    file.write_text(json.dumps(value))


def summary(problems: list[Problem], root: Path) -> set[tuple[str, str, str]]:
    return {(str(p.file.relative_to(root)), p.field, p.severity) for p in problems}


def test_clean_sample_has_no_problems(sample: Path) -> None:
    assert validate(sample) == []
    assert validate(sample, deep=True) == []


def test_upstream_fixture_warnings_only(visor001: Path) -> None:
    problems = validate(visor001, deep=True)
    assert all(p.severity == "warning" for p in problems)
    levels = sorted(
        str(p.file.relative_to(visor001)) for p in problems if p.field == "dimension_names"
    )
    assert levels == [
        "visor_compr_images/xxx_slice_1_10x_20241201.zarr/0/zarr.json",
        "visor_raw_images/slice_1_10x.zarr/0/zarr.json",
        "visor_raw_images/slice_1_10x_1.zarr/0/zarr.json",
    ]
    (sources,) = [p for p in problems if p.field != "dimension_names"]
    assert sources.field == "attributes.visor.channels"
    assert "['405', '640']" in sources.message
    assert "['488']" in sources.message
    assert "OME-Zarr 0.5" in problems[0].message


def test_not_a_sample_raises(tmp_path: Path) -> None:
    with pytest.raises(NotAVsrError):
        validate(tmp_path / "missing.vsr")
    with pytest.raises(NotAVsrError):
        validate(tmp_path)


BROKEN_DOCUMENTS: dict[str, tuple[str, Callable[[Any], Any], str]] = {
    "info-not-json": ("info.json", lambda v: "{", ""),
    "info-wrong-type": ("info.json", lambda v: v.__setitem__("animal_id", 5), "animal_id"),
    "selected-not-a-list": (f"{RAW}/selected.json", lambda v: v.append(7), "[1]"),
    "group-no-ome": (GROUP, lambda v: v["attributes"].pop("ome"), "attributes.ome"),
    "group-bad-channel": (
        GROUP,
        lambda v: v["attributes"]["visor"]["channels"][0].__setitem__("wavelength", 488),
        "attributes.visor.channels[0].wavelength",
    ),
    "group-v2": (GROUP, lambda v: v.__setitem__("zarr_format", 2), "zarr_format"),
}


@pytest.mark.parametrize("case", BROKEN_DOCUMENTS)
def test_schema_problems_name_file_and_field(sample: Path, case: str) -> None:
    relative, change, field = BROKEN_DOCUMENTS[case]
    file = sample / relative
    if case == "info-not-json":
        file.write_text("{")
    else:
        edit_json(file, change)
    problems = validate(sample)
    errors = [p for p in problems if p.severity == "error"]
    assert errors, problems
    assert errors[0].file == file
    assert errors[0].field.startswith(field)


def test_missing_info_json(sample: Path) -> None:
    (sample / "info.json").unlink()
    assert summary(validate(sample), sample) == {("info.json", "", "error")}


def test_axis_count_and_label_counts(sample: Path) -> None:
    def drop_axis(value: Any) -> None:
        multiscale = value["attributes"]["ome"]["multiscales"][0]
        multiscale["axes"].pop(0)
        for dataset in multiscale["datasets"]:
            for transform in dataset["coordinateTransformations"]:
                transform.get("scale", transform.get("translation")).pop(0)
        multiscale["coordinateTransformations"][0]["scale"].pop(0)
        value["attributes"]["visor"].pop("visor_stacks")

    edit_json(sample / GROUP, drop_axis)
    problems = validate(sample)
    assert {(p.field, p.severity) for p in problems} == {
        ("attributes.ome.multiscales[0].axes", "error")
    }
    assert len(problems) == 2  # both levels


def test_channel_count_differs_from_axis_length(sample: Path) -> None:
    def drop_last_channel(value: Any) -> None:
        channels = value["attributes"]["visor"]["channels"]
        channels.remove(max(channels, key=lambda c: c["index"]))

    edit_json(sample / GROUP, drop_last_channel)
    problems = validate(sample)
    assert {p.field for p in problems} >= {"attributes.visor.channels"}
    # selected.json still names the removed channel
    assert any(p.file.name == "selected.json" and "does not have" in p.message for p in problems)


def test_level_listed_but_missing_and_present_but_unlisted(sample: Path) -> None:
    shutil.rmtree(level_dir(sample, level="1"))
    shutil.copytree(level_dir(sample, level="0"), level_dir(sample, level="7"))
    problems = validate(sample)
    assert summary(problems, sample) == {
        (f"{RAW}/{IMAGE}.zarr/1/zarr.json", "", "error"),
        (f"{RAW}/{IMAGE}.zarr/7", "attributes.ome.multiscales[0].datasets", "warning"),
    }
    assert "listed but its array is missing" in problems[0].message


def test_dimension_names_missing_or_wrong(sample: Path) -> None:
    edit_json(level_dir(sample) / "zarr.json", lambda v: v.pop("dimension_names"))
    edit_json(
        level_dir(sample, level="1") / "zarr.json",
        lambda v: v.__setitem__("dimension_names", ["a", "b", "c", "d", "e"]),
    )
    problems = validate(sample)
    assert {(p.file.parent.name, p.field, p.severity) for p in problems} == {
        ("0", "dimension_names", "warning"),
        ("1", "dimension_names", "warning"),
    }


def test_selection_names_missing_image_and_channel(sample: Path) -> None:
    (sample / RAW / "selected.json").write_text(
        json.dumps(
            [
                {"name": IMAGE, "channels": ["488", "999"]},
                {"name": "ghost", "channels": ["488"]},
            ]
        )
    )
    problems = validate(sample)
    assert {(p.field, p.severity) for p in problems} == {
        ("[0].channels", "error"),
        ("[1].name", "error"),
    }
    assert any("'999'" in p.message for p in problems)
    assert any("'ghost'" in p.message for p in problems)


RECON_GROUP = "visor_recon_images/recon_1.zarr/zarr.json"


def set_sources(sample: Path, sources: list[dict[str, Any]], version: str | None = None) -> None:
    def change(value: Any) -> None:
        value["attributes"]["visor"]["sources"] = sources
        if version is not None:
            value["attributes"]["visor"]["transform_version"] = version

    edit_json(sample / RECON_GROUP, change)


def test_sources_consistent(sample: Path) -> None:
    set_sources(sample, [{"path": f"{RAW}/{IMAGE}.zarr", "channels": ["488"]}])
    assert validate(sample) == []


def test_sources_missing_image_channel_and_version(sample: Path) -> None:
    set_sources(
        sample,
        [
            {"path": f"{RAW}/ghost.zarr", "channels": ["488"]},
            {"path": f"{RAW}/{IMAGE}.zarr", "channels": ["488", "405"]},
        ],
        version="no_such_version",
    )
    problems = validate(sample)
    assert {(p.field, p.severity) for p in problems} == {
        ("attributes.visor.transform_version", "warning"),
        ("attributes.visor.sources[0].path", "warning"),
        ("attributes.visor.sources[1].channels", "warning"),
    }


@pytest.mark.parametrize(
    "path", ["../../etc", "/etc/passwd", f"{RAW}/../../x.zarr", "", "./../x", "C:\\x"]
)
def test_sources_escaping_the_sample_are_errors(sample: Path, path: str) -> None:
    set_sources(sample, [{"path": path, "channels": ["488"]}])
    problems = [p for p in validate(sample) if p.severity == "error"]
    assert [p.field for p in problems] == ["attributes.visor.sources[0].path"]
    assert "refused" in problems[0].message
    with pytest.raises(MetadataError):
        resolve_source(sample, path)


def test_symlinks_out_of_the_sample(sample: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "thing.zarr").mkdir()
    (sample / RAW / "link").symlink_to(outside)
    set_sources(sample, [{"path": f"{RAW}/link/thing.zarr", "channels": []}])
    with pytest.raises(MetadataError, match="outside the sample"):
        resolve_source(sample, f"{RAW}/link/thing.zarr")
    # an image directory that is a symbolic link to another sample's image
    other = make_sample(tmp_path / "OTHER.vsr", name="foreign")
    (sample / RAW / "foreign.zarr").symlink_to(other / RAW / "foreign.zarr")
    problems = [p for p in validate(sample) if p.severity == "error"]
    assert {p.file.name for p in problems} == {"foreign.zarr", RECON_GROUP.split("/")[-1]}
    assert all("outside the sample" in p.message for p in problems)
    # ... and refused when resolved
    with pytest.raises(MetadataError, match="outside the sample"):
        VsrStore(sample).level_array("raw", "foreign", 0)
    with pytest.raises(MetadataError, match="outside the sample"):
        open_level_array(sample / RAW / "foreign.zarr" / "0", writable=True)
    # a symbolic link that stays inside the sample is fine
    assert resolve_source(sample, f"{RAW}/{IMAGE}.zarr") == sample / RAW / f"{IMAGE}.zarr"


def test_incomplete_write_marker_scratch_and_temp_files(sample: Path) -> None:
    image = sample / RAW / f"{IMAGE}.zarr"
    (image / WRITE_MARKER).write_text(
        json.dumps(
            {"operation": "write", "pid": 2**22 + 17, "host": os.uname().nodename, "started": "x"}
        )
    )
    (image / ".0.partial-1-abc").mkdir()
    (sample / RAW / ".selected.json.x.tmp").write_text("[")
    problems = validate(sample)
    assert summary(problems, sample) == {
        (f"{RAW}/{IMAGE}.zarr/{WRITE_MARKER}", "", "error"),
        (f"{RAW}/{IMAGE}.zarr/.0.partial-1-abc", "", "warning"),
        (f"{RAW}/.selected.json.x.tmp", "", "warning"),
    }
    assert "was interrupted" in problems[0].message


def test_files_where_directories_belong(sample: Path) -> None:
    (sample / "visor_seg_images").write_text("not a directory")
    (sample / RAW / "flat.zarr").write_text("not a directory")
    (sample / RAW / "empty.zarr").mkdir()
    (sample / RAW / "notes.txt").write_text("x")
    shutil.rmtree(level_dir(sample, level="1"))
    level_dir(sample, level="1").write_text("x")
    problems = validate(sample)
    assert summary(problems, sample) == {
        ("visor_seg_images", "", "error"),
        (f"{RAW}/flat.zarr", "", "error"),
        (f"{RAW}/empty.zarr/zarr.json", "", "error"),
        (f"{RAW}/{IMAGE}.zarr/1/zarr.json", "", "error"),
        (f"{RAW}/notes.txt", "", "warning"),
    }


def test_deep_reports_shard_shaped_directories_and_stray_files(sample: Path) -> None:
    shard = next(p for p in (level_dir(sample) / "c").rglob("*") if p.is_file())
    shard.unlink()
    shard.mkdir()
    (level_dir(sample) / "c" / "junk").write_text("x")
    assert validate(sample) == []
    problems = validate(sample, deep=True)
    assert summary(problems, sample) == {
        (str(shard.relative_to(sample)), "", "error"),
        (f"{RAW}/{IMAGE}.zarr/0/c/junk", "", "warning"),
    }


def test_transform_documents(sample: Path, visor001: Path) -> None:
    shutil.copytree(visor001 / "visor_recon_transforms", sample / "visor_recon_transforms")
    assert validate(sample) == []
    version = sample / "visor_recon_transforms" / "xxx_20250525"
    (version / "recon.json").write_text("[1, 2")
    (version / "slice_1_10x" / "transforms.json").write_text('{"a": [}')
    problems = validate(sample)
    assert {p.file.name for p in problems} == {"recon.json", "transforms.json"}
    assert all(p.severity == "error" for p in problems)


def test_problem_str() -> None:
    problem = Problem(Path("a/b.json"), "x[0]", "bad", "warning")
    assert str(problem) == "warning: a/b.json: field 'x[0]': bad"
    assert str(Problem(Path("f"), "", "m")) == "error: f: m"


def test_deep_warns_when_no_shard_of_a_level_is_stored(sample: Path) -> None:
    level = level_dir(sample)
    stored = shard_files(level)
    for shard in stored:
        shard.unlink()
    assert validate(sample) == []  # the documents alone are fine
    problems = validate(sample, deep=True)
    assert summary(problems, sample) == {(f"{RAW}/{IMAGE}.zarr/0", "", "warning")}
    assert problems[0].message == (
        f"none of the {len(stored)} shard file(s) of this level is stored: it reads as the "
        "fill value (0) everywhere"
    )
    assert problems[0].severity == "warning"


def test_deep_is_silent_about_partly_stored_levels(sample: Path) -> None:
    # legal and common (a write skips shards that are all fill value): nothing to report
    stored = shard_files(level_dir(sample))
    assert len(stored) > 1
    stored[0].unlink()
    assert validate(sample, deep=True) == []
