"""The analysed model of a capture, kept in the user's cache directory so that a second open is cheap.

The key is a SHA-256 over the *content* of the capture and of the key log (streamed through hashlib: a file
rewritten in place can keep its size and mtime, so those are never trusted), the paths as given (diagnostics
quote them), the QUIC ports asked for, and a fingerprint of the code that produced the model (pushscope's
version, the names, sizes and mtimes of its source files, and the tshark executable). A changed capture, key log
or pushscope therefore never meets a stale entry.

An entry is written to a temporary file in the same directory, flushed to disk and renamed into place, so a
reader sees a whole entry or none; a header with the payload's length catches a truncated one anyway, and an
entry that does not load is deleted and treated as a miss. The directory is bounded (oldest use evicted first).
Entries hold decrypted headers and bodies: the directory is private to the user (0700, files 0600), and
``pushscope cache clear`` empties it.
"""

from __future__ import annotations

import atexit
import gc
import hashlib
import json
import os
import pickle
import shutil
import struct
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pushscope import __version__
from pushscope.model.entities import Capture

CACHE_DIR_ENV = "PUSHSCOPE_CACHE_DIR"
CACHE_LIMIT_ENV = "PUSHSCOPE_CACHE_MAX_MB"
DEFAULT_LIMIT = 2 * 1024 * 1024 * 1024
MAGIC = b"pushscope-model-1\n"
HEADER = struct.Struct(">Q")  # payload length
SUFFIX = ".model"
STALE_PARTIAL = 3600.0  # seconds
# Loads that say more about this run than about the capture: never kept.
_WRITERS: list[int] = []  # pids of background writers not yet waited for
TRANSIENT_CODES = frozenset({"cancelled", "no-tshark", "tshark-failed", "load-failed", "analysis-failed",
                             "no-capture", "no-keylog"})


@dataclass(frozen=True, slots=True)
class CachedCapture:
    """A source item: the analysed capture came from the cache (a loader shows it as it is)."""

    capture: Capture


@dataclass(frozen=True, slots=True)
class CacheSlot:
    """A source item on a miss: where the loader keeps the capture once it is analysed."""

    cache: CaptureCache
    key: str

    def keep(self, capture: Capture) -> None:
        self.cache.store_in_background(self.key, capture)


