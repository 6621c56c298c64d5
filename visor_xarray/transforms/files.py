"""Reading and writing transform files: ITK ``.tfm``, ``.npy``, zarr and MetaImage ``.mha``.

Everything returned or accepted is in this package's ``(z, y, x)`` point order
(design.md §4). Affine files hold ``(z, y, x)`` parameters by default, as visor-py's
test code writes them; ``axis_order="xyz"`` reads or writes ITK's native order instead.
MetaImage headers are always in ITK's ``(x, y, z)`` order and are converted on reading.

Writes are atomic: a reader sees either the old file or the complete new one.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Final

import numpy as np
import zarr

from visor_xarray.errors import CorruptDataError, MetadataError, UnsupportedTransformError
from visor_xarray.transforms.model import Affine, DisplacementField, Transform
from visor_xarray.zarr_io.atomic_files import write_atomic

__all__ = [
    "READABLE",
    "WRITABLE",
    "read_mha_displacement",
    "read_npy",
    "read_tfm",
    "read_transform",
    "read_zarr_affine",
    "write_npy",
    "write_tfm",
    "write_transform",
    "write_zarr_affine",
]

AFFINE: Final = "affine"
DDF: Final = "dense displacement field"

READABLE: Final[frozenset[tuple[str, str]]] = frozenset(
    {(AFFINE, "tfm"), (AFFINE, "npy"), (AFFINE, "zarr"), (DDF, "mha")}
)
"""(type, format) combinations that :func:`read_transform` understands."""

WRITABLE: Final[frozenset[tuple[str, str]]] = frozenset(
    {(AFFINE, "tfm"), (AFFINE, "npy"), (AFFINE, "zarr")}
)
"""(type, format) combinations that :func:`write_transform` can produce."""

_AXIS_ORDERS: Final = ("zyx", "xyz")
_TFM_MAGIC: Final = "#Insight Transform File"
_TFM_TYPE: Final = re.compile(r"(AffineTransform|MatrixOffsetTransformBase)_(double|float)_3_3")
# Decimal numbers only: Python's float() would also take "1_000", "nan" and "infinity".
_NUMBER: Final = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")

_MHA_MAX_HEADER_LINES: Final = 256
_MHA_MAX_LINE: Final = 1 << 16
_MHA_DTYPES: Final = {"MET_FLOAT": "f4", "MET_DOUBLE": "f8"}


# ---------------------------------------------------------------------- helpers


def _check_axis_order(axis_order: str) -> None:
    if axis_order not in _AXIS_ORDERS:
        raise ValueError(f"axis_order must be 'zyx' or 'xyz', got {axis_order!r}")


def _reorder(affine: Affine, axis_order: str) -> Affine:
    """Convert between (z, y, x) and (x, y, z) parameters (reversal is its own inverse)."""
    _check_axis_order(axis_order)
    if axis_order == "zyx":
        return affine
    return Affine(
        affine.matrix[::-1, ::-1],
        affine.translation[::-1],
        affine.center[::-1],
    )


def _format_number(value: float) -> str:
    # repr() is the shortest text that parses back to the identical double.
    return repr(float(value))


def _stored_affine(affine: Affine, axis_order: str, writer: str) -> Affine:
    """The affine ``writer`` stores: checked to be an :class:`Affine`, in ``axis_order``."""
    if not isinstance(affine, Affine):
        raise TypeError(f"{writer} needs an Affine, got {type(affine)!r}")
    return _reorder(affine, axis_order)


def _affine_or_error(
    path: Path, field: str, build: Callable[[], Affine], what: str = "transform"
) -> Affine:
    try:
        return build()
    except ValueError as exc:
        raise MetadataError(path, field, f"invalid {what}: {exc}") from exc


# ---------------------------------------------------------------------- ITK .tfm


def _parse_numbers(path: Path, field: str, text: str, count: int) -> list[float]:
    tokens = text.split()
    if len(tokens) != count:
        raise MetadataError(path, field, f"expected {count} numbers, got {len(tokens)}: {text!r}")
    bad = [token for token in tokens if not _NUMBER.fullmatch(token)]
    if bad:
        raise MetadataError(path, field, f"not a finite decimal number: {bad[0]!r}")
    numbers = [float(token) for token in tokens]
    if not all(math.isfinite(number) for number in numbers):
        raise MetadataError(path, field, f"numbers out of the float64 range: {text!r}")
    return numbers


def read_tfm(path: str | os.PathLike[str], axis_order: str = "zyx") -> Affine:
    """Read a single 3-D affine from an ITK text transform file (``.tfm``).

    Accepted transform types are ``AffineTransform`` and ``MatrixOffsetTransformBase``,
    ``double`` or ``float``, 3x3. ``Parameters`` holds the matrix row-major then the
    translation, ``FixedParameters`` the centre, which is kept.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.tfm`` file.
    axis_order : {"zyx", "xyz"}, optional
        Coordinate order of the file's parameters. ``"zyx"`` (default) is the VISoR
        convention; ``"xyz"`` is ITK's native order and is permuted into ``(z, y, x)``.

    Returns
    -------
    Affine
        The transform in ``(z, y, x)`` order.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    MetadataError
        If the file is malformed: no ITK header, a missing or repeated line, a wrong
        number of parameters, or text that is not a number. ``field`` names the line.
    UnsupportedTransformError
        If the file holds another transform type (e.g. ``BSplineTransform``) or more
        than one transform (a composite).
    ValueError
        If ``axis_order`` is neither ``"zyx"`` nor ``"xyz"``.
    """
    _check_axis_order(axis_order)
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise MetadataError(file, "", f"not an ITK text transform file: {exc}") from exc
    numbered = [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1)]
    numbered = [(n, line) for n, line in numbered if line]
    if not numbered or not numbered[0][1].startswith(_TFM_MAGIC):
        raise MetadataError(
            file, "header", f"not an ITK text transform file: first line must be {_TFM_MAGIC!r}"
        )

    types: list[str] = []
    values: dict[str, list[str]] = {"Parameters": [], "FixedParameters": []}
    for number, line in numbered[1:]:
        if line.startswith("#"):
            continue
        key, colon, value = line.partition(":")
        key = key.strip()
        if not colon:
            raise MetadataError(file, f"line {number}", f"expected 'Key: value', got {line!r}")
        if key == "Transform":
            types.append(value.strip())
        elif key in values:
            values[key].append(value)
    # The transform type decides first: a composite legitimately repeats Parameters.
    if not types:
        raise MetadataError(file, "Transform", "missing: the file names no transform type")
    if len(types) > 1 or types[0].startswith("CompositeTransform"):
        raise UnsupportedTransformError(
            f"{file}: holds a composite of {len(types)} transforms ({', '.join(types)}); "
            "only a single AffineTransform_double_3_3 is supported"
        )
    if not _TFM_TYPE.fullmatch(types[0]):
        raise UnsupportedTransformError(
            f"{file}: transform type {types[0]!r} is not supported; supported: "
            "AffineTransform_{double,float}_3_3 and MatrixOffsetTransformBase_{double,float}_3_3"
        )
    for key, found in values.items():
        if not found:
            raise MetadataError(file, key, f"missing: an affine needs a {key} line")
        if len(found) > 1:
            raise MetadataError(file, key, "appears more than once")

    parameters = _parse_numbers(file, "Parameters", values["Parameters"][0], 12)
    center = _parse_numbers(file, "FixedParameters", values["FixedParameters"][0], 3)
    affine = _affine_or_error(
        file,
        "Parameters",
        lambda: Affine(
            np.reshape(parameters[:9], (3, 3)), np.asarray(parameters[9:]), np.asarray(center)
        ),
    )
    return _reorder(affine, axis_order)


def write_tfm(path: str | os.PathLike[str], affine: Affine, axis_order: str = "zyx") -> None:
    """Write an affine as an ITK text transform file (``AffineTransform_double_3_3``).

    Numbers are written with full float64 precision and the centre goes into
    ``FixedParameters``, so :func:`read_tfm` returns an equal :class:`Affine`.

    Parameters
    ----------
    path : str or os.PathLike
        Target file; parent directories are created. Replaced atomically.
    affine : Affine
        The transform, ``(z, y, x)`` order.
    axis_order : {"zyx", "xyz"}, optional
        Coordinate order of the written parameters (see :func:`read_tfm`).

    Raises
    ------
    TypeError
        If ``affine`` is not an :class:`Affine`.
    ValueError
        If ``axis_order`` is neither ``"zyx"`` nor ``"xyz"``.
    """
    stored = _stored_affine(affine, axis_order, "write_tfm")
    parameters = [*stored.matrix.ravel(), *stored.translation]
    text = (
        "#Insight Transform File V1.0\n"
        "#Transform 0\n"
        "Transform: AffineTransform_double_3_3\n"
        f"Parameters: {' '.join(_format_number(v) for v in parameters)}\n"
        f"FixedParameters: {' '.join(_format_number(v) for v in stored.center)}\n"
    )
    write_atomic(Path(path), lambda stream: stream.write(text.encode("ascii")))


# ---------------------------------------------------------------------- .npy


def _homogeneous_from_array(path: Path, data: Any, field: str, axis_order: str) -> Affine:
    array = np.asarray(data)
    if array.shape != (4, 4):
        raise MetadataError(path, field, f"expected a 4x4 matrix, got shape {array.shape}")
    if array.dtype.kind not in "iuf":
        raise MetadataError(path, field, f"expected real numbers, got dtype {array.dtype}")
    affine = _affine_or_error(
        path, field, lambda: Affine.from_homogeneous(array), "homogeneous matrix"
    )
    return _reorder(affine, axis_order)


def read_npy(path: str | os.PathLike[str], axis_order: str = "zyx") -> Affine:
    """Read a 4x4 homogeneous affine matrix from a ``.npy`` file.

    The matrix acts on column vectors ``(z, y, x, 1)``; a centre is folded into its last
    column, so the result has zero centre but describes the same map.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npy`` file.
    axis_order : {"zyx", "xyz"}, optional
        Coordinate order of the stored matrix.

    Returns
    -------
    Affine
        The transform in ``(z, y, x)`` order.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    MetadataError
        If the file is not a valid ``.npy``, is not a real 4x4 matrix, is not finite or
        its last row is not ``[0, 0, 0, 1]``.
    ValueError
        If ``axis_order`` is neither ``"zyx"`` nor ``"xyz"``.
    """
    _check_axis_order(axis_order)
    file = Path(path)
    try:
        data = np.load(file, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (ValueError, OSError, EOFError) as exc:
        raise MetadataError(file, "", f"not a readable .npy array: {exc}") from exc
    return _homogeneous_from_array(file, data, "matrix", axis_order)


def write_npy(path: str | os.PathLike[str], affine: Affine, axis_order: str = "zyx") -> None:
    """Write an affine as a 4x4 float64 homogeneous matrix to a ``.npy`` file.

    Parameters
    ----------
    path : str or os.PathLike
        Target file; parent directories are created. Replaced atomically.
    affine : Affine
        The transform, ``(z, y, x)`` order. Its centre is folded into the translation.
    axis_order : {"zyx", "xyz"}, optional
        Coordinate order of the stored matrix.

    Raises
    ------
    TypeError
        If ``affine`` is not an :class:`Affine`.
    ValueError
        If ``axis_order`` is neither ``"zyx"`` nor ``"xyz"``.
    """
    matrix = _stored_affine(affine, axis_order, "write_npy").homogeneous
    write_atomic(Path(path), lambda stream: np.save(stream, matrix, allow_pickle=False))


# ---------------------------------------------------------------------- zarr


def read_zarr_affine(path: str | os.PathLike[str], axis_order: str = "zyx") -> Affine:
    """Read an affine from a zarr array holding its 4x4 homogeneous matrix.

    When the array attributes carry ``matrix``, ``translation`` and ``center`` (as
    :func:`write_zarr_affine` stores them), the affine is rebuilt from them so that the
    centre survives; they must describe the same map as the array data. An
    ``axis_order`` attribute, if present, overrides the argument.

    Parameters
    ----------
    path : str or os.PathLike
        The array directory, e.g. ``affine.zarr``.
    axis_order : {"zyx", "xyz"}, optional
        Coordinate order of the stored matrix when the attributes do not say.

    Returns
    -------
    Affine
        The transform in ``(z, y, x)`` order.

    Raises
    ------
    FileNotFoundError
        If the path does not exist.
    MetadataError
        If it is not a readable zarr array, not a real 4x4 matrix, or its attributes are
        malformed or disagree with the matrix.
    ValueError
        If ``axis_order`` is neither ``"zyx"`` nor ``"xyz"``.
    """
    _check_axis_order(axis_order)
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"{file}: no such zarr array")
    try:
        array = zarr.open_array(str(file), mode="r")
        data = np.asarray(array[...])
        attributes = dict(array.attrs)
    except Exception as exc:
        raise MetadataError(file, "", f"not a readable zarr array: {exc}") from exc

    stored_order = attributes.get("axis_order", axis_order)
    if stored_order not in _AXIS_ORDERS:
        raise MetadataError(
            file, "attributes.axis_order", f"must be 'zyx' or 'xyz', got {stored_order!r}"
        )
    from_data = _homogeneous_from_array(file, data, "data", stored_order)
    parts = ("matrix", "translation", "center")
    present = [key for key in parts if key in attributes]
    if not present:
        return from_data
    if len(present) != len(parts):
        missing = sorted(set(parts) - set(present))
        raise MetadataError(file, f"attributes.{missing[0]}", "missing (the others are present)")
    from_attributes = _reorder(
        _affine_or_error(
            file,
            "attributes",
            lambda: Affine(
                np.asarray(attributes["matrix"], dtype=np.float64),
                np.asarray(attributes["translation"], dtype=np.float64),
                np.asarray(attributes["center"], dtype=np.float64),
            ),
        ),
        stored_order,
    )
    if not from_attributes.allclose(from_data, atol=1e-9, rtol=1e-12):
        raise MetadataError(
            file,
            "attributes",
            "matrix/translation/center describe a different map than the array data",
        )
    return from_attributes


def write_zarr_affine(
    path: str | os.PathLike[str], affine: Affine, axis_order: str = "zyx"
) -> None:
    """Write an affine as a zarr v3 array of its 4x4 homogeneous matrix.

    The attributes ``matrix``, ``translation``, ``center`` and ``axis_order`` record the
    ITK parts, so the centre is not lost. The array is written to a temporary sibling
    directory and renamed into place; an existing array at ``path`` is replaced (POSIX
    cannot rename over a non-empty directory, so there is a brief moment with neither).

    Parameters
    ----------
    path : str or os.PathLike
        Target directory, e.g. ``affine.zarr``; parent directories are created.
    affine : Affine
        The transform, ``(z, y, x)`` order.
    axis_order : {"zyx", "xyz"}, optional
        Coordinate order of the stored matrix and attributes.

    Raises
    ------
    TypeError
        If ``affine`` is not an :class:`Affine`.
    ValueError
        If ``axis_order`` is neither ``"zyx"`` nor ``"xyz"``.
    """
    stored = _stored_affine(affine, axis_order, "write_zarr_affine")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    attributes = {
        "matrix": stored.matrix.tolist(),
        "translation": stored.translation.tolist(),
        "center": stored.center.tolist(),
        "axis_order": axis_order,
    }
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        array = zarr.create_array(
            str(staging),
            shape=(4, 4),
            chunks=(4, 4),
            dtype="float64",
            compressors=None,
            fill_value=0.0,
            attributes=attributes,
            zarr_format=3,
            overwrite=True,
        )
        array[...] = stored.homogeneous
        if target.exists():
            retired = Path(
                tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
            )
            target.replace(retired / target.name)
            staging.replace(target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.replace(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# ---------------------------------------------------------------------- MetaImage .mha


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
    return _parse_numbers(file, key, value, count)


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


# ---------------------------------------------------------------------- dispatch


def _supported(combinations: frozenset[tuple[str, str]]) -> str:
    return ", ".join(f"{kind!r}+{fmt!r}" for kind, fmt in sorted(combinations))


def read_transform(
    path: str | os.PathLike[str], kind: str, fmt: str, axis_order: str = "zyx"
) -> Transform:
    """Read a transform file of the given type and format.

    Parameters
    ----------
    path : str or os.PathLike
        The file (or, for zarr, the array directory).
    kind : str
        Transform type as in ``transforms.json``: ``"affine"`` or
        ``"dense displacement field"``.
    fmt : str
        Storage format as in ``transforms.json``: ``"tfm"``, ``"npy"``, ``"zarr"`` or
        ``"mha"``.
    axis_order : {"zyx", "xyz"}, optional
        Coordinate order of an affine file's parameters. MetaImage headers always use
        ITK's ``(x, y, z)`` order and are always converted, so it does not apply to
        ``"mha"``.

    Returns
    -------
    Affine or DisplacementField
        The transform, in ``(z, y, x)`` order.

    Raises
    ------
    UnsupportedTransformError
        If the (type, format) combination is not readable (the message lists those
        that are), or the file holds an unsupported transform.
    MetadataError
        If the file is malformed.
    FileNotFoundError
        If the file does not exist.
    ValueError
        If ``axis_order`` is neither ``"zyx"`` nor ``"xyz"``.
    """
    _check_axis_order(axis_order)
    if (kind, fmt) == (AFFINE, "tfm"):
        return read_tfm(path, axis_order)
    if (kind, fmt) == (AFFINE, "npy"):
        return read_npy(path, axis_order)
    if (kind, fmt) == (AFFINE, "zarr"):
        return read_zarr_affine(path, axis_order)
    if (kind, fmt) == (DDF, "mha"):
        return read_mha_displacement(path)
    raise UnsupportedTransformError(
        f"{Path(path)}: reading transform type {kind!r} in format {fmt!r} is not supported; "
        f"supported: {_supported(READABLE)}"
    )


def write_transform(
    path: str | os.PathLike[str],
    transform: Transform,
    kind: str,
    fmt: str,
    axis_order: str = "zyx",
) -> None:
    """Write a transform file of the given type and format.

    Parameters
    ----------
    path : str or os.PathLike
        Target file (or, for zarr, array directory); replaced atomically.
    transform : Affine or DisplacementField
        The transform, ``(z, y, x)`` order.
    kind : str
        Transform type: only ``"affine"`` is writable.
    fmt : str
        Storage format: ``"tfm"``, ``"npy"`` or ``"zarr"``.
    axis_order : {"zyx", "xyz"}, optional
        Coordinate order of the written parameters.

    Raises
    ------
    UnsupportedTransformError
        If the (type, format) combination is not writable (displacement fields are read
        only); the message lists the writable ones.
    TypeError
        If ``transform`` does not match ``kind``.
    ValueError
        If ``axis_order`` is neither ``"zyx"`` nor ``"xyz"``.
    """
    _check_axis_order(axis_order)
    if (kind, fmt) not in WRITABLE:
        raise UnsupportedTransformError(
            f"{Path(path)}: writing transform type {kind!r} in format {fmt!r} is not "
            f"supported; supported: {_supported(WRITABLE)}"
        )
    if not isinstance(transform, Affine):
        raise TypeError(f"transform type {kind!r} needs an Affine, got {type(transform)!r}")
    writers: dict[str, Callable[[str | os.PathLike[str], Affine, str], None]] = {
        "tfm": write_tfm,
        "npy": write_npy,
        "zarr": write_zarr_affine,
    }
    writers[fmt](path, transform, axis_order)
