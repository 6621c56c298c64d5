"""PNG quick looks keep the physical aspect ratio: one helper for ``to_png``, ``view`` and
the demo, driven by the coordinates (and their units) of the picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from visor_xarray.quicklook import enlarge, physical_pixels, picture_pixels


def picture(rows: int, columns: int, **coords: tuple[float, str]) -> xr.DataArray:
    """A (rows, columns) ramp with coordinates ``dim=(step, units)`` where given."""
    values = np.arange(rows * columns, dtype=np.float64).reshape(rows, columns)
    sizes = {"y": rows, "x": columns}
    return xr.DataArray(
        values,
        dims=("y", "x"),
        coords={
            dim: (dim, step * np.arange(sizes[dim]), {"units": units})
            for dim, (step, units) in coords.items()
        },
    )


def test_coarser_rows_are_repeated_never_dropped() -> None:
    pixels = physical_pixels(np.arange(12.0).reshape(4, 3), 3.5, 1.0)
    assert pixels.shape == (14, 3)
    # each of the 4 rows appears 3 or 4 times, in order
    distinct = [int(p) for p, *_ in pixels]
    runs = [
        len(list(group)) for group in np.split(distinct, np.flatnonzero(np.diff(distinct)) + 1)
    ]
    assert len(runs) == 4
    assert set(runs) <= {3, 4}


def test_steps_are_compared_in_their_units() -> None:
    # 2 µm rows given in millimetres, 1 µm columns: rows are shown twice as tall
    converted = picture_pixels(picture(5, 8, y=(0.002, "millimeter"), x=(1.0, "micrometer")))
    assert converted.shape == (10, 8)
    same = picture_pixels(picture(5, 8, y=(2.0, "micrometer"), x=(1.0, "micrometer")))
    np.testing.assert_array_equal(converted, same)
    # coarser columns: columns are widened instead
    assert picture_pixels(picture(5, 8, y=(1.0, "um"), x=(3.0, "um"))).shape == (5, 24)


@pytest.mark.parametrize(
    "coords",
    [
        {},  # no coordinates: one pixel per value
        {"y": (2.0, "micrometer")},  # one axis only: nothing to compare it with
        {"y": (2.0, "second"), "x": (1.0, "micrometer")},  # units that do not convert
    ],
)
def test_without_comparable_steps_pixels_stay_one_per_value(
    coords: dict[str, tuple[float, str]],
) -> None:
    assert picture_pixels(picture(5, 8, **coords)).shape == (5, 8)


def test_small_pictures_are_enlarged_by_a_whole_factor() -> None:
    small = picture(5, 8, y=(1.0, "um"), x=(1.0, "um"))
    big = picture_pixels(small, min_size=30)
    assert big.shape == (20, 32)  # factor ceil(30 / 8) = 4
    np.testing.assert_array_equal(big[::4, ::4], picture_pixels(small))
    assert picture_pixels(small, min_size=8).shape == (5, 8)
    np.testing.assert_array_equal(enlarge(big, 1), big)


def test_to_png_writes_the_physical_aspect(tmp_path: Path) -> None:
    volume = xr.DataArray(
        np.random.default_rng(0).integers(0, 4000, size=(6, 10, 12), dtype=np.uint16),
        dims=("z", "y", "x"),
        coords={
            "z": ("z", 3.5 * np.arange(6), {"units": "micrometer"}),
            "y": ("y", 1.03 * np.arange(10), {"units": "micrometer"}),
            "x": ("x", 1.03 * np.arange(12), {"units": "micrometer"}),
        },
    )
    written = volume.visor.to_png(tmp_path / "side.png", dim="x")
    data = written.read_bytes()
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (height, width) == (int(6 * 3.5 / 1.03), 10)
