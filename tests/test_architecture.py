"""The architecture's rules (docs/architecture.md), read from the package's own imports.

Imports written inside functions count; imports under ``if TYPE_CHECKING:`` do not (they
never run).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "visor_xarray"

#: The layers of docs/architecture.md: a part imports parts of its own layer or lower.
LAYERS = {
    **dict.fromkeys(("schema", "layout", "errors", "options", "chunking", "progress"), 1),
    **dict.fromkeys(("store", "transforms", "zarr_io"), 2),
    **dict.fromkeys(("backend", "coords", "units"), 3),
    **dict.fromkeys(("resample", "write", "convert", "validate", "compute"), 4),
    **dict.fromkeys(
        ("cli", "_cli_args", "accessor", "io", "api", "demo", "quicklook", "testing", "napari"),
        5,
    ),
}
CORE = ("schema", "layout", "store", "zarr_io", "transforms")


@dataclass(frozen=True)
class Import:
    """One import statement of a module, resolved to absolute module names."""

    module: str  # the importing module
    file: str
    target: str  # the imported module (or the module a name is imported from)
    names: tuple[str, ...]
    at_run_time: bool

    @property
    def part(self) -> str:
        return part_of(self.module)


def part_of(module: str) -> str:
    """The subpackage or top-level module of ``visor_xarray`` a module belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _typing_only(tree: ast.Module) -> set[int]:
    hidden: set[int] = set()
    for node in ast.walk(tree):
        test = getattr(node, "test", None)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in {
            getattr(test, "id", None),
            getattr(test, "attr", None),
        }:
            for inner in node.body:
                hidden.update(id(sub) for sub in ast.walk(inner))
    return hidden


def imports() -> Iterator[Import]:
    """Every import of every module of the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        hidden = _typing_only(tree)
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        file = str(path.relative_to(PACKAGE.parent))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield Import(module, file, alias.name, (), id(node) not in hidden)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = package[: len(package) - node.level + 1]
                    target = ".".join([*anchor, *([node.module] if node.module else [])])
                else:
                    target = node.module or ""
                names = tuple(alias.name for alias in node.names)
                yield Import(module, file, target, names, id(node) not in hidden)


MODULES = {_module_name(path) for path in PACKAGE.rglob("*.py")}
IMPORTS = list(imports())


def _ours(item: Import) -> list[str]:
    """The package's modules an import reaches (``from a import b`` may name module b)."""
    if item.target.split(".")[0] != "visor_xarray":
        return []
    reached = [item.target] + [f"{item.target}.{n}" for n in item.names]
    return [m for m in reached if m in MODULES]


def test_no_import_cycle_between_subpackages() -> None:
    edges: dict[str, set[str]] = {}
    for item in IMPORTS:
        for module in _ours(item):
            other = part_of(module)
            if other not in (item.part, "visor_xarray"):
                edges.setdefault(item.part, set()).add(other)

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            here = todo.pop()
            for there in edges.get(here, ()):
                if there == goal:
                    return True
                if there not in seen:
                    seen.add(there)
                    todo.append(there)
        return False

    cycles = sorted(f"{a} -> {b} -> ... -> {a}" for a in edges for b in edges[a] if reaches(b, a))
    assert not cycles


def test_no_layer_imports_a_higher_one() -> None:
    upward = sorted(
        f"{item.file}: {module}"
        for item in IMPORTS
        if item.at_run_time and item.part in LAYERS
        for module in _ours(item)
        if part_of(module) in LAYERS
        and part_of(module) != item.part
        and LAYERS[part_of(module)] > LAYERS[item.part]
    )
    assert not upward


@pytest.mark.parametrize("library", ["xarray"])
def test_the_format_core_imports_no_xarray(library: str) -> None:
    found = sorted(
        f"{item.file}: {item.target}"
        for item in IMPORTS
        if item.at_run_time and item.part in CORE and item.target.split(".")[0] == library
    )
    assert not found


def test_only_zarr_io_imports_zarr_at_run_time() -> None:
    found = sorted(
        f"{item.file}: {item.target}"
        for item in IMPORTS
        if item.at_run_time and item.target.split(".")[0] == "zarr" and item.part != "zarr_io"
    )
    assert not found


def test_no_private_name_is_imported_from_another_module() -> None:
    found = sorted(
        f"{item.file}: {name} from {item.target}"
        for item in IMPORTS
        if item.target.split(".")[0] == "visor_xarray" and item.target != item.module
        for name in item.names
        if name.startswith("_")
        and not name.startswith("__")
        and f"{item.target}.{name}" not in MODULES
    )
    assert not found


def test_the_rules_see_the_package() -> None:
    """The checks above read real imports (a broken parser would pass them vacuously)."""
    assert len(MODULES) > 80
    assert any(item.target == "xarray" for item in IMPORTS)
    assert any(item.part == "zarr_io" and item.target.startswith("zarr") for item in IMPORTS)
    tree = ast.parse("import numpy\nif TYPE_CHECKING:\n    import zarr\n")
    hidden = _typing_only(tree)
    seen = {n.names[0].name: id(n) in hidden for n in ast.walk(tree) if isinstance(n, ast.Import)}
    assert seen == {"numpy": False, "zarr": True}
