"""Writes keep the memory budget, and their report predicts the peak (measured in subprocesses).

Each case writes several times the budget in a fresh subprocess, after a small warm-up
write (imports, thread pools, codec state), and measures the kernel's peak-RSS mark
(``VmHWM``, reset just before the write) above the RSS at that point: the source data, when
in memory, are not counted. Every case must stay within ``1.25 x budget + 64 MiB`` and the
report's ``predicted_peak_bytes`` within 25 % of the measurement.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BUDGET = 128 * 2**20

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import dask, dask.array as da, numpy as np, xarray as xr
    import visor_xarray as vx
    from visor_xarray.transforms import Affine, deskew

    case, root, budget = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    DIMS = ("vs", "ch", "z", "y", "x")
    Z, Y, X = 168, 788, 2048  # 517 MiB of uint16: four budgets

    def content(z0, shape, y0=0):
        # cheap, deterministic, compressible like a ramp with texture; built plane by plane
        y = np.arange(y0, y0 + shape[3], dtype=np.uint32)[:, None]
        x = np.arange(shape[4], dtype=np.uint32)[None, :]
        plane = (y * 7 + x * 3 + (x * y) % 17).astype(np.uint16)
        out = np.empty(shape, np.uint16)
        for i in range(shape[2]):
            np.remainder(plane + (z0 + i) * 13, 3000, out=out[0, 0, i])
        return out

    def coords(z0, nz, ny=Y, nx=X, stacks=("stack_1",)):
        return {"vs": list(stacks), "ch": ["488"], "z": 3.5 * np.arange(z0, z0 + nz),
                "y": 1.03 * np.arange(ny), "x": 1.03 * np.arange(nx)}

    def lazy(nz, block=64, rows=64):
        # generated when computed: blocks of 64 frames x 64 rows (16 MiB)
        def make(block_id=None):
            z0, y0 = block_id[2] * block, block_id[3] * rows
            return content(z0, (1, 1, min(block, nz - z0), min(rows, Y - y0), X), y0)
        def split(n, size):
            return (size,) * (n // size) + ((n % size,) if n % size else ())
        chunks = ((1,), (1,), split(nz, block), split(Y, rows), (X,))
        return da.map_blocks(make, chunks=chunks, dtype=np.uint16,
                             meta=np.empty((0,) * 5, np.uint16))

    def tiled(path):
        # 3 deskewed stacks of (64, 208, 1024), neighbours overlapping by 10 %
        stacks = ("stack_1", "stack_2", "stack_3")
        data = np.concatenate([content(7 * i, (1, 1, 64, 208, 1024)) for i in range(3)])
        xr.DataArray(data, dims=DIMS, coords=coords(0, 64, 208, 1024, stacks)).visor.to_vsr(
            path, image_type="raw", name="slice_1_10x")
        saver = vx.Transform(path, version="v1", name="slice_1_10x")
        for i in range(3):
            shift = Affine(np.eye(3), [0.0, 0.0, 0.9 * 1024 * 1.03 * i])
            saver.save(shift @ deskew(45, (3.5, 1.03, 1.03), 208), stack=i, channel=0)
        return xr.open_dataset(path, engine="visor", name="slice_1_10x", chunks={})["image"]

    kwargs = {}
    if case == "numpy":
        source = xr.DataArray(content(0, (1, 1, Z, Y, X)), dims=DIMS, coords=coords(0, Z))
    elif case in ("dask", "pyramid"):
        source = xr.DataArray(lazy(Z), dims=DIMS, coords=coords(0, Z))
        if case == "pyramid":
            kwargs["levels"] = 3
    elif case == "resample":
        image = tiled(root / "tiled.vsr")
        source = image.sel(ch="488").visor.resample(
            to_space="ortho", version="v1").expand_dims("ch")  # every stack: 3 x 137 MB
    elif case == "stitch":
        source = tiled(root / "tiled.vsr").sel(ch=["488"]).visor.stitch(
            to_space="ortho", version="v1")
    elif case == "add_levels":  # level 0 stored first; the levels read it back
        xr.DataArray(lazy(Z), dims=DIMS, coords=coords(0, Z)).visor.to_vsr(
            root / "out.vsr", image_type="raw", name="big")
        source = None
    elif case == "region":
        xr.DataArray(lazy(Z), dims=DIMS, coords=coords(0, Z)).visor.to_vsr(
            root / "out.vsr", image_type="raw", name="big", levels=2)
        source = xr.DataArray(content(5, (1, 1, 96, Y, X)), dims=DIMS, coords=coords(40, 96))
        kwargs = {"mode": "r+", "region": {"z": slice(40, 136)}}
    warm = xr.DataArray(content(0, (1, 1, 32, 64, 64)), dims=DIMS, coords=coords(0, 32, 64, 64))
    warm.visor.to_vsr(root / "warm.vsr", image_type="raw", name="warm", levels=2)

    def status(field):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024

    image_type = "raw" if source is None or source.ndim == 5 else "recon"
    with vx.set_options(write_memory_budget=budget), dask.config.set(
            scheduler="threads", num_workers=2):
        Path("/proc/self/clear_refs").write_text("5")
        before = status("VmRSS")
        if source is None:
            report = vx.add_levels(root / "out.vsr", image_type="raw", name="big", levels=3)
        else:
            report = source.visor.to_vsr(root / "out.vsr", image_type=image_type,
                                         name="big", **kwargs)
        grown = status("VmHWM") - before
    written = xr.open_dataset(root / "out.vsr", engine="visor", image_type=image_type,
                              name="big")["image"]
    nbytes = written.nbytes if source is None else source.nbytes
    print(json.dumps({"grown": grown, "predicted": report.predicted_peak_bytes,
                      "nbytes": int(nbytes), "shape": list(written.shape),
                      # add_levels reports the levels it added to the stored one
                      "levels": len(report.levels) + (source is None)}))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize(
    "case", ["numpy", "dask", "pyramid", "add_levels", "resample", "stitch", "region"]
)
def test_write_keeps_the_budget_and_predicts_its_peak(tmp_path: Path, case: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, case, str(tmp_path), str(BUDGET)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout.strip().splitlines()[-1])
    grown, predicted = stats["grown"], stats["predicted"]
    assert stats["nbytes"] >= 1.5 * BUDGET, stats  # large enough to show the bound
    assert grown <= 1.25 * BUDGET + 64 * 2**20, f"grew {grown / 2**20:.0f} MiB ({stats})"
    assert abs(predicted - grown) <= 0.25 * grown, (
        f"predicted {predicted / 2**20:.0f} MiB, measured {grown / 2**20:.0f} MiB ({stats})"
    )
    if case in ("pyramid", "add_levels"):
        assert stats["levels"] == 3
