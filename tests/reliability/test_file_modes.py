"""Files and directories the library writes get the modes a plain ``open()`` / ``mkdir`` give.

A sample is shared by a lab: a file created ``0o600`` (as :mod:`tempfile` makes them) is
unreadable to every other user. Each case runs every kind of write in a child process
started under a given umask, then checks the mode of everything below its directory.
"""

from __future__ import annotations

import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Every writer of the library, into one directory: sample documents (info, selected,
# image groups), level arrays through the atomic shard commit, the sample lock and the
# write markers, transforms in each format with transforms.json and recon.json, a
# resampled image with a pyramid, a region write, added levels, PNG quick looks.
WRITE_EVERYTHING = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path

    os.umask(int(sys.argv[2], 8))
    import numpy as np
    import xarray as xr
    import visor_xarray as vx
    from visor_xarray.demo import DEMO_VERSION, make_demo_sample, run_demo
    from visor_xarray.transforms import Affine, write_npy, write_tfm, write_zarr_affine

    where = Path(sys.argv[1])
    sample = make_demo_sample(where / "demo.vsr")
    shear = Affine(np.eye(3), np.array([1.0, 2.0, 3.0]))
    for form in ("tfm", "npy", "zarr"):  # a slice keeps one format per transform name
        saver = vx.Transform(sample, version=f"v_{form}", name="slice_1_10x")
        saver.save(shear, name="raw_to_ortho", format=form, stack=0, channel=0)
    write_zarr_affine(where / "loose" / "affine.zarr", shear)
    write_zarr_affine(where / "loose" / "affine.zarr", shear)  # replaces it
    write_tfm(where / "loose" / "affine.tfm", shear)
    write_npy(where / "loose" / "affine.npy", shear)

    image = xr.open_dataset(sample, engine="visor", name="slice_1_10x", chunks={})["image"]
    ortho = image.sel(vs="stack_1", ch="488").visor.resample(
        to_space="ortho", version=DEMO_VERSION
    )
    out = where / "out.vsr"
    ortho.astype("uint16").expand_dims("ch").visor.to_vsr(
        out, image_type="recon", name="ortho_1", levels=2
    )
    recon = xr.open_dataset(out, engine="visor", image_type="recon")["image"]
    recon.isel(z=slice(0, 5)).load().visor.to_vsr(
        out, image_type="recon", name="ortho_1", mode="r+", region={"z": slice(0, 5)}
    )
    vx.add_levels(out, image_type="recon", name="ortho_1", levels=3)
    image.isel(vs=0, ch=0).visor.to_png(where / "look.png")
    assert run_demo(where / "again" / "demo.vsr", quiet=True) == 0
    """
)


def _modes_below(root: Path) -> dict[str, tuple[bool, int]]:
    """``{relative path: (is a directory, permission bits)}`` of every entry below ``root``."""
    return {
        str(entry.relative_to(root)): (entry.is_dir(), stat.S_IMODE(entry.lstat().st_mode))
        for entry in root.rglob("*")
    }


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_every_written_entry_has_the_umask_mode(tmp_path: Path, umask: int) -> None:
    result = subprocess.run(
        [sys.executable, "-c", WRITE_EVERYTHING, str(tmp_path), oct(umask)[2:]],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    modes = _modes_below(tmp_path)
    names = {Path(p).name for p in modes}
    # the writers of every document kind ran (so their files are among those checked)
    for expected in (
        "info.json",
        "selected.json",
        "zarr.json",
        "recon.json",
        "transforms.json",
        "affine.tfm",
        "affine.npy",
        "affine.zarr",
        ".visor-lock",
        "look.png",
        "demo_mip.png",
    ):
        assert expected in names, f"no {expected} was written"
    files = {p: m for p, (is_dir, m) in modes.items() if not is_dir}
    directories = {p: m for p, (is_dir, m) in modes.items() if is_dir}
    assert any("/c/" in p for p in files), "no shard file was written"
    wrong_files = {p: oct(m) for p, m in files.items() if m != 0o666 & ~umask}
    wrong_dirs = {p: oct(m) for p, m in directories.items() if m != 0o777 & ~umask}
    assert not wrong_files, f"files not {oct(0o666 & ~umask)}: {wrong_files}"
    assert not wrong_dirs, f"directories not {oct(0o777 & ~umask)}: {wrong_dirs}"
