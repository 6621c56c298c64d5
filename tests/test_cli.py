"""The ``visor-xarray`` command, driven in a subprocess as a user would."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xarray as xr


def run(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "visor_xarray", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def read_png(path: Path) -> np.ndarray:
    """Decode the 8-bit grey or RGB PNGs the library writes (no imaging library needed)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat, header = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8
    channels = 3 if colour == 2 else 1
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(
        height, 1 + width * channels
    )
    assert (raw[:, 0] == 0).all()  # filter type "none" on every row
    return raw[:, 1:].reshape(height, width, channels).squeeze()


@pytest.mark.parametrize(
    "command", ["info", "ls", "validate", "pyramid", "view", "resample", "demo"]
)
def test_every_subcommand_has_help(command: str) -> None:
    result = run(command, "--help")
    assert "usage: visor-xarray " + command in result.stdout


def test_info_table(visor001: Path) -> None:
    out = run("info", visor001).stdout
    assert "animal_id           VISOR001" in out
    assert "raw/slice_1_10x" in out
    assert "compr/xxx_slice_1_10x_20241201" in out
    assert "2x2x4x4x4" in out
    assert "uint16" in out
    assert "14.0 x 4.1 x 4.1 µm" in out  # 4 frames x 3.5 µm, 4 px x 1.03 µm
    # the stack labels, which sel(vs=...) needs
    header = next(line for line in out.splitlines() if line.startswith("image  "))
    assert header.split() == [
        "image",
        "level",
        "shape",
        "dtype",
        "physical",
        "size",
        "(zyx)",
        "stacks",
        "channels",
        "selected",
    ]
    row = next(line for line in out.splitlines() if line.startswith("raw/slice_1_10x "))
    assert row.split()[-3:] == ["stack_1,stack_2", "488,561", "yes"]
    assert "xxx_20250525" in out


def test_ls_filters(visor001: Path) -> None:
    out = run("ls", visor001, "--channel", "405").stdout.splitlines()
    assert [line.split(":")[0] for line in out] == [
        "raw/slice_1_10x_1 (selected)",
        "compr/xxx_slice_1_10x_20241201",
    ]
    assert "raw_to_ortho" in run("ls", visor001).stdout


def test_errors_exit_1_with_message(tmp_path: Path) -> None:
    result = run("info", tmp_path / "missing.vsr", check=False)
    assert result.returncode == 1
    assert "missing.vsr: no such sample directory" in result.stderr
    assert run("info", check=False).returncode == 2  # usage error


def test_pyramid_adds_levels(sample_copy: Path) -> None:
    out = run(
        "pyramid", sample_copy, "--image", "raw/slice_1_10x", "--levels", "3", "--quiet"
    ).stdout
    assert "2: (3, 2, 20, 8, 10)" in out
    import xarray as xr

    assert xr.open_dataset(sample_copy, engine="visor", resolution=2)["image"].shape == (
        3,
        2,
        20,
        8,
        10,
    )
    assert (
        "nothing to do"
        in run("pyramid", sample_copy, "--image", "raw", "--levels", "2", "--quiet").stdout
    )


