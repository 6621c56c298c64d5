"""``copy_sample``: whole samples and selections, byte for byte or re-encoded, and the
conversion of the legacy layout; refusals that touch nothing; interrupted copies.

Real samples on disk throughout: the vendored upstream fixtures, samples written by the
library, and legacy samples written with plain zarr v2; visor-py reads the copies.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr
import zarr.codecs

import visor_xarray as vx
from visor_xarray.demo import make_demo_sample
from visor_xarray.errors import (
    IncompleteError,
    InvalidArrayError,
    NotAVsrError,
    TargetExistsError,
    UnknownImageError,
    UnknownLevelError,
    VisorWarning,
)
from visor_xarray.testing import make_legacy_sample
from visor_xarray.validate import validate
from visor_xarray.zarr_io import WRITE_MARKER

DATA = Path(__file__).resolve().parent / "data"
FIXTURE = DATA / "VISOR001.vsr"
LEGACY_FIXTURE = DATA / "VISOR001-v2024.12.3.vsr"
ZSTD3 = zarr.codecs.BloscCodec(cname="zstd", clevel=3, shuffle="shuffle")


def digest(root: Path) -> dict[str, str]:
    """SHA-256 of every non-hidden file below ``root`` (hidden ones are bookkeeping)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    }


def writable_copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    for path in [target, *target.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return target


def level(sample: Path, kind: str, name: str, path: str = "0") -> zarr.Array:  # type: ignore[type-arg]
    """A level array read with plain zarr (either format)."""
    return zarr.open_array(str(sample / f"visor_{kind}_images" / f"{name}.zarr" / path), mode="r")


def images_of(sample: Path) -> list[tuple[str, str]]:
    return [(r.type, r.name) for r in vx.list_image(sample)]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A library-written sample (do not modify): two raw images of 3 levels, a 4-D recon
    image of 2 levels, affine transforms, a ``slide.tar`` and a file the format does not
    name."""
    sample = make_demo_sample(tmp_path_factory.mktemp("copy") / "S.vsr")
    raw = xr.open_dataset(sample, engine="visor", name="slice_1_10x", chunks={})["image"]
    raw.isel(vs=0).visor.to_vsr(sample, image_type="recon", name="xxx_stack_20261124", levels=2)
    (sample / "visor_raw_images" / "slice_2_10x.zarr" / "slide.tar").write_bytes(b"QA " * 100)
    (sample / "NOTES.txt").write_text("acquired on a Tuesday\n")
    return sample


# --------------------------------------------------------------------- byte-for-byte copies


def test_whole_copy_is_byte_identical_and_readable(
    tmp_path: Path, unchanged: Callable[[Path], Callable[[], None]]
) -> None:
    check = unchanged(FIXTURE)
    report = vx.copy_sample(FIXTURE, tmp_path / "C.vsr")
    check()  # the source is only read
    assert digest(tmp_path / "C.vsr") == digest(FIXTURE)
    assert report.levels_copied == 3
    assert report.levels_reencoded == 0
    assert report.images == (
        "raw/slice_1_10x",
        "raw/slice_1_10x_1",
        "compr/xxx_slice_1_10x_20241201",
    )
    # the model/binary raw_to_brain entry is carried although nothing here interprets it
    entries = json.loads(
        (
            tmp_path / "C.vsr/visor_recon_transforms/xxx_20250525/slice_1_10x/transforms.json"
        ).read_text()
    )
    assert {"name": "raw_to_brain", "type": "model", "format": "binary"} in entries
    assert [str(p) for p in validate(tmp_path / "C.vsr")] == [
        str(p).replace(str(FIXTURE), str(tmp_path / "C.vsr")) for p in validate(FIXTURE)
    ]
    assert not (tmp_path / "C.vsr" / WRITE_MARKER).exists()


def test_copied_files_get_the_umask_mode_not_the_sources(tmp_path: Path) -> None:
    source = writable_copy(FIXTURE, tmp_path / "RO.vsr")
    for path in source.rglob("*"):
        if path.is_file():
            path.chmod(0o444)  # as the shared fixture is
    old = os.umask(0o027)
    try:
        vx.copy_sample(source, tmp_path / "C.vsr")
        vx.copy_sample(source, tmp_path / "Z.vsr", compressors=ZSTD3)
    finally:
        os.umask(old)
    for sample in ("C.vsr", "Z.vsr"):
        for path in (tmp_path / sample).rglob("*"):
            if path.is_file() and not path.name.startswith(".") and path.suffix != ".json":
                assert stat.S_IMODE(path.stat().st_mode) == 0o640, path


def test_whole_copy_of_a_library_sample_with_levels_and_transforms(
    synthetic: Path, tmp_path: Path
) -> None:
    vx.copy_sample(synthetic, tmp_path / "C.vsr")
    copied = digest(tmp_path / "C.vsr")
    assert copied == digest(synthetic)
    assert "NOTES.txt" in copied
    assert "visor_raw_images/slice_2_10x.zarr/slide.tar" in copied
    assert len([k for k in copied if k.endswith("affine.tfm")]) == 12
    assert [str(p) for p in validate(tmp_path / "C.vsr", deep=True)] == [
        str(p).replace(str(synthetic), str(tmp_path / "C.vsr"))
        for p in validate(synthetic, deep=True)
    ]


# ------------------------------------------------------------------------------- re-encoding


def test_recompressed_copy_keeps_values_transforms_and_documents(tmp_path: Path) -> None:
    report = vx.copy_sample(FIXTURE, tmp_path / "C.vsr", compressors=ZSTD3)
    copy = tmp_path / "C.vsr"
    assert report.levels_reencoded == 3
    assert report.levels_copied == 0
    assert report.shards_written == 12
    for kind, name in images_of(FIXTURE):
        source, written = level(FIXTURE, kind, name), level(copy, kind, name)
        np.testing.assert_array_equal(written[...], source[...])
        assert written.compressors[0].clevel == 3
        assert (written.shards, written.chunks) == (source.shards, source.chunks)
        assert written.metadata.dimension_names is not None
    source_files, copied_files = digest(FIXTURE), digest(copy)
    carried = [k for k in source_files if "/c/" not in k and not k.endswith("0/zarr.json")]
    assert {k: copied_files[k] for k in carried} == {k: source_files[k] for k in carried}
    assert not [p for p in validate(copy, deep=True) if p.severity == "error"]


def test_reshard_and_rechunk_every_level_streamed(synthetic: Path, tmp_path: Path) -> None:
    report = vx.copy_sample(
        synthetic, tmp_path / "C.vsr", shard_shape=(16, 16, 32), chunk_shape={"x": 16, "y": 8}
    )
    copy = tmp_path / "C.vsr"
    assert report.levels_reencoded == sum(len(r.levels) for r in vx.list_image(synthetic))
    for record in vx.list_image(synthetic):
        for path in record.levels:
            source = level(synthetic, record.type, record.name, path)
            written = level(copy, record.type, record.name, path)
            np.testing.assert_array_equal(written[...], source[...])
            lead = written.ndim - 3
            assert written.chunks[-2:] == (8, 16)
            # z: the source's chunk, no larger than the shard asked for
            assert written.chunks[lead] == min(16, source.chunks[lead])
            geometry = zip(written.shards, written.shape, written.chunks, strict=True)
            for shard, size, chunk in geometry:
                assert shard % chunk == 0
                assert shard <= max(chunk, -(-size // chunk) * chunk)  # clipped to the level
            assert written.shards[-1] == min(32, -(-written.shape[-1] // 16) * 16)
    assert validate(copy, deep=True) == []


def test_shard_not_a_multiple_of_the_chunk_is_refused_before_writing(
    synthetic: Path, tmp_path: Path
) -> None:
    with pytest.raises(InvalidArrayError, match="not a multiple of the inner chunk"):
        vx.copy_sample(
            synthetic, tmp_path / "C.vsr", shard_shape=(10, 10, 10), chunk_shape=(4, 4, 4)
        )
    assert not (tmp_path / "C.vsr").exists()


# --------------------------------------------------------------------------- selections


def test_level_subset_trims_the_ome_datasets(synthetic: Path, tmp_path: Path) -> None:
    vx.copy_sample(synthetic, tmp_path / "one.vsr", levels=1)
    vx.copy_sample(synthetic, tmp_path / "some.vsr", levels=[0, "2"])
    for record in vx.list_image(tmp_path / "one.vsr"):
        assert record.levels == ("0",)
        image = tmp_path / "one.vsr" / f"visor_{record.type}_images" / f"{record.name}.zarr"
        assert sorted(p.name for p in image.iterdir() if p.is_dir()) == ["0"]
    for record in vx.list_image(tmp_path / "some.vsr"):
        if record.type == "recon":  # it has levels 0 and 1 only
            assert record.levels == ("0",)
            continue
        assert record.levels == ("0", "2")
        original = xr.open_dataset(
            synthetic, engine="visor", image_type=record.type, name=record.name, resolution=2
        )
        copied = xr.open_dataset(
            tmp_path / "some.vsr",
            engine="visor",
            image_type=record.type,
            name=record.name,
            resolution=2,
        )
        # same values and the same physical coordinates: scales are unchanged
        xr.testing.assert_identical(copied["image"].drop_attrs(), original["image"].drop_attrs())
    assert validate(tmp_path / "some.vsr", deep=True) == []
    with pytest.raises(UnknownLevelError, match=r"'7'.*'0', '1', '2'"):
        vx.copy_sample(synthetic, tmp_path / "bad.vsr", levels=[7])
    assert not (tmp_path / "bad.vsr").exists()


def test_image_subset_and_the_selection(synthetic: Path, tmp_path: Path) -> None:
    first = images_of(synthetic)[0]
    report = vx.copy_sample(synthetic, tmp_path / "C.vsr", images=[f"{first[0]}/{first[1]}"])
    copy = tmp_path / "C.vsr"
    assert images_of(copy) == [first]
    assert report.images == (f"{first[0]}/{first[1]}",)
    selection = json.loads((copy / "visor_raw_images" / "selected.json").read_text())
    assert [entry["name"] for entry in selection] == [first[1]]
    # transform versions are carried whole
    assert digest(copy / "visor_recon_transforms") == digest(synthetic / "visor_recon_transforms")
    assert vx.copy_sample(synthetic, tmp_path / "D.vsr", images=first[1]).images == report.images


def test_unknown_image_lists_the_choices_and_writes_nothing(
    tmp_path: Path, unchanged: Callable[[Path], Callable[[], None]]
) -> None:
    check = unchanged(FIXTURE)
    with pytest.raises(UnknownImageError) as caught:
        vx.copy_sample(FIXTURE, tmp_path / "C.vsr", images=["raw/slice_9_10x"])
    assert isinstance(caught.value, KeyError)
    assert "raw/slice_9_10x" in str(caught.value)
    assert "'raw/slice_1_10x', 'raw/slice_1_10x_1', 'compr/xxx_slice_1_10x_20241201'" in str(
        caught.value
    )
    assert not (tmp_path / "C.vsr").exists()
    check()


# ----------------------------------------------------------------------- the legacy layout


def test_legacy_fixture_converts_to_the_current_layout_that_visor_py_reads(
    tmp_path: Path, unchanged: Callable[[Path], Callable[[], None]]
) -> None:
    check = unchanged(LEGACY_FIXTURE)
    report = vx.copy_sample(LEGACY_FIXTURE, tmp_path / "C.vsr")
    check()
    copy = tmp_path / "C.vsr"
    assert report.converted == report.images
    assert (copy / "info.json").read_bytes() == (LEGACY_FIXTURE / "info.json").read_bytes()
    selection = json.loads((copy / "visor_raw_images" / "selected.json").read_text())
    assert selection == [
        {"name": "slice_1_10x", "channels": ["488", "561"]},
        {"name": "slice_1_10x_1", "channels": ["405", "640"]},
    ]
    assert not list(copy.rglob(".z*"))
    for kind, name in images_of(copy):
        group = json.loads(
            (copy / f"visor_{kind}_images" / f"{name}.zarr" / "zarr.json").read_text()
        )
        ome = group["attributes"]["ome"]
        assert ome["version"] == "0.5"
        assert "version" not in ome["multiscales"][0]
        assert [a["name"] for a in ome["multiscales"][0]["axes"]] == ["vs", "ch", "z", "y", "x"]
        assert set(group["attributes"]["visor"]) >= {"visor_stacks", "channels"}
        written = level(copy, kind, name)
        assert written.metadata.zarr_format == 3
        assert written.shards is not None
        assert list(written.metadata.dimension_names) == ["vs", "ch", "z", "y", "x"]
        np.testing.assert_array_equal(written[...], level(LEGACY_FIXTURE, kind, name)[...])
    problems = validate(copy, deep=True)
    assert [p.severity for p in problems] == ["warning"]  # the fixture's own compr sources
    assert "sources" in problems[0].message

    import visor

    vsr = visor.VSR(copy)
    assert [image["name"] for image in vsr.images(image_type="raw")] == [
        "slice_1_10x",
        "slice_1_10x_1",
    ]
    loaded = visor.Image(copy, image_type="raw", image_name="slice_1_10x").load(resolution="0")
    np.testing.assert_array_equal(loaded[...], level(LEGACY_FIXTURE, "raw", "slice_1_10x")[...])


def test_multilevel_legacy_sample_converts_every_level(tmp_path: Path) -> None:
    legacy = make_legacy_sample(tmp_path / "L.vsr", levels=3)
    vx.copy_sample(legacy, tmp_path / "C.vsr")
    copy = tmp_path / "C.vsr"
    assert validate(copy, deep=True) == []
    for kind, name, levels in (("raw", "slice_1_10x", 3), ("recon", "xxx_brain_10x_20241201", 2)):
        for path in range(levels):
            with pytest.warns(vx.LegacyLayoutWarning):
                before = xr.open_dataset(
                    legacy, engine="visor", image_type=kind, name=name, resolution=path
                )["image"]
            after = xr.open_dataset(
                copy, engine="visor", image_type=kind, name=name, resolution=path
            )["image"]
            xr.testing.assert_equal(after, before)  # values, labels by index, micrometres
            assert after.attrs["ome_version"] == "0.5"
    import visor

    images = visor.VSR(copy).images()
    assert images["raw"][0]["resolutions"] == {
        "0": [1.0, 1.0, 1.0, 1.0, 1.0],
        "1": [1.0, 1.0, 1.0, 2.0, 2.0],
        "2": [1.0, 1.0, 1.0, 4.0, 4.0],
    }
    raw = visor.Image(copy, image_type="raw", image_name="slice_1_10x")
    assert raw.label_to_index("channel", "488") == 1  # by index, not list position
    np.testing.assert_array_equal(
        raw.load(resolution="2")[...], level(legacy, "raw", "slice_1_10x", "2")[...]
    )


# ------------------------------------------------------------------ refusals touch nothing


def test_existing_destination_is_refused_unless_overwrite(synthetic: Path, tmp_path: Path) -> None:
    target = tmp_path / "C.vsr"
    vx.copy_sample(FIXTURE, target)
    before = digest(target)
    with pytest.raises(TargetExistsError, match="overwrite=True") as caught:
        vx.copy_sample(synthetic, target)
    assert isinstance(caught.value, FileExistsError)
    assert digest(target) == before
    vx.copy_sample(synthetic, target, overwrite=True)
    assert digest(target) == digest(synthetic)


def test_overwrite_refuses_a_directory_that_is_not_a_sample(tmp_path: Path) -> None:
    target = tmp_path / "notes.vsr"
    target.mkdir()
    (target / "thesis.tex").write_text("precious")
    with pytest.raises(TargetExistsError, match=r"not a \.vsr sample"):
        vx.copy_sample(FIXTURE, target, overwrite=True)
    assert (target / "thesis.tex").read_text() == "precious"


def test_never_over_or_into_the_source(tmp_path: Path) -> None:
    source = writable_copy(FIXTURE, tmp_path / "S.vsr")
    before = digest(source)
    with pytest.raises(TargetExistsError, match="overlapping the source"):
        vx.copy_sample(source, source, overwrite=True)
    with pytest.raises(TargetExistsError, match="overlapping the source"):
        vx.copy_sample(source, tmp_path / "S.vsr" / ".." / "S.vsr", overwrite=True)
    with pytest.raises(TargetExistsError, match="overlapping the source"):
        vx.copy_sample(source, source / "inner.vsr")
    assert digest(source) == before
    assert not (source / "inner.vsr").exists()


def test_missing_source_and_bad_destination_name(tmp_path: Path) -> None:
    with pytest.raises(NotAVsrError, match=r"MISSING\.vsr") as caught:
        vx.copy_sample(tmp_path / "MISSING.vsr", tmp_path / "C.vsr")
    assert isinstance(caught.value, FileNotFoundError)
    with pytest.raises(NotAVsrError, match=r"must end in \.vsr"):
        vx.copy_sample(FIXTURE, tmp_path / "copy")
    with pytest.raises(InvalidArrayError, match="compressors"):
        vx.copy_sample(FIXTURE, tmp_path / "C.vsr", compressors="not a codec")
    with pytest.raises(InvalidArrayError, match="shard_shape"):
        vx.copy_sample(FIXTURE, tmp_path / "C.vsr", shard_shape=(0, 4, 4))
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_an_incomplete_source_image_is_refused(tmp_path: Path) -> None:
    source = writable_copy(FIXTURE, tmp_path / "S.vsr")
    marker = source / "visor_raw_images" / "slice_1_10x_1.zarr" / WRITE_MARKER
    marker.write_text(json.dumps({"operation": "write", "state": "failed", "pid": 1}))
    with pytest.raises(IncompleteError, match=r"slice_1_10x_1.*images="):
        vx.copy_sample(source, tmp_path / "C.vsr")
    assert not (tmp_path / "C.vsr").exists()
    report = vx.copy_sample(source, tmp_path / "C.vsr", images=["slice_1_10x"])
    assert report.images == ("raw/slice_1_10x",)


# ----------------------------------------------------------------------- interrupted copies


def test_failed_copy_is_marked_incomplete_and_repaired_by_overwrite(tmp_path: Path) -> None:
    source = writable_copy(FIXTURE, tmp_path / "S.vsr")
    shard = (
        source
        / "visor_raw_images"
        / "slice_1_10x_1.zarr"
        / "0"
        / "c"
        / "1"
        / "0"
        / "0"
        / "0"
        / "0"
    )
    good = shard.read_bytes()
    shard.write_bytes(good[: len(good) // 2])  # a truncated shard fails its re-encoding
    target = tmp_path / "C.vsr"
    with pytest.raises(vx.CorruptDataError):
        vx.copy_sample(source, target, compressors=ZSTD3)
    marker = json.loads((target / WRITE_MARKER).read_text())
    assert marker["state"] == "failed"
    assert marker["operation"] == "copy_sample"
    problems = validate(target)
    assert any(
        p.severity == "error" and "incomplete sample" in p.message and p.file.name == WRITE_MARKER
        for p in problems
    ), problems
    with pytest.warns(VisorWarning, match="copy into this sample.*was interrupted"):
        vx.info(target)
    with pytest.raises(TargetExistsError, match="did not finish"):
        vx.copy_sample(source, target)
    shard.write_bytes(good)  # the source repaired
    vx.copy_sample(source, target, compressors=ZSTD3, overwrite=True)
    assert not (target / WRITE_MARKER).exists()
    assert not [p for p in validate(target, deep=True) if p.severity == "error"]
    for kind, name in images_of(source):
        np.testing.assert_array_equal(
            level(target, kind, name)[...], level(source, kind, name)[...]
        )


def test_progress_bar_only_when_asked(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    vx.copy_sample(FIXTURE, tmp_path / "A.vsr")
    assert capfd.readouterr().err == ""
    vx.copy_sample(FIXTURE, tmp_path / "B.vsr", progress=True, compressors=ZSTD3)
    assert "100% Completed" in capfd.readouterr().err
