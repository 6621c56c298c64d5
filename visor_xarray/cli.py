"""The ``visor-xarray`` command (also ``python -m visor_xarray``).

Every subcommand has ``--help``. Exit status: 0 success, 1 a problem with the sample (the
message names the file and field), 2 bad usage (an unknown image, level, label, version
or space, or a value out of range: one line naming the valid choices), 130 interrupted
(Ctrl-C). No error prints a traceback. ``copy`` lives in :mod:`visor_xarray.convert.cli`.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from visor_xarray._cli_args import (
    USAGE_ERRORS,
    Parser,
    check_name,
    choose_dim,
    choose_image,
    choose_label,
    positive,
)
from visor_xarray.api import info, list_image, list_transform
from visor_xarray.convert.cli import add_copy_command
from visor_xarray.coords import level_spacing
from visor_xarray.demo import run_demo
from visor_xarray.errors import VisorError
from visor_xarray.progress import progress_bar
from visor_xarray.store import VsrStore
from visor_xarray.validate import validate
from visor_xarray.write import add_levels

__all__ = ["main"]


def _table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cmd_info(args: argparse.Namespace) -> int:
    print(info(args.path))
    store = VsrStore(args.path)
    rows = []
    for record in list_image(args.path):
        attrs = store.image_attrs(record.type, record.name)
        stacks = [s.label for s in attrs.visor.stacks_by_index()] if attrs.visor else []
        for level in record.levels:
            array = store.level_array(record.type, record.name, level, attrs=attrs)
            spacing = level_spacing(attrs.multiscale, level)
            spatial = [
                (dim, size * step)
                for dim, size, step in zip(
                    attrs.multiscale.dims, array.shape, spacing, strict=True
                )
                if dim not in ("vs", "ch")
            ]
            size = " x ".join(f"{extent:.1f}" for _, extent in spatial) + " µm"
            rows.append(
                (
                    f"{record.type}/{record.name}",
                    level,
                    "x".join(map(str, array.shape)),
                    np.dtype(array.dtype).name,
                    size,
                    ",".join(stacks) or "-",
                    ",".join(record.channels),
                    "" if record.selected is None else ("yes" if record.selected else "no"),
                )
            )
    print()
    header = ("image", "level", "shape", "dtype", "physical size (zyx)", "stacks", "channels")
    print(_table(rows, (*header, "selected")))
    return 0


def _cmd_ls(args: argparse.Namespace) -> int:
    images = list_image(args.path, type=args.type, channel=args.channel)
    unfiltered = args.type is None and args.channel is None
    # listed before printing, so that an unknown version is refused with nothing printed
    transforms = list_transform(args.path, version=args.version) if unfiltered else []
    for record in [*images, *transforms]:
        print(record)
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    problems = validate(args.path, deep=args.deep)
    for problem in problems:
        print(problem)
    errors = [p for p in problems if p.severity == "error"]
    print(f"{len(errors)} error(s), {len(problems) - len(errors)} warning(s)")
    return 1 if errors else 0


def _cmd_pyramid(args: argparse.Namespace) -> int:
    kind, name = choose_image(args.path, args.image)
    with progress_bar(not args.quiet):
        report = add_levels(
            args.path, image_type=kind, name=name, levels=args.levels, method=args.method
        )
    if not report.levels:
        print(f"{kind}/{name} already has {args.levels} or more levels; nothing to do")
    else:
        print(report)
    return 0


def _open_image(path: str, image: str | None, level: str) -> Any:
    kind, name = choose_image(path, image)
    return xr.open_dataset(
        path, engine="visor", image_type=kind, name=name, resolution=level, chunks={}
    )["image"]


def _cmd_view(args: argparse.Namespace) -> int:
    image = _open_image(args.path, args.image, args.level)
    channel = choose_label(image, "ch", args.channel, "--channel")
    stack = choose_label(image, "vs", args.stack, "--stack")
    selection: dict[str, Any] = {}
    if "ch" in image.dims:
        selection["ch"] = channel or str(image["ch"].values[0])
    if "vs" in image.dims:
        selection["vs"] = stack or str(image["vs"].values[0])
    picture = image.sel(selection)
    dim = choose_dim(picture, args.dim, "--dim")
    out = Path(
        args.out or f"{Path(args.path).stem}_{picture.attrs.get('image_name', 'image')}.png"
    )
    with progress_bar(not args.quiet):
        written = picture.visor.to_png(out, dim=dim)
    print(
        f"wrote {written} ({', '.join(f'{k}={v}' for k, v in selection.items())}, MIP along {dim})"
    )
    return 0


def _cmd_resample(args: argparse.Namespace) -> int:
    image = _open_image(args.path, args.image, "0")
    check_name(args.type, "image type", "--type", args.out)
    selection: dict[str, Any] = {}
    stack = choose_label(image, "vs", args.stack, "--stack")
    channel = choose_label(image, "ch", args.channel, "--channel")
    if stack is not None:
        selection["vs"] = [stack]
    if channel is not None:
        selection["ch"] = [channel]
    source = image.sel(selection)
    name = args.name or f"{source.attrs['image_name']}_{args.to}_{args.version}"
    check_name(name, "image name", "--name", args.out)
    result = source.visor.resample(to_space=args.to, version=args.version, spacing=args.spacing)
    with progress_bar(not args.quiet):
        report = result.astype(source.dtype).visor.to_vsr(
            args.out,
            image_type=args.type,
            name=name,
            mode="w" if args.overwrite else "w-",
            levels=args.levels,
            attrs={"transform_version": args.version},
        )
    print(report)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    return run_demo(Path(args.out), quiet=args.quiet)


def _parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="visor-xarray",
        description="Inspect, validate and process VISoR .vsr light-sheet samples.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=summary, description=summary)
        return sub

    info = command(
        "info",
        "summarise a sample: images, levels, shapes, dtypes, physical size, channels, transforms",
    )
    info.add_argument("path", help="the .vsr directory")
    info.set_defaults(run=_cmd_info)

    ls = command("ls", "list images and transforms (filters as visor-py's list_image)")
    ls.add_argument("path", help="the .vsr directory")
    ls.add_argument("--type", help="only images of this type (raw, recon, ...)")
    ls.add_argument("--channel", help="only images holding this channel (e.g. 488)")
    ls.add_argument("--version", help="only transforms of this version")
    ls.set_defaults(run=_cmd_ls)

    validate = command("validate", "check every document and array; exit status 1 if any error")
    validate.add_argument("path", help="the .vsr directory")
    validate.add_argument(
        "--deep", action="store_true", help="also read every shard (finds corrupt files)"
    )
    validate.set_defaults(run=_cmd_validate)

    pyramid = command("pyramid", "add coarser resolution levels to an image (block mean)")
    pyramid.add_argument("path", help="the .vsr directory")
    pyramid.add_argument(
        "--image", required=True, help="TYPE/NAME, e.g. raw/slice_1_10x (NAME optional if unique)"
    )
    pyramid.add_argument(
        "--levels",
        type=positive(int, "whole number"),
        required=True,
        help="total number of levels wanted (level 0 included)",
    )
    pyramid.add_argument("--method", default="mean", choices=("mean", "max", "min"))
    pyramid.add_argument("--quiet", action="store_true", help="no progress bar")
    pyramid.set_defaults(run=_cmd_pyramid)

    view = command(
        "view", "write a PNG quick look (maximum-intensity projection) of one stack and channel"
    )
    view.add_argument("path", help="the .vsr directory")
    view.add_argument("--image", help="TYPE/NAME, or TYPE (default: the only raw image)")
    view.add_argument("--channel", help="channel label, e.g. 488 (default: the first)")
    view.add_argument("--stack", help="stack label, e.g. stack_1 (default: the first)")
    view.add_argument("--level", default="0", help="resolution level (default 0)")
    view.add_argument("--dim", default="z", help="projection dim (default z)")
    view.add_argument("--out", help="PNG path (default: SAMPLE_IMAGE.png)")
    view.add_argument("--quiet", action="store_true", help="no progress bar")
    view.set_defaults(run=_cmd_view)

    resample = command(
        "resample", "resample an image into another space (e.g. raw -> ortho) and write it"
    )
    resample.add_argument("path", help="the .vsr directory")
    resample.add_argument("--image", help="TYPE/NAME, or TYPE (default: the only raw image)")
    resample.add_argument("--to", required=True, help="target space (ortho, slice, brain, ...)")
    resample.add_argument("--version", required=True, help="transform version")
    resample.add_argument("--out", required=True, help="output .vsr (created if missing)")
    resample.add_argument("--stack", help="only this stack label")
    resample.add_argument("--channel", help="only this channel label")
    resample.add_argument(
        "--spacing",
        type=positive(float, "voxel size in µm"),
        help="output voxel size in µm (default: finest input)",
    )
    resample.add_argument(
        "--levels",
        type=positive(int, "whole number"),
        default=1,
        help="pyramid levels to write (default 1)",
    )
    resample.add_argument("--type", default="recon", help="output image type (default recon)")
    resample.add_argument("--name", help="output image name (default NAME_TO_VERSION)")
    resample.add_argument(
        "--overwrite", action="store_true", help="replace an existing output image"
    )
    resample.add_argument("--quiet", action="store_true", help="no progress bar")
    resample.set_defaults(run=_cmd_resample)

    add_copy_command(commands)

    demo = command("demo", "write a small synthetic sample, open it, resample a stack, write PNGs")
    demo.add_argument(
        "out", nargs="?", default="demo.vsr", help="where to write (default demo.vsr)"
    )
    demo.add_argument("--quiet", action="store_true", help="less output")
    demo.set_defaults(run=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 for a problem with the sample (the message names the file and
        field), 2 for bad usage (the message names the valid choices), 130 when
        interrupted (Ctrl-C).

    Notes
    -----
    When run as the program (``argv`` is None), a Ctrl-C that arrives after the command
    has finished is ignored, and one after an interruption ends the process at once
    (exit status 130 as the shell reports it, no traceback).
    """
    args = _parser().parse_args(argv)
    program = argv is None  # run as the program, not called from Python
    try:
        status = int(args.run(args))
        if program:
            _settle_ctrl_c(interrupted=False)
    except VisorError as error:
        if program:
            _settle_ctrl_c(interrupted=False)
        print(f"error: {error}", file=sys.stderr)
        status = 2 if isinstance(error, USAGE_ERRORS) else 1
    except KeyboardInterrupt:
        # settled first, so a second Ctrl-C while the message is printed ends the process
        # instead of raising from inside this handler
        if program:
            _settle_ctrl_c(interrupted=True)
        print(
            "interrupted: finished shards and JSON documents are intact; an image being "
            "written is marked incomplete (see `visor-xarray validate`); rerun to repair it",
            file=sys.stderr,
        )
        status = 130
    return status


def _settle_ctrl_c(*, interrupted: bool) -> None:
    """Decide what a Ctrl-C does while the interpreter shuts down, once the command is over.

    Shutting down joins dask's worker threads and runs atexit hooks; a KeyboardInterrupt
    there escapes ``main`` and prints a traceback (or kills the process with SIGINT,
    whatever the command achieved). A finished command ignores it, so its exit status
    stands. An interrupted one lets a second Ctrl-C end the process at once instead of
    waiting for worker threads to finish their current task (their shard commits are
    refused anyway): every write survives being killed at any moment.
    """
    # Only when Python's own handler is installed: SIGINT ignored by the parent (nohup,
    # background jobs) or handled by an embedding application stays as it is.
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return
    with contextlib.suppress(ValueError):  # not the main thread: signals are not ours
        signal.signal(signal.SIGINT, signal.SIG_DFL if interrupted else signal.SIG_IGN)
