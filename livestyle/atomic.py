"""Outputs that are never half-written: write to a temporary file in the destination's folder
and rename it over the destination only when complete (rename is atomic on one filesystem)."""
from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterator


def reserve_temp(path: str | os.PathLike, *, suffix: str | None = None) -> str:
    """Create an empty hidden temporary file beside `path` and return its name. mkstemp makes files
    0600; this one gets the mode a plain open() would give (0666 minus the umask)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix or f".partial{path.suffix}",
                               dir=path.parent if str(path.parent) else ".")
    os.close(fd)
    _normal_mode(tmp)
    return tmp


def writes_over(output: str, input_path: str) -> bool:
    """Whether writing `output` would replace `input_path`, or a file inside it when it is a folder (also
    through links)."""
    if not (os.path.exists(output) and os.path.exists(input_path)):
        return False
    if os.path.samefile(output, input_path):
        return True
    if os.path.isdir(input_path):
        inside = os.path.realpath(output)
        return inside.startswith(os.path.join(os.path.realpath(input_path), ""))
    return False


def commit(tmp: str | os.PathLike, path: str | os.PathLike, *, overwrite: bool) -> None:
    """Give the finished `tmp` its final name. Without `overwrite` the name must still be free at this
    moment, not only when the command started (two runs with one output): a hard link fails when the name
    exists, where a rename would replace it. On a filesystem without hard links, a last check and a rename."""
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        Path(tmp).unlink(missing_ok=True)
        raise ValueError(f"output {path} appeared while this ran (another run?); it was left as it is and "
                         "this result discarded; pass --overwrite to replace it") from None
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        if os.path.lexists(path):
            Path(tmp).unlink(missing_ok=True)
            raise ValueError(f"output {path} appeared while this ran (another run?); pass --overwrite") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def _normal_mode(path: str) -> None:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def check_output_path(path: str | os.PathLike, *, overwrite: bool = False,
                      input_path: str | os.PathLike | None = None) -> None:
    """The one check every output goes through before any work: never the input (also through a link),
    an existing file only with `overwrite` (never a folder), and a folder that exists and is writable."""
    path = str(path)
    if input_path is not None and writes_over(path, str(input_path)):
        raise ValueError(f"output {path} is the input file; livestyle never writes over its input")
    if os.path.isdir(path):
        raise ValueError(f"output {path} is a folder; expected a file name")
    if os.path.exists(path) and not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError(f"output {path} is a device, pipe or socket; expected a regular file name")
    if os.path.lexists(path) and not overwrite:  # lexists: a link to nowhere is a name in use too
        raise ValueError(f"output {path} exists; pass --overwrite to replace it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"output folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"output folder {folder} is not writable")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, overwrite: bool = False, suffix: str | None = None) -> Iterator[str]:
    """Yield a temporary path beside `path` (same extension, hidden name); on normal exit rename it
    to `path`, on any exception delete it. An existing `path` is only replaced with `overwrite`."""
    check_output_path(path, overwrite=overwrite)
    path = Path(path)
    tmp = reserve_temp(path, suffix=suffix)
    try:
        yield tmp
        _normal_mode(tmp)  # again: some writers (safetensors) re-create the file as 0600
        commit(tmp, path, overwrite=overwrite)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = True) -> None:
    with atomic_output(path, overwrite=overwrite) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
