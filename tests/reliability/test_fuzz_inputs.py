"""Bad input, generated: every document kind, directory shapes and escaping names.

hypothesis mutates each metadata document of a real sample (deletes keys, swaps values
for junk of the wrong type, huge numbers, NaN, unicode, nested junk, duplicate or
renumbered indices, truncated lists) or replaces it with arbitrary JSON. Opening,
listing, reading and validating the sample then either works (possibly with a
``VisorWarning``) or raises one of the library's ``VisorError`` subclasses -- never an
unrelated exception -- and ``validate`` never raises and never reports an internal error.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from _reliability_helpers import FIXTURE, RAW
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sample_files import IMAGE

import visor_xarray as vx
from visor_xarray.errors import VisorError
from visor_xarray.store import VsrStore
from visor_xarray.testing import make_sample
from visor_xarray.validate import Problem, validate

RECON_IMAGE = "recon_1"
VERSION = "xxx_20250525"
DOCUMENTS = {
    "info": "info.json",
    "selected": f"{RAW}/selected.json",
    "group": f"{RAW}/{IMAGE}.zarr/zarr.json",
    "recon-group": f"visor_recon_images/{RECON_IMAGE}.zarr/zarr.json",
    "level": f"{RAW}/{IMAGE}.zarr/0/zarr.json",
    "recon": f"visor_recon_transforms/{VERSION}/recon.json",
    "transforms": f"visor_recon_transforms/{VERSION}/slice_1_10x/transforms.json",
}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    visor001 = FIXTURE
    root = tmp_path_factory.mktemp("fuzz") / "F.vsr"
    make_sample(root, shape=(8, 16, 16), chunk=(8, 8, 8), shard=(8, 16, 16))
    make_sample(
        root,
        name=RECON_IMAGE,
        image_type="recon",
        stacks=None,
        channels=("488",),
        shape=(8, 8, 8),
        chunk=(8, 8, 8),
        shard=(8, 8, 8),
        levels=1,
    )
    shutil.copytree(visor001 / "visor_recon_transforms", root / "visor_recon_transforms")
    group = root / DOCUMENTS["recon-group"]
    document = json.loads(group.read_text())
    document["attributes"]["visor"]["sources"] = [
        {"path": f"{RAW}/{IMAGE}.zarr", "channels": ["488"]}
    ]
    document["attributes"]["visor"]["transform_version"] = VERSION
    group.write_text(json.dumps(document))
    assert validate(root) == []
    return root


def operations(root: Path) -> dict[str, Callable[[], object]]:
    def read_dataset() -> object:
        with xr.open_dataset(root, engine="visor", name=IMAGE) as ds:
            return ds["image"][..., :3].values

    def read_recon() -> object:
        with xr.open_dataset(root, engine="visor", image_type="recon") as ds:
            return ds["image"][..., :2].values

    def read_tree() -> object:
        tree = xr.open_datatree(root, engine="visor")
        return [node.path for node in tree.subtree]

    def seed_api() -> object:
        image = vx.Image(root, name=IMAGE)
        return image.open(image.levels[-1])[..., :1], image.label_to_index("channel", "488")

    def transform() -> object:
        return vx.Transform(root, version=VERSION, name="slice_1_10x", mode="r").load(
            "raw_to_ortho", stack=0, channel=0
        )

    return {
        "info": lambda: str(vx.info(root)),
        "list_image": lambda: [str(r) for r in vx.list_image(root)],
        "list_transform": lambda: [str(r) for r in vx.list_transform(root)],
        "open_dataset": read_dataset,
        "open_recon": read_recon,
        "open_datatree": read_tree,
        "seed_api": seed_api,
        "transform": transform,
        "store": lambda: [
            VsrStore(root).levels("raw", n) for n in VsrStore(root).image_names("raw")
        ],
    }


#: Non-library exceptions found by this fuzzing in code outside the reliability work,
#: reported to the lead; each has a strict xfail test below. Remove an entry when fixed.
KNOWN_BUGS: tuple[tuple[str, ...], ...] = ()


def check_everything(root: Path) -> dict[str, str]:
    """Run every operation; return what each did. Fails on a non-library exception."""
    outcome: dict[str, str] = {}
    for name, operation in operations(root).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", vx.VisorWarning)
            try:
                operation()
                outcome[name] = "ok"
            except VisorError as error:
                outcome[name] = type(error).__name__
            except Exception as error:  # the bug this test is looking for
                if any(all(part in str(error) for part in bug) for bug in KNOWN_BUGS):
                    outcome[name] = "known bug"
                    continue
                raise AssertionError(f"{name} raised {type(error).__name__}: {error}") from error
    problems = validate(root)
    internal = [p for p in problems if "unexpected" in p.message and "please report" in p.message]
    assert internal == [], internal
    assert all(isinstance(p, Problem) for p in problems)
    return outcome


@pytest.fixture
def restore(sample: Path) -> Iterator[Callable[[str], None]]:
    saved: dict[Path, bytes] = {}

    def remember(relative: str) -> None:
        file = sample / relative
        saved.setdefault(file, file.read_bytes())

    yield remember
    for file, content in saved.items():
        file.write_bytes(content)


# ------------------------------------------------------------------- value strategies

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, -1, 1, 2**31, 2**63, -(2**63) - 1, 10**400 // 10**380]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "..",
            "../../etc",
            "/abs",
            "a/b",
            "\u00e9\u6f22\U0001f52c",
            "\x00",
            "488",
            "stack_1",
            "0",
            "raw",
            " ",
            "C:\\x",
        ]
    ),
)
JUNK = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=8), children, max_size=4),
    ),
    max_leaves=12,
)


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths_of(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths_of(item, (*prefix, index))


def mutate(document: Any, data: st.DataObject) -> Any:
    """Apply 1-3 random mutations to a copy of ``document``."""
    document = json.loads(json.dumps(document))
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        paths = [p for p in paths_of(document) if p]
        if not paths:
            return data.draw(JUNK, label="whole document")
        path = data.draw(st.sampled_from(paths), label="path")
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        action = data.draw(
            st.sampled_from(
                ["delete", "junk", "duplicate", "renumber", "truncate", "wrap", "stringify"]
            ),
            label="action",
        )
        current = parent[key]
        if action == "delete":
            del parent[key]
        elif action == "junk":
            parent[key] = data.draw(JUNK, label="junk")
        elif action == "duplicate" and isinstance(parent, list):
            parent.insert(key, json.loads(json.dumps(current)))
        elif action == "renumber":
            parent[key] = data.draw(st.integers(-3, 10**12), label="number")
        elif action == "truncate" and isinstance(current, list | str):
            parent[key] = current[: data.draw(st.integers(0, max(0, len(current) - 1)))]
        elif action == "wrap":
            parent[key] = [current]
        elif action == "stringify":
            parent[key] = json.dumps(current)
    return document


def write(file: Path, value: Any) -> None:
    file.write_text(json.dumps(value, ensure_ascii=False, allow_nan=True), encoding="utf-8")


#: Examples per document kind; raise it for a longer campaign (VX_FUZZ_EXAMPLES=500).
EXAMPLES = int(os.environ.get("VX_FUZZ_EXAMPLES", "15"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("kind", DOCUMENTS)
@FUZZ
@given(data=st.data())
def test_mutated_documents(
    sample: Path, restore: Callable[[str], None], kind: str, data: st.DataObject
) -> None:
    relative = DOCUMENTS[kind]
    restore(relative)
    file = sample / relative
    original = json.loads(file.read_bytes())
    try:
        write(file, mutate(original, data))
        if os.environ.get("VX_FUZZ_TRACE"):  # keep the last document (to debug a crash)
            shutil.copyfile(file, os.environ["VX_FUZZ_TRACE"])
        check_everything(sample)
    finally:
        write(file, original)


@pytest.mark.parametrize("kind", DOCUMENTS)
@FUZZ
@given(value=JUNK)
def test_arbitrary_json_documents(
    sample: Path, restore: Callable[[str], None], kind: str, value: Any
) -> None:
    relative = DOCUMENTS[kind]
    restore(relative)
    file = sample / relative
    original = file.read_bytes()
    try:
        write(file, value)
        check_everything(sample)
    finally:
        file.write_bytes(original)


RAW_BYTES = {
    "empty": b"",
    "not-json": b'{"a": ',
    "latin-1": '{"animal_id": "caf\u00e9"}'.encode("latin-1"),
    "utf-16": json.dumps({"a": 1}).encode("utf-16"),
    "bom": b"\xef\xbb\xbf{}",
    "nan": b'{"x": NaN}',
    "deep-list": b"[" * 5000 + b"]" * 5000,
    "deep-object": b'{"a":' * 3000 + b"1" + b"}" * 3000,
    "huge-number": b'{"animal_id": 1' + b"0" * 5000 + b"}",
    "binary": bytes(range(256)),
}


@pytest.mark.parametrize("kind", DOCUMENTS)
@pytest.mark.parametrize("content", RAW_BYTES)
def test_undecodable_documents(
    sample: Path, restore: Callable[[str], None], kind: str, content: str
) -> None:
    relative = DOCUMENTS[kind]
    restore(relative)
    (sample / relative).write_bytes(RAW_BYTES[content])
    check_everything(sample)


# -------------------------------------------------------------- directory shapes


def _replace_with_file(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()
    path.write_text("not what you expected")


def _replace_with_dir(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()
    path.mkdir()


SHAPES: dict[str, Callable[[Path], None]] = {
    "raw-images-dir-is-file": lambda r: _replace_with_file(r / RAW),
    "image-dir-is-file": lambda r: _replace_with_file(r / RAW / f"{IMAGE}.zarr"),
    "level-dir-is-file": lambda r: _replace_with_file(r / RAW / f"{IMAGE}.zarr" / "0"),
    "chunk-dir-is-file": lambda r: _replace_with_file(r / RAW / f"{IMAGE}.zarr" / "0" / "c"),
    "shard-is-dir": lambda r: _replace_with_dir(
        next(p for p in (r / RAW / f"{IMAGE}.zarr" / "0" / "c").rglob("*") if p.is_file())
    ),
    "group-json-is-dir": lambda r: _replace_with_dir(r / RAW / f"{IMAGE}.zarr" / "zarr.json"),
    "level-json-is-dir": lambda r: _replace_with_dir(
        r / RAW / f"{IMAGE}.zarr" / "0" / "zarr.json"
    ),
    "info-is-dir": lambda r: _replace_with_dir(r / "info.json"),
    "selected-is-dir": lambda r: _replace_with_dir(r / RAW / "selected.json"),
    "transforms-dir-is-file": lambda r: _replace_with_file(r / "visor_recon_transforms"),
    "version-dir-is-file": lambda r: _replace_with_file(r / "visor_recon_transforms" / VERSION),
    "recon-json-is-dir": lambda r: _replace_with_dir(
        r / "visor_recon_transforms" / VERSION / "recon.json"
    ),
    "empty-image-dir": lambda r: (r / RAW / "empty.zarr").mkdir(),
    "empty-level-dir": lambda r: _replace_with_dir(r / RAW / f"{IMAGE}.zarr" / "1"),
    "empty-type-dir": lambda r: (r / "visor_seg_images").mkdir(),
    "stray-files": lambda r: [
        (r / "notes.txt").write_text("x"),
        (r / RAW / "notes.txt").write_text("x"),
        (r / RAW / f"{IMAGE}.zarr" / "notes.txt").write_text("x"),
        (r / RAW / f"{IMAGE}.zarr" / "0" / "c" / "notes.txt").write_text("x"),
        (r / "visor_recon_transforms" / VERSION / "notes.txt").write_text("x"),
    ],
    "stray-zarr-file": lambda r: (r / RAW / "loose.zarr").write_text("x"),
    "weird-image-name": lambda r: shutil.copytree(
        r / RAW / f"{IMAGE}.zarr", r / RAW / "-weird name!.zarr"
    ),
    "symlink-loop": lambda r: (r / RAW / "loop.zarr").symlink_to(r / RAW / "loop.zarr"),
    "dangling-symlink": lambda r: (r / RAW / "gone.zarr").symlink_to(r / "nowhere"),
}


#: Shapes that are not wrong (an image type without images).
HARMLESS = {"empty-type-dir"}


@pytest.mark.parametrize("shape", SHAPES)
def test_directory_shapes(sample: Path, tmp_path: Path, shape: str) -> None:
    root = tmp_path / "F.vsr"
    shutil.copytree(sample, root, symlinks=True)
    SHAPES[shape](root)
    outcome = check_everything(root)
    problems = validate(root, deep=True)
    if shape not in HARMLESS:
        assert problems, f"validate found nothing wrong with {shape}"
    assert outcome  # every operation ran


ESCAPES = [
    "..",
    "../x",
    "../../etc/passwd",
    "/etc",
    "a/../../b",
    "x/..",
    ".hidden",
    "a\\..\\b",
    "\x00",
    "",
]


@pytest.mark.parametrize("name", ESCAPES)
def test_names_that_try_to_escape_the_sample(sample: Path, tmp_path: Path, name: str) -> None:
    root = tmp_path / "F.vsr"
    shutil.copytree(sample, root)
    outside = tmp_path / "outside-marker"
    write(root / RAW / "selected.json", [{"name": name, "channels": ["488"]}])
    group = root / DOCUMENTS["group"]
    document = json.loads(group.read_text())
    document["attributes"]["ome"]["multiscales"][0]["datasets"][1]["path"] = name
    write(group, document)
    before = sorted(p.name for p in tmp_path.iterdir())
    check_everything(root)
    for call in (
        lambda: vx.Image(root, name=name or "."),
        lambda: vx.Image(root, type=name, name=IMAGE),
        lambda: xr.open_dataset(root, engine="visor", name=name or "."),
        lambda: xr.open_dataset(root, engine="visor", name=IMAGE, resolution=name),
        lambda: vx.Transform(root, version=name, name="slice_1_10x"),
    ):
        with pytest.raises(VisorError):
            call()
    with pytest.raises(VisorError):
        xr.DataArray(
            np.zeros((1, 1, 2, 2, 2), np.uint16),
            dims=("vs", "ch", "z", "y", "x"),
            coords={
                "vs": ["stack_1"],
                "ch": ["488"],
                "z": [0.0, 1.0],
                "y": [0.0, 1.0],
                "x": [0.0, 1.0],
            },
        ).visor.to_vsr(root, image_type="raw", name=name)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not outside.exists()


def test_raw_image_without_visor_attributes(sample: Path, tmp_path: Path) -> None:
    root = tmp_path / "F.vsr"
    shutil.copytree(sample, root)
    group = root / DOCUMENTS["group"]
    document = json.loads(group.read_text())
    del document["attributes"]["visor"]
    write(group, document)
    assert any(p.field == "attributes.visor" for p in validate(root))
    with pytest.raises(VisorError):
        xr.open_dataset(root, engine="visor", name=IMAGE)
