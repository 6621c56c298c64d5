"""visor-xarray: VISoR light-sheet microscopy samples (``.vsr``) as labelled, lazy xarray objects.

Importing the package registers the ``.visor`` accessors; xarray finds the ``"visor"``
engine through its entry point.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from visor_xarray import accessor as _accessor  # noqa: F401  (registers .visor)
from visor_xarray.api import (
    Image,
    ImageRecord,
    SampleSummary,
    TransformRecord,
    info,
    list_image,
    list_transform,
)
from visor_xarray.convert import CopyReport, copy_sample
from visor_xarray.errors import (
    CorruptDataError,
    IncompleteError,
    InvalidArrayError,
    LegacyLayoutError,
    LegacyLayoutWarning,
    ListingUnavailableError,
    MetadataError,
    NotAVsrError,
    ReadOnlyError,
    RemoteAccessError,
    RemoteUnsupportedError,
    TargetExistsError,
    UnknownImageError,
    UnknownLabelError,
    UnknownLevelError,
    UnknownTransformError,
    UnknownVersionError,
    UnsupportedTransformError,
    VisorError,
    VisorWarning,
)
from visor_xarray.io import open_datatree, open_image
from visor_xarray.options import get_options, set_options
from visor_xarray.resample import Transform
from visor_xarray.store import VsrStore
from visor_xarray.validate import Problem, validate
from visor_xarray.write import WriteReport, add_levels
from visor_xarray.zarr_io import WriteInProgressError, pipeline_name
from visor_xarray.zarr_io.credentials import share_credentials

try:
    __version__ = version("visor-xarray")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = [
    "CopyReport",
    "CorruptDataError",
    "Image",
    "ImageRecord",
    "IncompleteError",
    "InvalidArrayError",
    "LegacyLayoutError",
    "LegacyLayoutWarning",
    "ListingUnavailableError",
    "MetadataError",
    "NotAVsrError",
    "Problem",
    "ReadOnlyError",
    "RemoteAccessError",
    "RemoteUnsupportedError",
    "SampleSummary",
    "TargetExistsError",
    "Transform",
    "TransformRecord",
    "UnknownImageError",
    "UnknownLabelError",
    "UnknownLevelError",
    "UnknownTransformError",
    "UnknownVersionError",
    "UnsupportedTransformError",
    "VisorError",
    "VisorWarning",
    "VsrStore",
    "WriteInProgressError",
    "WriteReport",
    "__version__",
    "add_levels",
    "copy_sample",
    "get_options",
    "info",
    "list_image",
    "list_transform",
    "open_datatree",
    "open_image",
    "pipeline_name",
    "set_options",
    "share_credentials",
    "validate",
]
