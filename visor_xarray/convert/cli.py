"""``visor-xarray copy SRC DST``: the command line of :func:`~visor_xarray.copy_sample`.

Mistakes in what was typed (a destination that exists, an unknown image or level, a
malformed shape or compression, a source that is not a sample) are answered with one
line on stderr and exit status 2, before anything is written; problems found in the
sample itself go up to the program's handler (exit status 1).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from visor_xarray.errors import (
    InvalidArrayError,
    NotAVsrError,
    TargetExistsError,
    UnknownImageError,
)

__all__ = ["add_copy_command"]

_USAGE_ERRORS = (NotAVsrError, TargetExistsError, UnknownImageError, InvalidArrayError)
_BLOSC = ("zstd", "lz4", "lz4hc", "blosclz", "zlib")


def _shape(text: str | None, option: str) -> Any:
    """``"64,256,256"`` (the last dims) or ``"z=64,y=256"`` (by dim name)."""
    if text is None:
        return None
    parts = [part.strip() for part in text.split(",") if part.strip()]
    try:
        if parts and all("=" in part for part in parts):
            return {key.strip(): int(value) for key, value in (p.split("=", 1) for p in parts)}
        return [int(part) for part in parts]
    except ValueError:
        raise ValueError(
            f"{option} {text!r}: give sizes of the last dims (64,256,256) or dim=size pairs "
            "(z=64,y=256)"
        ) from None


def _compression(text: str | None) -> Any:
    """``CNAME:LEVEL`` (blosc with byte shuffle), or ``none``."""
    if text is None:
        return None
    if text.lower() == "none":
        return []
    from visor_xarray.zarr_io.codecs import blosc_codec

    cname, _, level = text.partition(":")
    if cname not in _BLOSC or not level.isdigit() or not 0 <= int(level) <= 9:
        raise ValueError(
            f"--compression {text!r}: give CNAME:LEVEL with CNAME one of {', '.join(_BLOSC)} "
            "and LEVEL 0-9 (e.g. zstd:3), or none"
        )
    return blosc_codec(cname, int(level))


def _run(args: argparse.Namespace) -> int:
    from visor_xarray.convert.copy import copy_sample

    try:
        if args.levels is not None and args.levels < 1:
            raise ValueError(f"--levels {args.levels}: copy at least one level")
        shard_shape = _shape(args.shard_shape, "--shard-shape")
        chunk_shape = _shape(args.chunk_shape, "--chunk-shape")
        compressors = _compression(args.compression)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        report = copy_sample(
            args.src,
            args.dst,
            images=args.image,
            levels=args.levels if args.levels is not None else args.level,
            shard_shape=shard_shape,
            chunk_shape=chunk_shape,
            compressors=compressors,
            overwrite=args.overwrite,
            progress=not args.quiet,
        )
    except _USAGE_ERRORS as error:  # other errors concern the sample: the program's handler
        message = str(error).replace("overwrite=True", "--overwrite")
        print(f"error: {message}", file=sys.stderr)
        return 2
    print(report)
    return 0


def add_copy_command(commands: Any) -> None:
    """Add the ``copy`` subcommand to the program's subparsers.

    Parameters
    ----------
    commands : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers`` returned.
    """
    summary = (
        "copy a sample (or some images and levels), re-encoding where asked; converts the "
        "legacy layout of visor-py 2024.12.x to the current one"
    )
    copy = commands.add_parser("copy", help=summary, description=summary)
    copy.add_argument("src", help="the source .vsr directory (either layout)")
    copy.add_argument("dst", help="the new .vsr directory")
    copy.add_argument(
        "--image",
        action="append",
        help="TYPE/NAME (or a NAME only one type has) to copy; repeat for more (default: all)",
    )
    levels = copy.add_mutually_exclusive_group()
    levels.add_argument("--levels", type=int, help="copy the N finest levels of each image")
    levels.add_argument(
        "--level", action="append", help="copy this level path (repeat for more; default: all)"
    )
    copy.add_argument("--shard-shape", help="re-encode: shard sizes, 64,256,256 or z=64,y=256")
    copy.add_argument("--chunk-shape", help="re-encode: inner chunk sizes, as --shard-shape")
    copy.add_argument("--compression", help="re-encode: blosc CNAME:LEVEL (e.g. zstd:3), or none")
    copy.add_argument("--overwrite", action="store_true", help="replace DST if it exists")
    copy.add_argument("--quiet", action="store_true", help="no progress bar")
    copy.set_defaults(run=_run)
