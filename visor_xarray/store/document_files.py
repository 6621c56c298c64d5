"""Reading the sample's JSON documents, with every problem attributed to its file."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from visor_xarray.errors import MetadataError
from visor_xarray.layout import SamplePath
from visor_xarray.zarr_io.atomic_files import read_json

__all__ = ["group_attributes", "load_document"]

T = TypeVar("T")


def load_document(path: SamplePath, parse: Callable[[Any], T]) -> T:
    """Read and parse one JSON document, attributing every problem to ``path``.

    Parameters
    ----------
    path : pathlib.Path
        The document.
    parse : callable
        The schema parser of its decoded JSON value.

    Returns
    -------
    T
        What ``parse`` returns.

    Raises
    ------
    MetadataError
        If the file is missing, not JSON, or breaks the schema; located in ``path``.
    """
    try:
        value = read_json(path)
    except FileNotFoundError:
        raise MetadataError(path, "", "required document is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise MetadataError(path, "", f"not valid JSON: {error}") from None
    try:
        return parse(value)
    except MetadataError as error:
        raise error.located(path) from None


def group_attributes(path: SamplePath) -> Any:
    """Return the ``attributes`` of a Zarr v3 group document, checking its header.

    Parameters
    ----------
    path : pathlib.Path
        The group's ``zarr.json``.

    Returns
    -------
    Any
        The decoded ``attributes`` (``{}`` when absent), not yet checked.

    Raises
    ------
    MetadataError
        If the file is missing, not JSON, or not a Zarr v3 group document.
    """
    try:
        document = read_json(path)
    except FileNotFoundError:
        raise MetadataError(path, "", "image group document zarr.json is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise MetadataError(path, "", f"not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise MetadataError(path, "", "expected a JSON object")
    if document.get("zarr_format") != 3:
        raise MetadataError(
            path, "zarr_format", f"expected 3 (Zarr v3), got {document.get('zarr_format')!r}"
        )
    if document.get("node_type") != "group":
        raise MetadataError(
            path, "node_type", f"expected 'group', got {document.get('node_type')!r}"
        )
    return document.get("attributes", {})
