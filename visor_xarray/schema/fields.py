"""Shared readers of untrusted JSON values for the ``parse_*`` functions.

Each ``read_*`` helper takes a decoded JSON value and its JSON path (built by
:func:`join_path`), checks the value's JSON type (or shape) and returns it, or raises
:class:`~visor_xarray.errors.MetadataError` naming that path. visor-py's
``{"_comment": ...}`` placeholder objects are recognised here (:func:`is_placeholder`,
:func:`read_named_list`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from visor_xarray.errors import MetadataError

__all__ = [
    "check_indices",
    "check_unique",
    "describe_kind",
    "field_error",
    "is_placeholder",
    "join_path",
    "read_array",
    "read_integer",
    "read_items",
    "read_named_list",
    "read_number",
    "read_numbers",
    "read_object",
    "read_optional_string",
    "read_required",
    "read_string",
    "read_strings",
    "unknown_fields",
]

T = TypeVar("T")


def field_error(path: str, problem: str) -> MetadataError:
    """Build the error for a bad field.

    Parameters
    ----------
    path : str
        JSON path of the field, as built by :func:`join_path`.
    problem : str
        What is wrong with it.

    Returns
    -------
    MetadataError
        The error, not yet located in a file (the caller raises it).
    """
    return MetadataError(None, path, problem)


def join_path(path: str, key: str | int) -> str:
    """Extend a JSON path by an object key or an array index.

    Parameters
    ----------
    path : str
        The path so far (``""`` at the top level).
    key : str or int
        Object key, or array index.

    Returns
    -------
    str
        ``path.key`` or ``path[index]``.
    """
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def read_object(value: Any, path: str) -> Mapping[str, Any]:
    """Check that a value is a JSON object with string keys."""
    if not isinstance(value, Mapping):
        raise field_error(path, f"expected a JSON object, got {describe_kind(value)}")
    for key in value:
        if not isinstance(key, str):
            raise field_error(path, f"object keys must be strings, got {key!r}")
    return value


def read_array(value: Any, path: str) -> Sequence[Any]:
    """Check that a value is a JSON array."""
    if not isinstance(value, list | tuple):
        raise field_error(path, f"expected a JSON array, got {describe_kind(value)}")
    return value


def describe_kind(value: Any) -> str:
    """Name the JSON type of a value for an error message.

    Parameters
    ----------
    value : Any
        The decoded JSON value.

    Returns
    -------
    str
        For example ``"an object"``, ``"null"`` or ``"the number 3"``.
    """
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return type(value).__name__


def read_string(value: Any, path: str) -> str:
    """Check that a value is a JSON string."""
    if not isinstance(value, str):
        raise field_error(path, f"expected a string, got {describe_kind(value)}")
    return value


def read_optional_string(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    """Read an optional string field of an object.

    Parameters
    ----------
    obj : Mapping[str, Any]
        The JSON object.
    key : str
        The field's key.
    path : str
        JSON path of ``obj``.

    Returns
    -------
    str or None
        The string, or ``None`` if the field is absent or null.

    Raises
    ------
    MetadataError
        If the value does not have the expected form.
    """
    value = obj.get(key)
    return None if value is None else read_string(value, join_path(path, key))


def read_integer(value: Any, path: str) -> int:
    """Check that a value is a JSON integer (not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise field_error(path, f"expected an integer, got {describe_kind(value)}")
    return value


def read_number(value: Any, path: str) -> float:
    """Check that a value is a finite JSON number (not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise field_error(path, f"expected a number, got {describe_kind(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise field_error(path, f"expected a finite number, got {value!r}")
    return number


def read_numbers(value: Any, path: str) -> tuple[float, ...]:
    """Read a JSON array of finite numbers."""
    return tuple(read_number(v, join_path(path, i)) for i, v in enumerate(read_array(value, path)))


def read_strings(value: Any, path: str) -> tuple[str, ...]:
    """Read a JSON array of strings."""
    return tuple(read_string(v, join_path(path, i)) for i, v in enumerate(read_array(value, path)))


def read_required(obj: Mapping[str, Any], key: str, path: str) -> Any:
    """Read a field that must be present in an object.

    Parameters
    ----------
    obj : Mapping[str, Any]
        The JSON object.
    key : str
        The field's key.
    path : str
        JSON path of ``obj``.

    Returns
    -------
    Any
        The field's value, not yet checked.

    Raises
    ------
    MetadataError
        If the value does not have the expected form.
    """
    if key not in obj:
        raise field_error(join_path(path, key), "required field is missing")
    return obj[key]


def read_items(value: Any, path: str, parse: Callable[[Any, str], T]) -> tuple[T, ...]:
    """Parse every item of a JSON array."""
    return tuple(parse(item, join_path(path, i)) for i, item in enumerate(read_array(value, path)))


def unknown_fields(obj: Mapping[str, Any], known: set[str]) -> dict[str, Any]:
    """The fields of an object that the model does not know, kept for round trips.

    Parameters
    ----------
    obj : Mapping[str, Any]
        The JSON object.
    known : set of str
        Keys the parser reads itself.

    Returns
    -------
    dict
        The remaining fields.
    """
    return {k: v for k, v in obj.items() if k not in known}


def is_placeholder(value: Any) -> bool:
    """Tell whether a value is visor-py's ``{"_comment": ...}`` placeholder object.

    Parameters
    ----------
    value : Any
        The decoded JSON value.

    Returns
    -------
    bool
        ``True`` for an object whose keys all start with ``_``; visor-py writes one where
        an array belongs until data exists.
    """
    return isinstance(value, Mapping) and all(str(k).startswith("_") for k in value)


def check_indices(indices: Sequence[int], path: str, what: str) -> None:
    """Check that indices are 0-based, contiguous and unique.

    Parameters
    ----------
    indices : Sequence[int]
        The indices, in any order.
    path : str
        JSON path of the array holding them.
    what : str
        Name of the array, for the error message.

    Raises
    ------
    MetadataError
        If the value does not have the expected form.
    """
    if sorted(indices) != list(range(len(indices))):
        raise field_error(
            path,
            f"{what} indices must be 0-based, contiguous and unique, got {sorted(indices)}",
        )


def check_unique(labels: Sequence[str], path: str, what: str) -> None:
    """Check that labels are unique.

    Parameters
    ----------
    labels : Sequence[str]
        The labels.
    path : str
        JSON path of the array holding them.
    what : str
        What the labels name, for the error message.

    Raises
    ------
    MetadataError
        If the value does not have the expected form.
    """
    seen: set[str] = set()
    for label in labels:
        if label in seen:
            raise field_error(path, f"duplicate {what} label {label!r}")
        seen.add(label)


def read_named_list(
    value: Any, parse: Callable[[Any, str], T], name: Callable[[T], str], what: str
) -> tuple[tuple[T, ...], dict[str, Any] | None]:
    """Read a top-level JSON array whose entries have unique names.

    Parameters
    ----------
    value : Any
        The decoded JSON document.
    parse : callable
        Parser of one entry, called as ``parse(item, item_path)``.
    name : callable
        The name of a parsed entry.
    what : str
        What the entries are, for the error message.

    Returns
    -------
    entries : tuple
        The parsed entries (empty for a placeholder).
    placeholder : dict or None
        visor-py's placeholder object, or ``None`` for an array.

    Raises
    ------
    MetadataError
        If the value does not have the expected form.
    """
    if is_placeholder(value):
        return (), dict(value)
    entries = read_items(value, "", parse)
    check_unique([name(entry) for entry in entries], "", what)
    return entries, None
