"""The findings of :func:`~visor_xarray.validate.validate` and the recorder the checks share.

:class:`Problem` is one finding; :class:`Recorder` holds the sample being checked and the
problems found so far, and turns the failure of any one check into a problem
(:meth:`Recorder.guard`), so that a bad sample never makes the validation raise.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from visor_xarray.errors import MetadataError, VisorError
from visor_xarray.schema import ImageAttrs
from visor_xarray.store import VsrStore

__all__ = ["Problem", "Recorder", "Severity"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One finding of :func:`validate`.

    Parameters
    ----------
    file : pathlib.Path
        The document, directory or shard file concerned.
    field : str
        JSON path of the offending field (``attributes.visor.channels[1]``), or ``""``.
    message : str
        What is wrong, and where useful what to do.
    severity : {"error", "warning"}
        ``"error"``: the sample (or part of it) cannot be read correctly; ``"warning"``:
        readable, but irregular or not standard-compliant.
    """

    file: Path
    field: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.file}: field '{self.field}'" if self.field else f"{self.file}"
        return f"{self.severity}: {where}: {self.message}"


class Recorder:
    """The state every check shares: the store, the options and the problems found.

    The checks (:mod:`~visor_xarray.validate.tree`, ``shards``, ``markers``,
    ``references``) are mixins on this class; :func:`~visor_xarray.validate.validate`
    combines them.

    Parameters
    ----------
    store : VsrStore
        The sample, opened read-only.
    deep : bool
        Also decode every shard.
    """

    def __init__(self, store: VsrStore, deep: bool) -> None:
        self.store = store
        self.root = store.require_local("validate")
        self.deep = deep
        self.problems: list[Problem] = []
        self.images: dict[tuple[str, str], ImageAttrs] = {}

    def add(self, file: Path, field: str, message: str, severity: Severity = "error") -> None:
        """Record one finding (see :class:`Problem` for the fields)."""
        self.problems.append(Problem(Path(file), field, message, severity))

    @contextlib.contextmanager
    def guard(self, file: Path) -> Iterator[None]:
        """Turn any failure of one check into a problem, so the others still run."""
        try:
            yield
        except MetadataError as error:
            self.add(error.file or file, error.field, error.problem)
        except VisorError as error:
            self.add(file, "", str(error))
        except (OSError, ValueError, UnicodeError) as error:
            self.add(file, "", f"cannot be read: {type(error).__name__}: {error}")
        except Exception as error:  # never raise for a bad sample
            self.add(file, "", f"unexpected {type(error).__name__} (please report): {error}")
