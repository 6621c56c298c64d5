"""Writing from xarray: round trips, pyramids, region writes, modes, visor-py readability."""

from __future__ import annotations

import json
from pathlib import Path

import hypothesis.strategies as st
import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings

import visor_xarray as vx
from visor_xarray.write import add_levels, block_reduce

IDENTITY_ATTRS = {"vsr_path", "image_name", "vsr_attributes"}


def _open(path: Path, name: str, image_type: str = "raw", level: int = 0, **kw) -> xr.Dataset:  # type: ignore[no-untyped-def]
    return xr.open_dataset(
        path, engine="visor", image_type=image_type, name=name, resolution=level, **kw
    )


def assert_same_image(a: xr.Dataset, b: xr.Dataset) -> None:
    """Values, dims, coordinates and attrs equal; identity attrs (path, name) aside."""
    xr.testing.assert_identical(
        a.drop_attrs(deep=True).assign_attrs({}), b.drop_attrs(deep=True).assign_attrs({})
    )
    for key in set(a.attrs) - IDENTITY_ATTRS:
        assert a.attrs[key] == b.attrs.get(key), key
    for name in a.coords:
        assert a[name].attrs == b[name].attrs, name
    meta_a, meta_b = (json.loads(d.attrs["vsr_attributes"]) for d in (a, b))
    for meta in (meta_a, meta_b):  # list order is not meaningful: entries carry `index`
        meta["visor"]["channels"].sort(key=lambda c: c["index"])
    assert meta_a["visor"] == meta_b["visor"]
    ms_a, ms_b = meta_a["ome"]["multiscales"][0], meta_b["ome"]["multiscales"][0]
    # legacy s/c axis names are written back with their current names vs/ch
    assert [(x.get("type"), x.get("unit")) for x in ms_a["axes"]] == [
        (x.get("type"), x.get("unit")) for x in ms_b["axes"]
    ]
    assert ms_a["coordinateTransformations"] == ms_b["coordinateTransformations"]


def test_round_trip_identical(sample_path: Path, tmp_path: Path) -> None:
    original = _open(sample_path, "slice_1_10x", chunks={})
    levels = len(original.visor.levels)
    report = original["image"].visor.to_vsr(
        tmp_path / "out.vsr", image_type="raw", name="copy", levels=levels
    )
    assert [lv.path for lv in report.levels] == ["0", "1"]
    for level in range(levels):
        back = _open(tmp_path / "out.vsr", "copy", level=level)
        assert_same_image(original.visor.open_level(level).load(), back.load())


def test_round_trip_of_upstream_fixture_levels(visor001: Path, tmp_path: Path) -> None:
    for record in vx.list_image(visor001):
        original = _open(visor001, record.name, record.type)
        original["image"].visor.to_vsr(
            tmp_path / "o.vsr", image_type=record.type, name=record.name
        )
        assert_same_image(
            original.load(), _open(tmp_path / "o.vsr", record.name, record.type).load()
        )


def test_selection_writes_its_own_labels(sample_path: Path, tmp_path: Path) -> None:
    image = _open(sample_path, "slice_1_10x")["image"]
    subset = image.sel(vs=["stack_4", "stack_1"], ch=["561"]).isel(z=slice(3, 11), x=slice(5, 29))
    subset.visor.to_vsr(tmp_path / "s.vsr", image_type="raw", name="subset")
    back = _open(tmp_path / "s.vsr", "subset")
    assert list(back["vs"].values) == ["stack_4", "stack_1"]
    assert list(back["ch"].values) == ["561"]
    np.testing.assert_allclose(back["z"].values, subset["z"].values)
    np.testing.assert_allclose(back["x"].values, subset["x"].values)
    np.testing.assert_array_equal(back["image"].values, subset.values)
    meta = json.loads(back.attrs["vsr_attributes"])["visor"]
    assert [c["index"] for c in meta["channels"]] == [0]
    assert meta["channels"][0]["roi"] == [20.2647, 61.2581, 14.2395, 24.5047, 62.9141, 14.239]
    assert [s["label"] for s in meta["visor_stacks"]] == ["stack_4", "stack_1"]
    import visor

    images = visor.VSR(tmp_path / "s.vsr").images()
    assert images["raw"][0]["name"] == "subset"
    assert images["raw"][0]["channels"] == ["561"]


