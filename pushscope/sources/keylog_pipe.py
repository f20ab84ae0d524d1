"""tshark's copy of a big key log: the lines it decrypts with, written to it through a named pipe.

tshark parses every line of its key log before it decrypts its first record (tshark 4.0: about 24 ms a MB, so a
64 MB key log holds a gigabyte capture's first rows back by 1.5 s). Exporter secrets, a fifth of a TLS 1.3 key
log, never decrypt anything: tshark's copy leaves them out. Through a pipe the copy makes tshark wait for nothing:
tshark starts at once and, when it first needs a secret, opens the pipe and reads the lines as they are written,
to their end (a file written beside it could be read half-written; a pipe is read whole, blocking until it is).
The secrets go from pushscope to tshark through the kernel's pipe, never onto a disk.

Linux only (where a pipe's buffer can be made big enough for tshark to read it as fast as a file); elsewhere, and
for a key log tshark reads as fast as the copy could be made, tshark reads the key log itself.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time

from pushscope.sources.keylog import KeyLogText

LEAN_ABOVE = 1 << 20  # a smaller key log is handed to tshark as it is (its exporter lines cost tshark under 5 ms)
PIPE_SIZE = 1 << 20  # the pipe's buffer: tshark then reads it about as fast as a file (a 64 KB one costs 0.2 s)
PIPE_NAME = "keylog.pipe"
RELEASE_WAIT = 5.0  # seconds ``release`` waits for the writer to end
# A line that holds an exporter secret, with the newline before it (every chunk's text starts with one).
_EXPORTER_LINE = re.compile(rb"\n(?:EARLY_)?EXPORTER_SECRET [^\n]*")


def lean_keylog_text(lines: list[bytes]) -> bytes:
    """``lines`` (without their newlines) as tshark's copy holds them: every line but the exporter secrets', each
    after a newline."""
    return _EXPORTER_LINE.sub(b"", b"\n" + b"\n".join(lines))


def worth_a_pipe(keylog: str) -> bool:
    """Whether tshark gets this key log through a ``KeylogPipe``: a big plain file, on Linux."""
    if sys.platform != "linux" or keylog.endswith(".gz"):
        return False
    try:
        return os.path.isfile(keylog) and os.path.getsize(keylog) > LEAN_ABOVE
    except OSError:
        return False


class KeylogPipe:
    """A named pipe in ``directory`` (private) that tshark reads as its key log, and the thread that writes the
    lean copy of ``source`` into it once tshark opens it. ``release`` once tshark has ended."""

    def __init__(self, source: str, directory: str) -> None:
        self.source = source
        self.path = os.path.join(directory, PIPE_NAME)
        self._released = threading.Event()
        os.mkfifo(self.path, 0o600)
        self._thread = threading.Thread(target=self._write, name="pushscope-keylog-pipe", daemon=True)
        self._thread.start()

    def _write(self) -> None:
        try:
            handle = os.open(self.path, os.O_WRONLY)  # waits for tshark to open it (or ``release``)
        except OSError:
            self._give_up()
            return
        try:
            if self._released.is_set():
                return
            widen_pipe(handle)
            for _, lines in KeyLogText(self.source).chunks():
                write_all(handle, lean_keylog_text(lines))
                if self._released.is_set():
                    return
            write_all(handle, b"\n")
        except OSError:
            pass  # tshark is gone (a broken pipe): nothing reads the rest
        finally:
            os.close(handle)  # tshark reads the end of its key log

    def _give_up(self) -> None:
        """The pipe could not be opened for writing: a tshark waiting to read it is let go with no lines, and a
        later one finds no key log (it then decrypts nothing, and says so, rather than wait forever). Opened both
        ways (Linux never waits for that), the pipe has a writer until it is gone: no reader is left waiting."""
        try:
            writer = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)
        except OSError:
            writer = None
        try:
            os.unlink(self.path)
        except OSError:
            pass
        if writer is not None:
            os.close(writer)  # a reader that came meanwhile reads the end

    def release(self) -> None:
        """tshark has ended: a writer still waiting for it to open the pipe stops waiting, and one still writing
        stops at its next chunk."""
        self._released.set()
        deadline = time.monotonic() + RELEASE_WAIT
        while self._thread.is_alive() and time.monotonic() < deadline:
            # Opening the pipe for reading ends the writer's wait for a reader. Again and again: a writer that had
            # not yet begun to wait when it was opened would wait for the next reader.
            try:
                os.close(os.open(self.path, os.O_RDONLY | os.O_NONBLOCK))
            except OSError:
                pass
            self._thread.join(timeout=0.05)


def widen_pipe(handle: int) -> None:
    """A pipe's buffer made PIPE_SIZE, where that can be done (Linux)."""
    try:
        import fcntl

        fcntl.fcntl(handle, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except (OSError, AttributeError, ImportError):
        pass  # (a smaller buffer only reads slower)


def write_all(handle: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(handle, view):]
