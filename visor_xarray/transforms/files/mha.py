"""MetaImage (``.mha``) dense displacement fields, as visor-py writes them (read only).

MetaImage headers are always in ITK's ``(x, y, z)`` order and are converted on reading.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Final

import numpy as np

from visor_xarray.errors import CorruptDataError, MetadataError, UnsupportedTransformError
from visor_xarray.transforms.files.common import parse_numbers
from visor_xarray.transforms.model import DisplacementField

__all__ = ["read_mha_displacement"]

_MHA_MAX_HEADER_LINES: Final = 256
_MHA_MAX_LINE: Final = 1 << 16
_MHA_DTYPES: Final = {"MET_FLOAT": "f4", "MET_DOUBLE": "f8"}


def _read_mha_header(file: Path, stream: IO[bytes]) -> dict[str, str]:
    header: dict[str, str] = {}
    for number in range(1, _MHA_MAX_HEADER_LINES + 1):
        raw = stream.readline(_MHA_MAX_LINE)
        if not raw:
            raise MetadataError(file, "ElementDataFile", "missing: the header never ends")
        try:
            line = raw.decode("ascii").strip()
        except UnicodeDecodeError as exc:
            raise MetadataError(
                file,
                f"line {number}",
                "not a MetaImage header (binary data before ElementDataFile)",
            ) from exc
        if not line:
            continue
        key, equals, value = line.partition("=")
        if not equals:
            raise MetadataError(file, f"line {number}", f"expected 'Key = value', got {line!r}")
        header[key.strip()] = value.strip()
        # MetaIO puts the data right after this key's line.
        if key.strip() == "ElementDataFile":
            return header
    raise MetadataError(file, "ElementDataFile", "missing within the first header lines")


def _header_value(
    file: Path, header: dict[str, str], keys: tuple[str, ...], default: str | None = None
) -> tuple[str, str]:
    for key in keys:
        if key in header:
            return key, header[key]
    if default is None:
        raise MetadataError(file, keys[0], "missing from the MetaImage header")
    return keys[0], default


def _header_bool(file: Path, header: dict[str, str], keys: tuple[str, ...], default: str) -> bool:
    key, value = _header_value(file, header, keys, default)
    if value.lower() not in ("true", "false"):
        raise MetadataError(file, key, f"expected True or False, got {value!r}")
    return value.lower() == "true"


def _header_numbers(
    file: Path, header: dict[str, str], keys: tuple[str, ...], count: int, default: str | None
) -> list[float]:
    key, value = _header_value(file, header, keys, default)
    return parse_numbers(file, key, value, count)


def read_mha_displacement(path: str | os.PathLike[str]) -> DisplacementField:
    """Read a dense displacement field from an uncompressed MetaImage (``.mha``) file.

    This is the format visor-py writes (``sitk.WriteImage`` of a ``VectorFloat32``
    image): a 3-D grid of 3-component float32 or float64 vectors in ITK's ``(x, y, z)``
    order, data inline after the header. The grid (``DimSize``, ``ElementSpacing``,
    ``Offset``, ``TransformMatrix``) and the vectors are converted to ``(z, y, x)``.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.mha`` file.

    Returns
    -------
    DisplacementField
        Field of shape (Z, Y, X, 3) holding ``(dz, dy, dx)``, with origin, spacing and
        direction in ``(z, y, x)`` order.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    MetadataError
        If the header is malformed: a required key missing, a value that does not parse,
        the wrong number of values.
    UnsupportedTransformError
        If the file is valid MetaImage but not supported: compressed or ASCII data,
        data in a separate file, not 3-D, not 3 components, or an element type other
        than ``MET_FLOAT`` / ``MET_DOUBLE``.
    CorruptDataError
        If the data after the header is shorter or longer than the header announces.
    """
    file = Path(path)
    with file.open("rb") as stream:
        header = _read_mha_header(file, stream)

        def unsupported(what: str) -> UnsupportedTransformError:
            return UnsupportedTransformError(
                f"{file}: {what} is not supported; a displacement field must be an "
                "uncompressed binary 3-D MetaImage with 3 MET_FLOAT or MET_DOUBLE "
                "components and ElementDataFile = LOCAL"
            )

        _, object_type = _header_value(file, header, ("ObjectType",))
        if object_type != "Image":
            raise MetadataError(file, "ObjectType", f"expected 'Image', got {object_type!r}")
        ndims = _header_numbers(file, header, ("NDims",), 1, None)[0]
        if ndims != 3:
            raise unsupported(f"NDims = {ndims:g}")
        if _header_bool(file, header, ("CompressedData",), "False"):
            raise unsupported("CompressedData = True")
        if not _header_bool(file, header, ("BinaryData",), "True"):
            raise unsupported("BinaryData = False (ASCII data)")
        _, data_file = _header_value(file, header, ("ElementDataFile",))
        if data_file != "LOCAL":
            raise unsupported(f"ElementDataFile = {data_file!r}")
        header_size = _header_numbers(file, header, ("HeaderSize",), 1, "0")[0]
        if header_size not in (0.0, -1.0):
            raise unsupported(f"HeaderSize = {header_size:g}")
        channels = _header_numbers(file, header, ("ElementNumberOfChannels",), 1, "1")[0]
        if channels != 3:
            raise unsupported(f"ElementNumberOfChannels = {channels:g}")
        _, element_type = _header_value(file, header, ("ElementType",))
        if element_type not in _MHA_DTYPES:
            raise unsupported(f"ElementType = {element_type}")
        big_endian = _header_bool(
            file, header, ("BinaryDataByteOrderMSB", "ElementByteOrderMSB"), "False"
        )

        size_xyz = _header_numbers(file, header, ("DimSize",), 3, None)
        if any(n < 1 or n != int(n) for n in size_xyz):
            raise MetadataError(file, "DimSize", f"expected positive integers, got {size_xyz}")
        spacing_xyz = _header_numbers(file, header, ("ElementSpacing", "ElementSize"), 3, "1 1 1")
        origin_xyz = _header_numbers(file, header, ("Offset", "Origin", "Position"), 3, "0 0 0")
        direction_values = _header_numbers(
            file,
            header,
            ("TransformMatrix", "Rotation", "Orientation"),
            9,
            "1 0 0 0 1 0 0 0 1",
        )

        dtype = np.dtype(_MHA_DTYPES[element_type]).newbyteorder(">" if big_endian else "<")
        nx, ny, nz = (int(n) for n in size_xyz)
        count = nx * ny * nz * 3
        data = np.fromfile(stream, dtype=dtype, count=count)
        trailing = stream.read(1)
    if data.size != count or trailing:
        raise CorruptDataError(
            file,
            f"DimSize {nx} {ny} {nz} with 3 {element_type} components needs "
            f"{count * dtype.itemsize} bytes after the header, "
            + ("found fewer" if data.size != count else "found more"),
        )

    # MetaIO stores x fastest and the vector components innermost, i.e. C order (z, y, x, c).
    vectors = np.ascontiguousarray(data.reshape(nz, ny, nx, 3)[..., ::-1], dtype=np.float64)
    # Nobody else holds this array, so hand it over read-only instead of copying it again.
    vectors.setflags(write=False)
    # TransformMatrix is the direction matrix written column by column.
    direction_xyz = np.reshape(direction_values, (3, 3)).T
    try:
        return DisplacementField(
            vectors,
            origin=np.asarray(origin_xyz[::-1]),
            spacing=np.asarray(spacing_xyz[::-1]),
            direction=direction_xyz[::-1, ::-1],
        )
    except ValueError as exc:
        raise MetadataError(file, "header", f"invalid displacement field grid: {exc}") from exc