def test_pyramid_levels_match_block_mean_and_coords(sample_path: Path, tmp_path: Path) -> None:
    image = _open(sample_path, "slice_1_10x", chunks={})["image"]
    report = image.visor.to_vsr(tmp_path / "p.vsr", image_type="raw", name="p", levels=4)
    assert [lv.shape for lv in report.levels] == [
        (3, 2, 20, 30, 40),
        (3, 2, 20, 15, 20),
        (3, 2, 20, 8, 10),
        (3, 2, 20, 4, 5),
    ]
    data = image.values
    expected = data
    lazy = image.visor.pyramid(4)
    for level in range(1, 4):
        expected = block_reduce(expected, (1, 1, 1, 2, 2))
        written = _open(tmp_path / "p.vsr", "p", level=level)
        np.testing.assert_array_equal(written["image"].values, expected)
        np.testing.assert_array_equal(lazy[level].values, expected)
        np.testing.assert_allclose(lazy[level]["x"].values, written["x"].values)
        step = 1.03 * 2**level
        np.testing.assert_allclose(
            written["x"].values[:2], [(2**level - 1) / 2 * 1.03, (2**level - 1) / 2 * 1.03 + step]
        )
        np.testing.assert_allclose(written["z"].values, image["z"].values)  # raw keeps z


def test_recon_pyramid_halves_z_and_custom_factors(sample_path: Path, tmp_path: Path) -> None:
    image = (
        _open(sample_path, "slice_1_10x")["image"]
        .sel(vs="stack_1")
        .drop_vars(["vs", "position_x", "position_y"])
    )
    report = image.visor.to_vsr(tmp_path / "r.vsr", image_type="recon", name="r", levels=2)
    assert report.levels[1].shape == (2, 10, 15, 20)
    custom = image.visor.to_vsr(
        tmp_path / "r.vsr", image_type="recon", name="c", levels=[{"x": 4}, {"z": 2, "y": 2}]
    )
    assert [lv.shape for lv in custom.levels] == [
        (2, 20, 30, 40),
        (2, 20, 30, 10),
        (2, 10, 15, 10),
    ]


def test_odd_sizes_and_integer_rounding() -> None:
    data = np.array([[1, 2, 3], [4, 6, 9]], dtype=np.uint16)
    # blocks: [1,2,4,6] -> 3.25 -> 3; edge [3,9] -> 6 (only existing voxels are averaged)
    np.testing.assert_array_equal(block_reduce(data, (2, 2)), [[3, 6]])
    half = np.array([[1, 2]], dtype=np.uint8)
    np.testing.assert_array_equal(block_reduce(half, (1, 2)), [[2]])  # 1.5 rounds half to even
    np.testing.assert_array_equal(
        block_reduce(np.array([[5, 6]], np.uint8), (1, 2)), [[6]]
    )  # 5.5 -> 6
    np.testing.assert_array_equal(block_reduce(data, (2, 2), "max"), [[6, 9]])


def test_mode_semantics(sample_path: Path, tmp_path: Path, unchanged) -> None:  # type: ignore[no-untyped-def]
    image = _open(sample_path, "slice_1_10x")["image"]
    target = tmp_path / "m.vsr"
    image.visor.to_vsr(target, image_type="raw", name="m")
    check = unchanged(target)
    with pytest.raises(vx.TargetExistsError, match=r"m\.zarr"):
        image.visor.to_vsr(target, image_type="raw", name="m")
    check()
    smaller = image.isel(z=slice(0, 5))
    smaller.visor.to_vsr(target, image_type="raw", name="m", mode="w")
    assert _open(target, "m")["image"].shape == (3, 2, 5, 30, 40)
    image.visor.to_vsr(target, image_type="raw", name="m", mode="a", levels=2)
    assert _open(target, "m").visor.levels == ("0", "1")
    import visor

    assert [i["name"] for i in visor.VSR(target).images()["raw"]] == ["m"]