def test_view_writes_png(sample_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "look.png"
    result = run(
        "view", sample_path, "--channel", "561", "--stack", "stack_3", "--out", out, "--quiet"
    )
    assert "ch=561" in result.stdout
    pixels = read_png(out)
    assert pixels.shape == (30, 40)  # (y, x) of a MIP along z: both 1.03 µm
    assert pixels.std() > 10  # not blank
    # along x, rows are 3.5 µm frames and columns 1.03 µm pixels: square physical pixels
    run("view", sample_path, "--dim", "x", "--out", out, "--quiet")
    side = read_png(out)
    frames = xr.open_dataset(sample_path, engine="visor").sizes["z"]
    assert side.shape == (int(frames * 3.5 / 1.03), 30)
    rows_per_frame = np.diff(np.flatnonzero(np.any(np.diff(side, axis=0) != 0, axis=1)))
    assert set(rows_per_frame) <= {3, 4}  # each frame repeated, none dropped


def test_view_unknown_label(sample_path: Path, tmp_path: Path) -> None:
    result = run("view", sample_path, "--channel", "999", "--out", tmp_path / "x.png", check=False)
    assert result.returncode == 2
    assert result.stderr == (
        "error: --channel '999': image raw/slice_1_10x has no such channel; "
        "choose one of: 488, 561\n"
    )
    assert not (tmp_path / "x.png").exists()


@pytest.fixture(scope="module")
def demo_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from visor_xarray.demo import make_demo_sample

    return make_demo_sample(tmp_path_factory.mktemp("cli") / "demo.vsr")


DEMO_IMAGE = ("--image", "raw/slice_1_10x")
RESAMPLE = ("--to", "ortho", "--version", "vx_20261124", "--quiet")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            ("view", "SAMPLE", *DEMO_IMAGE, "--stack", "stack_3"),
            "--stack 'stack_3': image raw/slice_1_10x has no such stack; "
            "choose one of: stack_1, stack_2, stack_4",
        ),
        (
            ("view", "SAMPLE", "--stack", "stack_1"),
            "has 2 raw images; choose one with --image: raw/slice_1_10x, raw/slice_2_10x",
        ),
        (
            ("view", "SAMPLE", "--image", "recon"),
            "has no recon image; choose one with --image: raw/slice_1_10x, raw/slice_2_10x",
        ),
        (
            ("view", "SAMPLE", "--image", "raw/slice_9"),
            "has no raw image 'slice_9'; choose one with --image: raw/slice_1_10x, raw/slice_2",
        ),
        (
            ("view", "SAMPLE", *DEMO_IMAGE, "--level", "7"),
            "no resolution level '7'; choose one of: '0', '1', '2'",
        ),
        (("view", "SAMPLE", *DEMO_IMAGE, "--dim", "t"), "--dim 't': choose one of z, y, x"),
        (
            ("resample", "SAMPLE", *DEMO_IMAGE, *RESAMPLE, "--stack", "stack_9", "--out", "O"),
            "--stack 'stack_9': image raw/slice_1_10x has no such stack; "
            "choose one of: stack_1, stack_2, stack_4",
        ),
        (
            ("resample", "SAMPLE", *DEMO_IMAGE, *RESAMPLE, "--spacing", "-1", "--out", "O"),
            "argument --spacing: must be a voxel size in µm above 0, got '-1'",
        ),
        (
            ("resample", "SAMPLE", *DEMO_IMAGE, *RESAMPLE, "--levels", "0", "--out", "O"),
            "argument --levels: must be a whole number above 0, got '0'",
        ),
        (
            (
                "resample",
                "SAMPLE",
                *DEMO_IMAGE,
                "--to",
                "atlas",
                "--version",
                "vx_20261124",
                "--out",
                "O",
            ),
            "no chain of transforms from 'raw' to 'atlas'; choose one of: 'ortho'",
        ),
        (
            ("resample", "SAMPLE", *DEMO_IMAGE, "--to", "ortho", "--version", "v9", "--out", "O"),
            "no transform version 'v9'; choose one of: 'vx_20261124'",
        ),
        (
            ("resample", "SAMPLE", *DEMO_IMAGE, *RESAMPLE, "--name", "../up", "--out", "O"),
            "--name: '../up' is not a valid image name",
        ),
        (("pyramid", "SAMPLE", *DEMO_IMAGE, "--levels", "-2"), "must be a whole number above 0"),
        (("ls", "SAMPLE", "--type", "recon"), "no image type 'recon'; choose one of: 'raw'"),
        (("ls", "SAMPLE", "--version", "v9"), "choose one of: 'vx_20261124'"),
        (("info",), "the following arguments are required: path"),
    ],
)
def test_user_errors_exit_2_with_one_line(
    demo_sample: Path,
    tmp_path: Path,
    unchanged: Callable[[Path], Callable[[], None]],
    arguments: tuple[str, ...],
    expected: str,
) -> None:
    check = unchanged(demo_sample)
    concrete = [
        {"SAMPLE": str(demo_sample), "O": str(tmp_path / "out.vsr")}.get(a, a) for a in arguments
    ]
    result = run(*concrete, check=False)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""  # nothing printed before the refusal
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr  # one line, no traceback, no usage dump
    assert expected in lines[0]
    assert not (tmp_path / "out.vsr").exists()
    check()


