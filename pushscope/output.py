"""The one writer of a report, to a file or standard output: ``write_output``, used by every command's ``-o``
and by the inspector's export.

A file is written to a temporary file beside it and renamed into place, so a failed write (full disk, Ctrl-C)
never leaves a truncated report, and never over one of the files being read (the capture, its key log). Text for
a terminal goes through ``visible_lines`` so no byte from a capture can drive the terminal.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from pushscope.safe_text import visible_lines


class OutputError(Exception):
    """The output could not be written; the message says why (a command exits with status 4)."""


def _refuse(path: str, message: str) -> OutputError:
    return OutputError(f"cannot write {path}: {message}")


def check_output_path(path: str, inputs: Iterable[str | None] = ()) -> Path:
    """The real path to write, or OutputError: a directory, a missing folder, or one of the inputs."""
    target = Path(os.path.realpath(path))
    for source in inputs:
        if source and os.path.exists(source) and os.path.realpath(source) == str(target):
            raise _refuse(path, "it is an input of this command (the capture or key log); choose another name")
    if target.is_dir():
        raise _refuse(path, "it is a directory; give a file name")
    if not target.parent.is_dir():
        raise _refuse(path, f"the folder {target.parent} does not exist")
    return target


def _write_in_place(target: Path, data: Iterable[bytes]) -> None:
    """A device or FIFO (``-o /dev/null``, ``-o /dev/stdout``): it cannot be renamed over, so write to it."""
    with open(target, "wb") as out:
        out.writelines(data)


def _write_atomically(target: Path, data: Iterable[bytes]) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.writelines(data)
            out.flush()
            os.fsync(out.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_file(path: str, data: str | bytes | Iterator[str], inputs: Iterable[str | None] = ()) -> None:
    target = check_output_path(path, inputs)
    if isinstance(data, Iterator):  # text written piece by piece as it is made (a large JSON report)
        raw: Iterable[bytes] = (piece.encode("utf-8") for piece in data)
    else:
        raw = (data.encode("utf-8") if isinstance(data, str) else data,)
    try:
        exists = os.stat(target).st_mode
    except FileNotFoundError:
        exists = None
    try:
        if exists is not None and not stat.S_ISREG(exists):
            _write_in_place(target, raw)
        else:
            _write_atomically(target, raw)
    except OSError as exc:
        raise _refuse(path, exc.strerror or str(exc)) from None


def write_stdout(data: str | bytes | Iterator[str]) -> None:
    if isinstance(data, Iterator):
        tty = sys.stdout.isatty()
        for piece in data:
            sys.stdout.write(visible_lines(piece) if tty else piece)
        sys.stdout.flush()
        return
    if isinstance(data, bytes):
        if sys.stdout.isatty():
            raise OutputError("refusing to write binary data (PNG) to a terminal: use -o FILE")
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    sys.stdout.write(visible_lines(data) if sys.stdout.isatty() else data)
    sys.stdout.flush()


def write_output(data: str | bytes | Iterator[str], path: str | None, *, inputs: Iterable[str | None] = ()) -> None:
    """Write ``data`` to ``path`` (atomically; never over one of ``inputs``) or, without a path, to stdout; text
    from an iterator is written as its pieces come."""
    if path and path != "-":
        write_file(path, data, inputs)
    else:
        try:
            write_stdout(data)
        except BrokenPipeError:  # `pushscope report ... | head`: the reader left, which is fine
            _silence_stdout()


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
