"""Command line: one module per command, each turning its flags into configs and making one library
call; the only place that prints. Bad input -> `livestyle: error: ...` on stderr and exit code 2."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from . import addstyle, batch, bench, distill, evaluate, export, gatys, image, styles, train, video, webcam
from .common import EXIT_INTERRUPTED, EXIT_USAGE, Parser, check_no_input_written, err

COMMANDS = (styles, image, video, webcam, batch, addstyle, train, distill, evaluate, gatys, bench, export)
# what needs torch (the extra livestyle[torch]); styles, image, video and webcam run without it
TORCH_COMMANDS = ("add-style", "bench", "distill", "eval", "export", "gatys", "train")
TORCH_MODULES = ("torch", "torchvision", "onnx", "onnxscript")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="livestyle", description="Real-time multi-style video and webcam style transfer.")
    p.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; every failure the user can fix ends as one `livestyle: error:` line and exit 2,
    Ctrl-C (also during start-up) and SIGTERM as `interrupted` and exit 130, with no traceback."""
    if threading.current_thread() is threading.main_thread():
        # SIGTERM does what Ctrl-C does (whatever the current SIGINT handler is: training checkpoints first)
        signal.signal(signal.SIGTERM, _on_sigterm)
    args = None
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as e:
            return int(e.code or 0)
        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                            format="livestyle: %(levelname)s: %(message)s")
        quiet_native_logs(args.verbose)
        if not getattr(args, "func", None):
            parser.print_help()
            return EXIT_USAGE
        check_no_input_written(args)
        check_torch(args)
        return args.func(args)
    except KeyboardInterrupt:
        err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `livestyle styles | head -1`: whoever reads has all it wanted; not an error
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        except OSError:
            pass
        return 0
    except ModuleNotFoundError as e:  # an extra's module reached on a path check_torch does not know
        if (e.name or "").split(".")[0] not in TORCH_MODULES:
            raise
        err(f"`livestyle {args.command}` needs {e.name.split('.')[0]}, which this installation does not have: "
            "pip install 'livestyle[torch]'")
        return EXIT_USAGE
    except (ValueError, OSError, RuntimeError) as e:  # OSError: missing files, a full disk, permissions
        if args is not None and args.verbose:
            raise
        err(str(e).splitlines()[0] if str(e) else type(e).__name__)
        return EXIT_USAGE


def check_torch(args) -> None:
    """A command that needs torch, run without it: one line naming the extra, before any work."""
    from ..device import needs_torch

    if args.command in TORCH_COMMANDS:
        needs_torch(f"`livestyle {args.command}`")
    elif getattr(args, "method", None) == "gatys":
        needs_torch(f"`livestyle {args.command} --method gatys`")


def _on_sigterm(signum, frame) -> None:
    """SIGTERM does what Ctrl-C does: the current SIGINT handler when there is one (training checkpoints
    first), else KeyboardInterrupt; also when SIGINT is ignored (`nohup livestyle ... &`)."""
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:
        raise KeyboardInterrupt


def entry() -> None:
    """The `livestyle` command (and `python -m livestyle`): main(), then exit."""
    sys.exit(main())


def quiet_native_logs(verbose: bool) -> None:
    """FFmpeg's and OpenCV's own log lines would print before our one-line error; keep them for -v."""
    # torch.compile's C++ toolchain probe warns about CUDA_HOME on CPU-only machines: not our user's concern
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    if verbose:
        return
    # read when cv2 is first imported (PyAV's FFmpeg is quiet by default); -8 is FFmpeg's AV_LOG_QUIET
    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


if __name__ == "__main__":
    entry()
