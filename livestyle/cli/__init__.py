"""Command line: one module per command, each turning its flags into configs and making one library
call; the only place that prints. Bad input -> `livestyle: error: ...` on stderr and exit code 2."""
from __future__ import annotations

import argparse
import logging
import sys

from . import bench, evaluate, export, gatys, image, styles, train, video, webcam
from .common import EXIT_INTERRUPTED, EXIT_USAGE, Parser, err

COMMANDS = (styles, image, video, webcam, train, evaluate, gatys, bench, export)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="livestyle", description="Real-time multi-style video and webcam style transfer.")
    p.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="livestyle: %(levelname)s: %(message)s")
    # torch.compile's C++ toolchain probe warns about CUDA_HOME on CPU-only machines: not our user's concern
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.func(args)
    except KeyboardInterrupt:
        err("interrupted")
        return EXIT_INTERRUPTED
    except (ValueError, FileNotFoundError, NotADirectoryError, PermissionError, RuntimeError) as e:
        if args.verbose:
            raise
        err(str(e).splitlines()[0] if str(e) else type(e).__name__)
        return EXIT_USAGE



if __name__ == "__main__":
    sys.exit(main())
