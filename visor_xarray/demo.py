"""The demo: a small but realistic synthetic sample, opened, resampled and pictured.

The sample has two slices, each with three stacks (labels with gaps) and two channels.
The content is built in ortho space (bright blobs and fibres) and sampled at the raw
positions of a 45-degree oblique light sheet, so the raw stacks are sheared exactly as a
VISoR microscope records them; each stack stores its ``raw_to_ortho``: the deskew, then
its tile's offset along x (neighbouring stacks overlap by 10 %, as on the microscope).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from scipy import ndimage

from visor_xarray.api import Image
from visor_xarray.errors import TargetExistsError
from visor_xarray.schema import parse_sample_info
from visor_xarray.store import VsrStore
from visor_xarray.testing.samples import image_attributes
from visor_xarray.transforms import Affine, deskew
from visor_xarray.transforms.stored import Transform
from visor_xarray.write.pyramid import block_reduce

__all__ = ["DEMO_VERSION", "is_demo_sample", "make_demo_sample", "run_demo"]

DEMO_VERSION = "vx_20261124"
# info.json of the demo sample: how a rerun recognises the sample it may replace
DEMO_ANIMAL = "DEMO01"
DEMO_PROJECT = "VISOR-XARRAY-DEMO"
SPACING = (3.5, 1.03, 1.03)
RAW_SHAPE = (48, 40, 64)
STACKS = ("stack_1", "stack_2", "stack_4")
CHANNELS = ("488", "561")
SLICES = ("slice_1_10x", "slice_2_10x")
ANGLE = 45.0
#: Neighbouring stacks are tiles this far apart along x (µm): 10 % of a stack's width
#: overlaps, as on the microscope; each stack's ``raw_to_ortho`` holds its tile offset.
TILE_SHIFT = round(0.9 * RAW_SHAPE[2] * SPACING[2], 1)
#: Longer side, in pixels, of the demo's overview PNG (the sample is small).
OVERVIEW_SIZE = 256


def _ortho_scene(shape: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """Blobs (cells) and fibres (axons) on a dim background, in ortho space (1 µm voxels)."""
    grids = np.ogrid[tuple(slice(0, s) for s in shape)]
    scene = np.full(shape, 120.0, dtype=np.float32)
    for _ in range(30):
        centre = [rng.uniform(0, s) for s in shape]
        radius = rng.uniform(2.0, 5.0)
        distance = sum((g - c) ** 2 for g, c in zip(grids, centre, strict=True))
        scene += rng.uniform(800, 3000) * np.exp(-distance / (2 * radius**2))
    for _ in range(6):
        start = np.array([rng.uniform(0, s) for s in shape])
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        offset = [g - a for g, a in zip(grids, start, strict=True)]
        along = sum(o * d for o, d in zip(offset, direction, strict=True))
        across2 = sum(o**2 for o in offset) - along**2
        scene += 1500.0 * np.exp(-across2 / 2.0)
    return scene


def _raw_stack(transform: Affine, scene: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sample the ortho scene at the raw voxels' ortho positions (1 µm scene voxels)."""
    index = np.indices(RAW_SHAPE, dtype=np.float64).reshape(3, -1).T
    positions = transform.apply(index).T
    values = ndimage.map_coordinates(scene, positions, order=1, mode="constant", cval=120.0)
    noisy = values.reshape(RAW_SHAPE) + rng.normal(0, 25, size=RAW_SHAPE)
    stack: np.ndarray = np.clip(noisy, 0, 65535).astype(np.uint16)
    return stack


