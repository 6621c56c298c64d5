"""The vendored upstream samples are complete and unchanged (tests/data/SHA256SUMS)."""

from __future__ import annotations

import hashlib

from fixture_data import DATA


def _manifest() -> dict[str, str]:
    lines = (DATA / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    return {name: digest for digest, name in (line.split(maxsplit=1) for line in lines)}


def test_every_vendored_file_is_present_and_unchanged() -> None:
    manifest = _manifest()
    assert any(name.endswith("/.zattrs") for name in manifest)  # hidden files are listed too
    stored = {
        path.relative_to(DATA).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in DATA.rglob("*")
        if path.is_file() and path.name not in ("SHA256SUMS", "README.md")
    }
    assert sorted(set(manifest) - set(stored)) == [], "vendored files missing"
    assert sorted(set(stored) - set(manifest)) == [], "files added to the vendored samples"
    changed = sorted(name for name in manifest if stored[name] != manifest[name])
    assert changed == [], "vendored files changed (tests must write to copies only)"


def test_each_sample_has_its_licence_beside_it() -> None:
    for sample in ("VISOR001", "VISOR001-v2024.12.3"):
        assert (DATA / f"{sample}.vsr").is_dir()
        assert "BSD 3-Clause License" in (DATA / f"{sample}.LICENSE").read_text()