def test_region_write_aligned_and_unaligned(sample_copy: Path) -> None:
    ds = _open(sample_copy, "slice_1_10x")
    before = ds["image"].values.copy()
    level1_before = _open(sample_copy, "slice_1_10x", level=1)["image"].values.copy()
    patch = xr.zeros_like(ds["image"].isel(z=slice(0, 16))) + 7  # shard-aligned along z
    patch.visor.to_vsr(
        sample_copy, image_type="raw", name="slice_1_10x", mode="r+", region={"z": slice(0, 16)}
    )
    odd = xr.zeros_like(ds["image"].isel(vs=[1], y=slice(5, 13), x=slice(9, 30))) + 999
    odd.visor.to_vsr(
        sample_copy,
        image_type="raw",
        name="slice_1_10x",
        mode="r+",
        region={"vs": slice(1, 2), "y": slice(5, 13), "x": slice(9, 30)},
    )
    expected = before.copy()
    expected[:, :, :16] = 7
    expected[1:2, :, :, 5:13, 9:30] = 999
    after = _open(sample_copy, "slice_1_10x")["image"].values
    np.testing.assert_array_equal(after, expected)
    level1 = _open(sample_copy, "slice_1_10x", level=1)["image"].values
    np.testing.assert_array_equal(level1, block_reduce(expected, (1, 1, 1, 2, 2)))
    assert not np.array_equal(level1, level1_before)


def test_region_write_rejects_wrong_shape(sample_copy: Path, unchanged) -> None:  # type: ignore[no-untyped-def]
    image = _open(sample_copy, "slice_1_10x")["image"]
    check = unchanged(sample_copy)
    with pytest.raises(vx.InvalidArrayError, match="region shape"):
        image.isel(z=slice(0, 3)).visor.to_vsr(
            sample_copy, image_type="raw", name="slice_1_10x", mode="r+", region={"z": slice(0, 4)}
        )
    with pytest.raises(vx.InvalidArrayError, match="dtype"):
        image.isel(z=slice(0, 4)).astype("float32").visor.to_vsr(
            sample_copy, image_type="raw", name="slice_1_10x", mode="r+", region={"z": slice(0, 4)}
        )
    check()


def test_add_levels_without_rewriting_level0(sample_copy: Path) -> None:
    shard_files = sorted(
        (sample_copy / "visor_raw_images" / "slice_1_10x.zarr" / "0").rglob("c/*/*/*/*/*")
    )
    stamps = {p: p.stat().st_mtime_ns for p in shard_files}
    report = add_levels(sample_copy, image_type="raw", name="slice_1_10x", levels=4)
    assert [lv.path for lv in report.levels] == ["2", "3"]
    assert {p: p.stat().st_mtime_ns for p in shard_files} == stamps
    level1 = _open(sample_copy, "slice_1_10x", level=1)["image"].values
    level3 = _open(sample_copy, "slice_1_10x", level=3)
    np.testing.assert_array_equal(
        level3["image"].values,
        block_reduce(block_reduce(level1, (1, 1, 1, 2, 2)), (1, 1, 1, 2, 2)),
    )
    np.testing.assert_allclose(level3["x"].values[:1], [3.5 * 1.03])
    import visor

    assert list(visor.VSR(sample_copy).images()["raw"][0]["resolutions"]) == ["0", "1", "2", "3"]


def test_missing_metadata_is_named(tmp_path: Path) -> None:
    bare = xr.DataArray(np.zeros((2, 3, 4), np.uint16), dims=("z", "y", "x"))
    with pytest.raises(vx.MetadataError, match="'ch'"):
        bare.visor.to_vsr(tmp_path / "b.vsr", image_type="recon", name="b")
    no_coords = bare.expand_dims(ch=["488"])
    with pytest.raises(vx.MetadataError, match=r"coords\.z"):
        no_coords.visor.to_vsr(tmp_path / "b.vsr", image_type="recon", name="b")
    uneven = no_coords.assign_coords(z=[0.0, 1.0], y=[0.0, 1.0, 3.0], x=np.arange(4.0))
    with pytest.raises(vx.MetadataError, match="evenly spaced"):
        uneven.visor.to_vsr(tmp_path / "b.vsr", image_type="recon", name="b")
    assert not (tmp_path / "b.vsr" / "visor_recon_images").exists()


