"""Shared readers of untrusted JSON values for the ``parse_*`` functions.

Each helper checks one value's JSON type (or shape) and raises
:class:`~visor_xarray.errors.MetadataError` with the JSON path of the offending field
(:func:`_join` builds those paths). visor-py's ``{"_comment": ...}`` placeholder objects
are recognised here (:func:`_is_placeholder`, :func:`_named_list`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from visor_xarray.errors import MetadataError

__all__: list[str] = []

T = TypeVar("T")


def _fail(path: str, problem: str) -> MetadataError:
    return MetadataError(None, path, problem)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(path, f"expected a JSON object, got {_kind(value)}")
    for key in value:
        if not isinstance(key, str):
            raise _fail(path, f"object keys must be strings, got {key!r}")
    return value


def _array(value: Any, path: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise _fail(path, f"expected a JSON array, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return type(value).__name__


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _fail(path, f"expected a string, got {_kind(value)}")
    return value


def _optional_string(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    return None if value is None else _string(value, _join(path, key))


def _integer(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, f"expected an integer, got {_kind(value)}")
    return value


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(path, f"expected a number, got {_kind(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise _fail(path, f"expected a finite number, got {value!r}")
    return number


def _numbers(value: Any, path: str) -> tuple[float, ...]:
    return tuple(_number(v, _join(path, i)) for i, v in enumerate(_array(value, path)))


def _strings(value: Any, path: str) -> tuple[str, ...]:
    return tuple(_string(v, _join(path, i)) for i, v in enumerate(_array(value, path)))


def _required(obj: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in obj:
        raise _fail(_join(path, key), "required field is missing")
    return obj[key]


def _items(value: Any, path: str, parse: Callable[[Any, str], T]) -> tuple[T, ...]:
    return tuple(parse(item, _join(path, i)) for i, item in enumerate(_array(value, path)))


def _rest(obj: Mapping[str, Any], known: set[str]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in known}


def _is_placeholder(value: Any) -> bool:
    """visor-py writes ``{"_comment": "..."}`` where an array belongs until data exists."""
    return isinstance(value, Mapping) and all(str(k).startswith("_") for k in value)


def _check_indices(indices: Sequence[int], path: str, what: str) -> None:
    if sorted(indices) != list(range(len(indices))):
        raise _fail(
            path,
            f"{what} indices must be 0-based, contiguous and unique, got {sorted(indices)}",
        )


def _check_unique(labels: Sequence[str], path: str, what: str) -> None:
    seen: set[str] = set()
    for label in labels:
        if label in seen:
            raise _fail(path, f"duplicate {what} label {label!r}")
        seen.add(label)


def _named_list(
    value: Any, parse: Callable[[Any, str], T], name: Callable[[T], str], what: str
) -> tuple[tuple[T, ...], dict[str, Any] | None]:
    """``(entries, None)`` of a top-level JSON array whose entries have unique names, or
    ``((), placeholder)`` for visor-py's placeholder object."""
    if _is_placeholder(value):
        return (), dict(value)
    entries = _items(value, "", parse)
    _check_unique([name(entry) for entry in entries], "", what)
    return entries, None