def make_demo_sample(path: str | Path, *, seed: int = 7) -> Path:
    """Write the demo sample to ``path`` (which must not exist).

    Parameters
    ----------
    path : str or pathlib.Path
        New ``.vsr`` directory.
    seed : int, default 7
        Seed of the synthetic content.

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    store = VsrStore(path, "a")
    store.write_info(
        parse_sample_info(
            {
                "animal_id": DEMO_ANIMAL,
                "project_name": DEMO_PROJECT,
                "species": "Mouse",
                "subproject_name": "SYNTHETIC-BLOBS-FIBRES",
            }
        )
    )
    rng = np.random.default_rng(seed)
    transforms = [
        Affine(np.eye(3), np.array([0.0, 0.0, TILE_SHIFT * k]))
        @ deskew(ANGLE, SPACING, RAW_SHAPE[1])
        for k in range(len(STACKS))
    ]
    upper = transforms[-1].transform_bounds(np.zeros(3), np.asarray(RAW_SHAPE, float) - 1)[1]
    scene_shape = (
        int(np.ceil(upper[0])) + 2,
        int(np.ceil(upper[1])) + 2,
        int(np.ceil(upper[2])) + 2,
    )
    factors = [(1, 1, 1), (1, 2, 2), (1, 4, 4)]
    for slice_name in SLICES:
        # one scene per channel; stacks are neighbouring tiles of it (shifted along x)
        scenes = [_ortho_scene(scene_shape, rng) for _ in CHANNELS]
        stacks = np.stack(
            [np.stack([_raw_stack(tile, scene, rng) for scene in scenes]) for tile in transforms]
        )
        attrs = image_attributes(
            slice_name,
            stacks=STACKS,
            channels=CHANNELS,
            spacing=SPACING,
            level_factors=factors,
            channel_order=[1, 0],
            translations=True,
        )
        image = Image(path, type="raw", name=slice_name, mode="w-")
        level_data = stacks
        for level, _ in enumerate(factors):
            if level:
                level_data = block_reduce(level_data, (1, 1, 1, 2, 2))
            array = image.create(
                resolution=level,
                dtype="uint16",
                attr=attrs if level == 0 else None,
                shape=level_data.shape,
                shard_size=(1, 1, 48, 64, 64),
                chunk_size=(1, 1, 16, 16, 16),
            )
            array[...] = level_data
        saver = Transform(path, version=DEMO_VERSION, name=slice_name)
        for stack, tile in enumerate(transforms):
            for channel in range(len(CHANNELS)):
                saver.save(tile, name="raw_to_ortho", stack=stack, channel=channel)
    return path


def is_demo_sample(path: str | Path) -> bool:
    """True if ``path`` holds a sample written by :func:`make_demo_sample` (its ``info.json``).

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    bool
    """
    try:
        info = VsrStore(path, "r").info()
    except (OSError, ValueError):
        return False
    return (info.animal_id, info.project_name) == (DEMO_ANIMAL, DEMO_PROJECT)


def run_demo(out: Path, *, quiet: bool = False) -> int:
    """Write the demo sample, open it, resample one stack to ortho space, write PNGs.

    Run again on the same path, it replaces the demo sample it wrote before, so the
    README's first command can be repeated; any other existing path is refused.

    Parameters
    ----------
    out : pathlib.Path
        The ``.vsr`` directory to write; PNGs are written beside it
        (``{stem}_raw_vs_ortho.png``, ``{stem}_mip.png``).
    quiet : bool, default False
        Print less.

    Returns
    -------
    int
        Exit status (0).

    Raises
    ------
    TargetExistsError
        If ``out`` exists and is not a demo sample (nothing is touched).
    """
    import xarray as xr

    from visor_xarray.quicklook import enlarge, picture_pixels, side_by_side, write_png

    replaced = out.exists()
    if replaced:
        if not is_demo_sample(out):
            raise TargetExistsError(
                out, "a path that is not a demo sample", "choose another path for the demo"
            )
        shutil.rmtree(out)
    make_demo_sample(out)
    print(
        f"{'replaced the demo sample at' if replaced else 'wrote a synthetic sample to'} "
        f"{out}: slices {', '.join(SLICES)}, stacks {', '.join(STACKS)}, "
        f"channels {', '.join(CHANNELS)}, 3 levels"
    )
    dataset = xr.open_dataset(out, engine="visor", name=SLICES[0], chunks={})
    if not quiet:
        print(dataset)
    raw = dataset["image"].sel(vs="stack_2", ch="488")
    ortho = raw.visor.resample(to_space="ortho", version=DEMO_VERSION)
    print(
        f"resampled stack_2 / 488 nm to ortho space: {dict(ortho.sizes)} at {ortho.visor.spacing}"
    )
    # both panels at physical aspect (square pixels), z down, y across: the raw panel is the
    # voxel grid as recorded (structures sheared), the ortho panel the same stack deskewed
    picture = side_by_side([picture_pixels(raw.max("x")), picture_pixels(ortho.max("x"))])
    pair = write_png(out.with_name(f"{out.stem}_raw_vs_ortho.png"), enlarge(picture, 2))
    overview = write_png(
        out.with_name(f"{out.stem}_mip.png"),
        picture_pixels(dataset["image"].sel(ch="488").max(["vs", "z"]), min_size=OVERVIEW_SIZE),
    )
    print(
        f"wrote {pair} (MIP along x, z down: raw left, ortho right) and {overview} "
        "(MIP of all stacks)"
    )
    return 0