def test_plain_dataarray_gets_defaults(tmp_path: Path) -> None:
    data = np.arange(2 * 5 * 6 * 7, dtype=np.float32).reshape(2, 5, 6, 7)
    array = xr.DataArray(
        data,
        dims=("ch", "z", "y", "x"),
        coords={
            "ch": ["488", "640"],
            "z": 10 + 2.0 * np.arange(5),
            "y": 0.5 * np.arange(6),
            "x": 0.5 * np.arange(7),
        },
    )
    array.visor.to_vsr(tmp_path / "d.vsr", image_type="recon", name="d", levels=2)
    back = _open(tmp_path / "d.vsr", "d", "recon")
    np.testing.assert_array_equal(back["image"].values, data)
    np.testing.assert_allclose(back["z"].values, array["z"].values)
    assert back["z"].attrs["units"] == "micrometer"
    coarse = _open(tmp_path / "d.vsr", "d", "recon", level=1)
    # OME grids are regular: the partial edge voxel (it averages z=18 alone) sits at 19
    np.testing.assert_allclose(coarse["z"].values, [11.0, 15.0, 19.0])


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    dtype=st.sampled_from(["uint8", "uint16", "float32"]),
    stacks=st.integers(0, 2),
    channels=st.integers(1, 2),
    # >= 2 voxels per spatial dim: a plain DataArray's spacing comes from its coordinates
    shape=st.tuples(st.integers(2, 11), st.integers(2, 13), st.integers(2, 9)),
    chunk=st.tuples(st.integers(2, 4), st.integers(2, 5), st.integers(2, 4)),
    multiple=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 2)),
    levels=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_round_trip_property(
    tmp_path_factory, dtype, stacks, channels, shape, chunk, multiple, levels, seed
) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    lead = ([stacks] if stacks else []) + [channels]
    dims = (("vs",) if stacks else ()) + ("ch", "z", "y", "x")
    full = (*lead, *shape)
    data = (rng.random(full) * 200).astype(dtype)
    coords = {
        "ch": [str(400 + 50 * i) for i in range(channels)],
        "z": 3.5 * np.arange(shape[0]) + 1.0,
        "y": 1.03 * np.arange(shape[1]),
        "x": 1.03 * np.arange(shape[2]),
    }
    if stacks:
        coords["vs"] = [f"stack_{2 * i + 1}" for i in range(stacks)]
    array = xr.DataArray(data, dims=dims, coords=coords).chunk(
        dict(zip(dims, [1] * len(lead) + [3, 4, 5], strict=False))
    )
    chunk_shape = (*[1] * len(lead), *chunk)
    shard_shape = (*[1] * len(lead), *(c * m for c, m in zip(chunk, multiple, strict=True)))
    path = tmp_path_factory.mktemp("prop") / "p.vsr"
    array.visor.to_vsr(
        path,
        image_type="raw" if stacks else "recon",
        name="p",
        levels=levels,
        chunk_shape=chunk_shape,
        shard_shape=shard_shape,
    )
    kind = "raw" if stacks else "recon"
    back = _open(path, "p", kind)
    np.testing.assert_array_equal(back["image"].values, data)
    assert back["image"].dtype == np.dtype(dtype)
    for dim in ("z", "y", "x"):
        np.testing.assert_allclose(back[dim].values, coords[dim])
    assert list(back["ch"].values) == coords["ch"]
    again_path = path.parent / "again.vsr"
    back["image"].visor.to_vsr(again_path, image_type=kind, name="p", levels=levels)
    assert_same_image(back.load(), _open(again_path, "p", kind).load())
    import visor

    for level in range(levels):
        stored = np.asarray(visor.Image(path, kind, "p").load(level)[...])
        np.testing.assert_array_equal(stored, _open(path, "p", kind, level=level)["image"].values)


def _level_blosc(path: Path, name: str, level: int) -> dict:  # type: ignore[type-arg]
    level_json = path / "visor_raw_images" / f"{name}.zarr" / str(level) / "zarr.json"
    meta = json.loads(level_json.read_text())
    sharding = next(c for c in meta["codecs"] if c["name"] == "sharding_indexed")
    blosc = next(c for c in sharding["configuration"]["codecs"] if c["name"] == "blosc")
    return dict(blosc["configuration"])


