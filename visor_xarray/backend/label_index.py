"""The index of the ``vs`` / ``ch`` label coordinates: a lookup that fails names the labels.

xarray's own index answers ``ds.sel(vs="stack_9")`` with "not all values found in index
'vs'", which leaves the user guessing; stacks are numbered with gaps (``stack_1``,
``stack_3``), so guessing is what they would have to do. :class:`LabelIndex` behaves as
xarray's :class:`~xarray.indexes.PandasIndex` in every other way (``method=``, lists,
slices, ``isel``, concatenation, alignment with other label indexes) and raises
:class:`~visor_xarray.errors.UnknownLabelError` listing the labels that exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np
import xarray as xr
from xarray.core.indexing import IndexSelResult
from xarray.indexes import PandasIndex

from visor_xarray.errors import UnknownLabelError

__all__ = ["LABEL_DIMS", "LabelIndex", "label_indexed"]

#: The label dimensions and the kind of label each holds (as error messages name them).
LABEL_DIMS: Mapping[str, str] = {"vs": "stack", "ch": "channel"}

XarrayObject = TypeVar("XarrayObject", xr.DataArray, xr.Dataset)


def _requested(label: Any) -> list[Any]:
    """The individual labels a ``sel`` indexer asks for."""
    if isinstance(label, slice):
        return [bound for bound in (label.start, label.stop) if bound is not None]
    values = label.values if isinstance(label, xr.DataArray | xr.Variable) else label
    return [v.item() if isinstance(v, np.generic) else v for v in np.ravel(np.asarray(values))]


class LabelIndex(PandasIndex):
    """Index of a stack (``vs``) or channel (``ch``) label coordinate.

    A :class:`~xarray.indexes.PandasIndex` whose failed label lookups raise
    :class:`~visor_xarray.errors.UnknownLabelError` (a ``KeyError``) naming the missing
    labels and listing those that exist. The engine gives it to ``vs`` and ``ch``.

    Notes
    -----
    xarray aligns only indexes of one type with each other. Objects opened by the engine
    align with each other, and with objects whose ``vs``/``ch`` labels are equal; to
    align (or ``reindex``) with different labels held by a plain index, give both the
    same kind of index first, e.g. ``obj.drop_indexes("ch").set_xindex("ch")`` for a
    plain one, or :func:`label_indexed` for this one.

    Examples
    --------
    >>> import xarray as xr
    >>> from visor_xarray.backend.label_index import label_indexed
    >>> stacks = label_indexed(xr.DataArray([1, 2], coords={"vs": ["stack_1", "stack_3"]}))
    >>> try:
    ...     stacks.sel(vs="stack_2")
    ... except KeyError as error:
    ...     print(error)
    index 'vs': unknown stack label 'stack_2'; labels that exist: 'stack_1', 'stack_3'
    """

    def sel(
        self, labels: dict[Any, Any], method: Any = None, tolerance: Any = None
    ) -> IndexSelResult:
        """Select by label as :meth:`xarray.indexes.PandasIndex.sel`.

        Parameters
        ----------
        labels : dict
            ``{coordinate name: label(s)}``: a label, a list or array of labels, a slice.
        method, tolerance : optional
            As for :meth:`xarray.Dataset.sel`.

        Returns
        -------
        IndexSelResult
            The positional indexer along the dimension.

        Raises
        ------
        UnknownLabelError
            If a requested label does not exist; the message lists those that do.
        """
        try:
            return super().sel(labels, method=method, tolerance=tolerance)
        except UnknownLabelError:
            raise
        except KeyError:
            label = next(iter(labels.values()))
            raise self._unknown(label) from None

    def _unknown(self, label: Any) -> UnknownLabelError:
        existing = [str(value) for value in self.index]
        try:
            missing = [value for value in _requested(label) if value not in self.index]
        except TypeError:  # unhashable or exotic labels: name what was asked for
            missing = []
        shown = missing[0] if len(missing) == 1 else (missing or label)
        kind = LABEL_DIMS.get(str(self.dim), str(self.dim))
        return UnknownLabelError(f"index {self.dim!r}", kind, shown, existing)


def label_indexed(obj: XarrayObject) -> XarrayObject:
    """Give the ``vs`` / ``ch`` dimension coordinates of ``obj`` a :class:`LabelIndex`.

    Parameters
    ----------
    obj : xarray.DataArray or xarray.Dataset

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        The same object if nothing changes, else a new one (data, coordinates and attrs
        untouched); label dimensions without a coordinate are left as they are.
    """
    for dim in LABEL_DIMS:
        index = obj.xindexes.get(dim)
        if type(index) is PandasIndex and obj[dim].dims == (dim,):
            obj = obj.drop_indexes(dim).set_xindex(dim, LabelIndex)
    return obj
