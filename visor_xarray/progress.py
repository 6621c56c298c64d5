"""dask's progress bar, on standard error, when asked for."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

__all__ = ["progress_bar"]


@contextlib.contextmanager
def progress_bar(enabled: bool) -> Iterator[None]:
    """Show dask's progress bar on standard error while the block runs, if ``enabled``.

    Parameters
    ----------
    enabled : bool
        False: the block runs without a bar.
    """
    if not enabled:
        yield
        return
    from dask.diagnostics.progress import ProgressBar

    with ProgressBar(out=sys.stderr):  # type: ignore[no-untyped-call]
        yield
