"""The public :func:`validate`: runs every check on a sample and sorts the findings."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from visor_xarray import layout
from visor_xarray.errors import NotAVsrError, RemoteUnsupportedError, VisorWarning
from visor_xarray.store import VsrStore
from visor_xarray.validate.problems import Problem
from visor_xarray.validate.references import ReferenceChecks
from visor_xarray.validate.tree import DocumentChecks
from visor_xarray.zarr_io.lock import LOCK_FILE
from visor_xarray.zarr_io.remote_path import is_url

__all__ = ["validate"]


class _Checker(DocumentChecks, ReferenceChecks):
    """All the checks of a sample, run in order by :meth:`run`."""

    def run(self) -> list[Problem]:
        with self.guard(self.root):
            self.check_root()
        with self.guard(self.root / "info.json"):
            self.store.info()
        for image_type in self.image_types():
            with self.guard(self.root / f"visor_{image_type}_images"):
                self.check_type(image_type)
        with self.guard(layout.image_type_dir(self.root, layout.RAW) / "selected.json"):
            self.check_selection()
        for (image_type, name), attrs in self.images.items():
            with self.guard(layout.image_dir(self.root, image_type, name)):
                self.check_references(image_type, name, attrs)
        with self.guard(layout.transforms_root(self.root)):
            self.check_transforms()
        return self.problems

    def image_types(self) -> list[str]:
        try:
            return self.store.image_types()
        except OSError as error:
            self.add(self.root, "", f"cannot list the sample: {error}")
            return []


def validate(path: str | os.PathLike[str], *, deep: bool = False) -> list[Problem]:
    """List what is wrong with a ``.vsr`` sample; never raises for a bad sample.

    Checks: every metadata document against the schema (``info.json``, ``selected.json``,
    each image group's ``zarr.json``, ``recon.json``, ``transforms.json``); each level
    array against its image (listed but missing, present but not listed, axis count vs
    ndim, stack/channel counts vs the ``vs``/``ch`` lengths, missing ``dimension_names``);
    ``selected.json`` naming missing images or channels; ``sources`` naming missing
    images or channels, or paths that leave the sample; interrupted or running writes
    (in-progress markers, scratch directories); files where directories belong and stray
    entries. With ``deep=True`` it also decodes every stored shard of every level
    (``DEEP_READ_BYTES`` at a time) and lists the corrupt ones, and warns about a level
    none of whose shard files is stored.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.vsr`` sample directory.
    deep : bool, default False
        Also read every shard (slow: reads all the data).

    Returns
    -------
    list of Problem
        Empty for a valid sample; errors before warnings, each in discovery order.

    Raises
    ------
    NotAVsrError
        Only if ``path`` is not a ``.vsr`` sample at all.
    RemoteUnsupportedError
        For a URL: validation reads the sample's directory tree, which needs a local copy.

    Examples
    --------
    >>> from visor_xarray.validate import validate
    >>> for problem in validate("BB001.vsr"):  # doctest: +SKIP
    ...     print(problem)
    """
    if is_url(path) and not str(path).lower().startswith("file://"):
        raise RemoteUnsupportedError(path, "validate")
    with warnings.catch_warnings():
        # a legacy layout and an interrupted copy are reported as problems instead
        warnings.simplefilter("ignore", VisorWarning)
        store = VsrStore(path, "r", warn_legacy=False)
    try:
        problems = _Checker(store, deep).run()
    except NotAVsrError:
        raise
    except Exception as error:  # pragma: no cover - the checker guards every step
        problems = [Problem(Path(path), "", f"unexpected {type(error).__name__}: {error}")]
    problems = [p for p in problems if p.file.name != LOCK_FILE]
    return sorted(problems, key=lambda p: p.severity != "error")