def test_pyramid_levels_use_the_pyramid_clevel(sample_path: Path, tmp_path: Path) -> None:
    image = _open(sample_path, "slice_1_10x")["image"]
    out = tmp_path / "out.vsr"
    image.visor.to_vsr(out, image_type="raw", name="default", levels=3)
    assert [_level_blosc(out, "default", k)["clevel"] for k in range(3)] == [5, 2, 2]
    assert {_level_blosc(out, "default", k)["cname"] for k in range(3)} == {"zstd"}
    with vx.set_options(pyramid_clevel=None):
        image.visor.to_vsr(out, image_type="raw", name="all5", levels=3)
        vx.add_levels(out, image_type="raw", name="default", levels=4)  # option read now
    assert [_level_blosc(out, "all5", k)["clevel"] for k in range(3)] == [5, 5, 5]
    assert _level_blosc(out, "default", 3)["clevel"] == 5
    explicit = vx.zarr_io.default_compressor(7)
    image.visor.to_vsr(out, image_type="raw", name="given", levels=3, compressors=explicit)
    assert [_level_blosc(out, "given", k)["clevel"] for k in range(3)] == [7, 7, 7]
    # the compression level changes bytes on disk, never values
    for level in range(3):
        a = _open(out, "default", level=level)["image"].values
        b = _open(out, "all5", level=level)["image"].values
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad", [10, -1, 2.5, True, "2"])
def test_pyramid_clevel_option_is_checked(bad: object) -> None:
    with pytest.raises(ValueError, match="pyramid_clevel"):
        vx.set_options(pyramid_clevel=bad)


def test_write_blocks_are_whole_chunks_and_keep_whole_source_blocks() -> None:
    """Write blocks are whole inner chunks inside one shard, within the budget; a dask
    source whose blocks already are (a resampling, a stitch) is written block by block as
    it is, so each write task depends on one source block; a pyramid's factors shape the
    blocks while they fit."""
    import dask.array as da

    from visor_xarray.write.memory import block_budget
    from visor_xarray.write.plan import WritePlan
    from visor_xarray.write.stream import conforming_blocks

    shape, shard, inner = (1, 96, 40, 300), (1, 64, 40, 288), (1, 16, 8, 8)
    plan = WritePlan(
        store=None,  # type: ignore[arg-type]
        image_type="recon",
        name="x",
        attrs=None,  # type: ignore[arg-type]
        chunks=inner,
        shards=shard,
        compressors=None,
        pyramid_compressors=None,
        factors=((1, 2, 2, 2),),
        method="mean",
        guard=None,
        memory=17 * 2**20,  # 1 MiB for the block, once a task's overhead is paid
    )
    source = da.zeros(shape, chunks=(1, 32, 8, 48), dtype=np.uint16)
    assert conforming_blocks(source.chunks, inner, shard) == (1, 32, 8, 48)
    assert plan.blocks(shape, shard, inner, 2, source=source) == source.chunks
    # 24 cuts inner chunks of 16; 40 straddles shards of 64: neither is kept
    for blocks in ((1, 24, 8, 48), (1, 40, 8, 48)):
        cut = da.zeros(shape, chunks=blocks, dtype=np.uint16)
        assert conforming_blocks(cut.chunks, inner, shard) is None
        chunks = plan.blocks(shape, shard, inner, 2, source=cut, multiple=(1, 2, 2, 2))
        for sizes, edge, chunk in zip(chunks, shard, inner, strict=True):
            starts = np.cumsum((0, *sizes[:-1]))
            # on the inner grid, inside one shard, whole chunks of level 1 too
            assert all(a % chunk == 0 for a in starts)
            assert all(
                (a // edge) == ((a + n - 1) // edge) for a, n in zip(starts, sizes, strict=True)
            )
        block = [max(c) for c in chunks]
        assert np.prod(block) * 2 <= block_budget(plan.memory)
        # where an axis has several blocks, they halve into whole inner chunks (level 1),
        # or they are the source's own blocks there (cut, never regrouped: no copy)
        for sizes, c, f, own in zip(chunks, inner, (1, 2, 2, 2), cut.chunks, strict=True):
            assert len(sizes) == 1 or sizes[0] % (c * f) == 0 or sizes[0] == own[0]