def cache_dir() -> Path:
    explicit = os.environ.get(CACHE_DIR_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pushscope"


def cache_limit() -> int:
    try:
        return int(float(os.environ.get(CACHE_LIMIT_ENV, "")) * 1024 * 1024)
    except ValueError:
        return DEFAULT_LIMIT


def file_digest(path: str) -> str:
    """SHA-256 of the file's bytes (hashlib releases the GIL per chunk, so another thread keeps working)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """pushscope's version, its source files and the tshark executable: any change makes every entry stale."""
    digest = hashlib.sha256(__version__.encode())
    package = Path(__file__).resolve().parent
    # Name, size and mtime of each source file, not its content: this runs on every open, and an edit to the code
    # (unlike a capture rewritten by a tool) always moves the mtime.
    for source in sorted(package.rglob("*.py")):
        stat = source.stat()
        digest.update(f"{source.relative_to(package)}:{stat.st_size}:{stat.st_mtime_ns}\0".encode())
    tshark = shutil.which("tshark")
    if tshark:
        stat = os.stat(tshark)
        digest.update(f"{os.path.realpath(tshark)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def cache_key(capture: str, keylog: str | None, quic_ports: Sequence[int] = (), keylog_origin: str | None = None
              ) -> str:
    parts = {
        "keylog_origin": keylog_origin,  # diagnostics say where the key log came from
        "code": code_fingerprint(),
        "capture": [capture, file_digest(capture)],
        "keylog": [keylog, file_digest(keylog) if keylog and os.path.isfile(keylog) else None],
        "quic_ports": sorted(quic_ports),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def cacheable(capture: Capture) -> bool:
    return capture.analysed and not any(d.code in TRANSIENT_CODES for d in capture.diagnostics)


class CaptureCache:
    """Entries ``<key>.model`` in one private directory, at most ``limit`` bytes in all."""

    def __init__(self, directory: Path | None = None, limit: int | None = None) -> None:
        self.directory = directory or cache_dir()
        self.limit = cache_limit() if limit is None else limit

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}{SUFFIX}"

    def _usable_directory(self) -> bool:
        """Ours and private: a pickle is only ever read from a directory no one else can write to."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            stat = self.directory.stat()
        except OSError:
            return False
        return stat.st_uid == os.getuid() and not stat.st_mode & 0o022

    def load(self, key: str) -> Capture | None:
        path = self._path(key)
        if not path.is_file() or not self._usable_directory():
            return None
        enabled = gc.isenabled()
        gc.disable()  # unpickling allocates millions of objects: collections would only rescan them
        try:
            with open(path, "rb") as handle:
                head = handle.read(len(MAGIC) + HEADER.size)
                if not head.startswith(MAGIC) or len(head) != len(MAGIC) + HEADER.size:
                    raise ValueError("not a pushscope cache entry")
                (length,) = HEADER.unpack_from(head, len(MAGIC))
                if os.fstat(handle.fileno()).st_size != len(head) + length:
                    raise ValueError("truncated entry")
                capture = pickle.load(handle)
            if not isinstance(capture, Capture):
                raise ValueError("not a capture")
        except MemoryError:  # not the entry's fault: keep it for a run with more room
            return None
        except Exception:  # a broken entry is a miss, and goes
            path.unlink(missing_ok=True)
            return None
        finally:
            if enabled:
                gc.enable()
        os.utime(path)  # eviction goes by last use
        return capture

    def store(self, key: str, capture: Capture) -> bool:
        """Write the entry atomically, then evict the oldest ones beyond the limit. False when not kept."""
        if not cacheable(capture) or not self._usable_directory():
            return False
        descriptor, temporary = tempfile.mkstemp(prefix=".partial-", dir=self.directory)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(MAGIC + HEADER.pack(0))
                pickle.dump(capture, handle, protocol=pickle.HIGHEST_PROTOCOL)  # streamed: no copy in memory
                length = handle.tell() - len(MAGIC) - HEADER.size
                if length + len(MAGIC) + HEADER.size > self.limit:
                    raise OSError("larger than the whole cache")
                handle.seek(len(MAGIC))
                handle.write(HEADER.pack(length))  # the length last: an entry cut short never matches it
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self._path(key))
        except (OSError, pickle.PicklingError, RecursionError):
            Path(temporary).unlink(missing_ok=True)
            return False
        self.evict()
        return True

    def store_in_background(self, key: str, capture: Capture) -> int | None:
        """Pickle and write in a forked child (the other core), so the caller goes on rendering at once.
        The child's pid (``wait_for_writers`` waits for it); None when written here (no fork) or not kept."""
        if not cacheable(capture):
            return None
        if not hasattr(os, "fork"):
            self.store(key, capture)
            return None
        pid = os.fork()
        if pid:
            if not _WRITERS:
                atexit.register(wait_for_writers)  # the process does not end before its entries are written
            _WRITERS.append(pid)
            return pid
        # The child: write, and leave without running the parent's exit handlers or flushing its files.
        code = 1
        try:
            gc.disable()
            code = 0 if self.store(key, capture) else 1
        finally:
            os._exit(code)

    def entries(self) -> list[Path]:
        try:
            return [p for p in self.directory.iterdir() if p.name.endswith(SUFFIX) or p.name.startswith(".partial-")]
        except OSError:
            return []

    def evict(self) -> None:
        sized = []
        for entry in self.entries():
            try:
                stat = entry.stat()
            except OSError:
                continue
            if entry.name.startswith(".partial-"):
                if time.time() - stat.st_mtime > STALE_PARTIAL:  # left by a writer that died
                    entry.unlink(missing_ok=True)
                continue  # another process may be writing it
            sized.append((stat.st_mtime, stat.st_size, entry))
        total = sum(size for _, size, _ in sized)
        for _, size, entry in sorted(sized):
            if total <= self.limit:
                break
            entry.unlink(missing_ok=True)
            total -= size

    def clear(self) -> tuple[int, int]:
        """Delete every entry (and leftovers of interrupted writes): (files, bytes)."""
        files = size = 0
        for entry in self.entries():
            try:
                size += entry.stat().st_size
                entry.unlink()
                files += 1
            except OSError:
                continue
        return files, size


def wait_for_writers() -> None:
    """Wait for the background writers this process started."""
    while _WRITERS:
        try:
            os.waitpid(_WRITERS.pop(), 0)
        except ChildProcessError:
            pass