def _console_script() -> str:
    """The installed ``visor-xarray`` command: beside this interpreter, else on PATH."""
    beside = Path(sys.executable).with_name("visor-xarray")
    found = str(beside) if beside.is_file() else shutil.which("visor-xarray")
    assert found is not None, "the visor-xarray command is not installed (pip install -e .)"
    return found


def test_readme_demo_command(tmp_path: Path) -> None:
    def demo() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [_console_script(), "demo", "demo.vsr", "--quiet"],  # as the README has it
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            cwd=tmp_path,
        )

    result = demo()
    assert result.returncode == 0, result.stderr
    pair = read_png(tmp_path / "demo_raw_vs_ortho.png")
    overview = read_png(tmp_path / "demo_mip.png")
    assert pair.ndim == 2
    assert min(pair.shape) > 40
    assert pair.std() > 10
    # 40 x 64 voxels of 1.03 µm, enlarged 4x to a readable size
    assert overview.shape == (160, 256)
    assert overview.std() > 10
    np.testing.assert_array_equal(overview[::4, ::4], overview[3::4, 3::4])
    # the README's first command succeeds again: the earlier demo sample is replaced
    marker = tmp_path / "demo.vsr" / "visor_raw_images" / "added-by-hand.txt"
    marker.write_text("x")
    again = demo()
    assert again.returncode == 0, again.stderr
    assert "replaced the demo sample at demo.vsr" in again.stdout
    assert not marker.exists()
    np.testing.assert_array_equal(read_png(tmp_path / "demo_mip.png"), overview)


def test_demo_refuses_a_path_that_is_not_a_demo_sample(
    visor001_copy: Path, unchanged: Callable[[Path], Callable[[], None]]
) -> None:
    check = unchanged(visor001_copy)
    result = run("demo", visor001_copy, "--quiet", check=False)
    assert result.returncode == 1
    assert result.stderr == (
        f"error: {visor001_copy}: a path that is not a demo sample already exists; "
        "choose another path for the demo\n"
    )
    check()


def test_resample_writes_ortho_image(tmp_path: Path) -> None:
    import xarray as xr

    from visor_xarray.demo import DEMO_VERSION, make_demo_sample

    sample = make_demo_sample(tmp_path / "demo.vsr")
    out = tmp_path / "ortho.vsr"
    result = run(
        "resample",
        sample,
        "--image",
        "raw/slice_1_10x",
        "--to",
        "ortho",
        "--version",
        DEMO_VERSION,
        "--stack",
        "stack_2",
        "--channel",
        "488",
        "--out",
        out,
        "--levels",
        "2",
        "--quiet",
    )
    assert "slice_1_10x_ortho_" in result.stdout
    written = xr.open_dataset(out, engine="visor", image_type="recon")
    assert written["image"].dims == ("vs", "ch", "z", "y", "x")
    assert list(written["vs"].values) == ["stack_2"]
    assert written.attrs["transform_version"] == DEMO_VERSION
    assert written.visor.levels == ("0", "1")
    assert float(written["image"].max()) > 500  # blobs survived the resampling
    again = run(
        "resample",
        sample,
        "--to",
        "ortho",
        "--version",
        DEMO_VERSION,
        "--image",
        "raw/slice_1_10x",
        "--stack",
        "stack_2",
        "--channel",
        "488",
        "--out",
        out,
        "--quiet",
        check=False,
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_validate_finds_planted_errors(sample_copy: Path, visor001: Path) -> None:
    clean = run("validate", sample_copy, "--deep")
    assert "0 error(s)" in clean.stdout
    image = sample_copy / "visor_raw_images" / "slice_1_10x.zarr"
    (image / "zarr.json").write_text(
        (image / "zarr.json").read_text().replace('"index": 1', '"index": 5', 1)
    )
    shard = next((image / "0" / "c").rglob("*/*/*/*/*"))
    shard.write_bytes(shard.read_bytes()[:10])  # truncated shard
    broken = run("validate", sample_copy, "--deep", check=False)
    assert broken.returncode == 1
    assert "slice_1_10x.zarr/zarr.json" in broken.stdout
    assert shard.name in broken.stdout
    upstream = run("validate", visor001, check=False)
    assert "dimension_names" in upstream.stdout  # visor-py's arrays are not OME-Zarr 0.5 compliant
