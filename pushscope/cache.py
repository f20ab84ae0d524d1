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
import codecs
import gc
import hashlib
import json
import os
import pickle
import shutil
import struct
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from pushscope import __version__
from pushscope.cache_hints import HINT_SUFFIX, SEEN_SUFFIX, Hints, file_identity
from pushscope.model.entities import Capture
from pushscope.model_entry import read_model, write_model

CACHE_DIR_ENV = "PUSHSCOPE_CACHE_DIR"
CACHE_LIMIT_ENV = "PUSHSCOPE_CACHE_MAX_MB"
DEFAULT_LIMIT = 2 * 1024 * 1024 * 1024
MAGIC = b"pushscope-model-7\n"  # 6, 7: an exchange's, then a push's rare fields in one dict (``rare``)
HEADER = struct.Struct(">Q")  # payload length
SUFFIX = ".model"
STALE_PARTIAL = 3600.0  # seconds
DIGESTS_KEPT = 8  # files whose digest one run remembers
_DIGESTS: OrderedDict[tuple[object, ...], Future[str]] = OrderedDict()
_DIGESTS_LOCK = threading.Lock()
# Loads that say more about this run than about the capture: never kept.
_WRITERS: list[int] = []  # pids of background writers not yet waited for
_PENDING: list[tuple[CaptureCache, str, Capture]] = []  # entries to write when the command is done
TRANSIENT_CODES = frozenset({"cancelled", "no-tshark", "tshark-failed", "load-failed", "analysis-failed",
                             "no-capture", "no-keylog"})


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
    """SHA-256 of the file's bytes (hashlib releases the GIL per chunk, so another thread keeps working).

    Within one run the same unchanged file is hashed once (a command may look up several entries for it), also
    when a second thread asks while the first is hashing (see ``prefetch_digests``): it waits for that answer."""
    stat = os.stat(path)
    identity = (path, stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    with _DIGESTS_LOCK:
        digest = _DIGESTS.get(identity)
        mine = digest is None
        if digest is None:
            digest = _DIGESTS[identity] = Future()
            while len(_DIGESTS) > DIGESTS_KEPT:
                _DIGESTS.popitem(last=False)
    if mine:
        try:
            with open(path, "rb") as handle:
                digest.set_result(hashlib.file_digest(handle, "sha256").hexdigest())
        except BaseException as exc:
            with _DIGESTS_LOCK:
                _DIGESTS.pop(identity, None)  # a failure is not kept: the next caller tries again
            digest.set_exception(exc)
    return digest.result()


def prefetch_digests(paths: Iterable[str | None]) -> None:
    """Start hashing ``paths`` (and fingerprinting the code) in a background thread, so that a lookup made a little
    later finds them done: ``pushscope CAPTURE`` hashes while Textual is imported and started (hashlib and the
    imports run on two cores). A file that cannot be read is left to the lookup, which says why."""
    wanted = [p for p in paths if p]

    def run() -> None:
        code_fingerprint()
        for path in wanted:
            try:
                if os.path.isfile(path):  # (never a FIFO: its reader would wait for ever)
                    file_digest(path)
            except OSError:
                pass

    threading.Thread(target=run, name="pushscope-prefetch-digests", daemon=True).start()


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


def input_identity(capture: str, keylog: str | None, quic_ports: Sequence[int] = (),
                   keylog_origin: str | None = None) -> tuple[object, ...] | None:
    """What a cache key is made of, by the files' identity instead of their content (see ``expected_key``)."""
    capture_identity = file_identity(capture)
    keylog_identity = file_identity(keylog) if keylog else None
    if capture_identity is None or (keylog and keylog_identity is None):
        return None
    return code_fingerprint(), capture_identity, keylog_identity, tuple(sorted(quic_ports)), keylog_origin


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
        self.hints = Hints(self.directory, self._usable_directory, self.has)

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}{SUFFIX}"

    def model_path(self, key: str) -> Path:
        """Where the model of ``key`` is kept (whether it is there: ``has``)."""
        return self._path(key)

    def usable(self) -> bool:
        """The cache's directory is this user's alone (else nothing is read from it, nor written)."""
        return self._usable_directory()

    def _usable_directory(self) -> bool:
        """Ours and private: a pickle is only ever read from a directory no one else can write to."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            stat = self.directory.stat()
        except OSError:
            return False
        return stat.st_uid == os.getuid() and not stat.st_mode & 0o022

    def load(self, key: str) -> Capture | None:
        capture = self._load_entry(self._path(key), MAGIC, read_model)
        return capture if isinstance(capture, Capture) else None

    def has(self, key: str) -> bool:
        """Whether the model's entry is there (whether it loads is known only by loading it)."""
        return self._path(key).is_file()

    def store(self, key: str, capture: Capture) -> bool:
        """Write the entry atomically, then evict the oldest ones beyond the limit. False when not kept."""
        if not cacheable(capture):
            return False
        return self._store_entry(self._path(key), MAGIC, lambda handle: write_model(capture, handle))

    def has_companion(self, key: str) -> bool:
        return (self.directory / f"{key}{COMPANION_SUFFIX}").is_file()

    def load_companion(self, key: str, read: Callable[[BinaryIO], object]) -> object | None:
        """What a front end kept beside a model (``store_companion``), read by ``read``; None when absent, and
        when broken (then deleted)."""
        # Out of memory here is taken for a broken entry too (garbage can announce a huge string): a companion is
        # small beside its model, and made again from the model at the next open.
        return self._load_entry(self.directory / f"{key}{COMPANION_SUFFIX}", COMPANION_MAGIC, read,
                                keep_when_out_of_memory=False)

    def store_companion(self, key: str, write: Callable[[BinaryIO], None]) -> bool:
        """Keep something a front end made from a model (the inspector's view), under ``key`` (see
        ``companion_key``), with the model's guarantees: atomic, length checked, bounded, evicted and cleared."""
        return self._store_entry(self.directory / f"{key}{COMPANION_SUFFIX}", COMPANION_MAGIC, write)

    def store_companion_in_background(self, key: str, write: Callable[[BinaryIO], None]) -> int | None:
        """``store_companion`` in a forked child, as ``store_in_background`` does for the model."""
        return _in_background(lambda: self.store_companion(key, write))

    def _load_entry(self, path: Path, magic: bytes, read: Callable[[BinaryIO], object], *,
                    keep_when_out_of_memory: bool = True) -> object | None:
        if not path.is_file() or not self._usable_directory():
            return None
        enabled = gc.isenabled()
        gc.disable()  # unpickling allocates millions of objects: collections would only rescan them
        try:
            with open(path, "rb") as handle:
                length = entry_length(handle, magic)
                if os.fstat(handle.fileno()).st_size != len(magic) + HEADER.size + length:
                    raise ValueError("truncated entry")
                loaded = read(handle)
                if handle.tell() != len(magic) + HEADER.size + length:
                    raise ValueError("not read to its end")
        except MemoryError:  # not the entry's fault: keep it for a run with more room
            if not keep_when_out_of_memory:
                path.unlink(missing_ok=True)
            return None
        except Exception:  # a broken entry is a miss, and goes
            path.unlink(missing_ok=True)
            return None
        finally:
            if enabled:
                gc.enable()
        os.utime(path)  # eviction goes by last use
        return loaded

    def _store_entry(self, path: Path, magic: bytes, write: Callable[[BinaryIO], None]) -> bool:
        if not self._usable_directory():
            return False
        descriptor, temporary = tempfile.mkstemp(prefix=".partial-", dir=self.directory)
        enabled = gc.isenabled()
        gc.disable()  # pickling makes a state dict per object: collections would only rescan them
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(magic + HEADER.pack(0))
                write(handle)
                length = handle.tell() - len(magic) - HEADER.size
                if length + len(magic) + HEADER.size > self.limit:
                    raise OSError("larger than the whole cache")
                handle.seek(len(magic))
                handle.write(HEADER.pack(length))  # the length last: an entry cut short never matches it
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except (OSError, pickle.PicklingError, RecursionError):
            Path(temporary).unlink(missing_ok=True)
            return False
        finally:
            if enabled:
                gc.enable()
        self.evict()
        return True

    def store_at_exit(self, key: str, capture: Capture) -> None:
        """Write the entry when the command is done (its output is out by then). Not forked: a forked writer
        copies every page of the model it pickles (reference counts), which doubles the memory of a large one."""
        if cacheable(capture):
            if not _PENDING and not _WRITERS:
                atexit.register(wait_for_writers)
            _PENDING.append((self, key, capture))

    def load_result(self, key: str) -> CachedResult | None:
        """A command's kept output (see ResultRecorder), or None; a broken entry is deleted."""
        path = self.directory / f"{key}{RESULT_SUFFIX}"
        if not path.is_file() or not self._usable_directory():
            return None
        try:
            with open(path, "rb") as handle:
                length = entry_length(handle, RESULT_MAGIC)
                handle.seek(len(RESULT_MAGIC) + HEADER.size + length)
                meta = json.loads(handle.read(RESULT_META_LIMIT))
            if not isinstance(meta, dict):
                raise ValueError("no meta")
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
            return None
        os.utime(path)
        return CachedResult(path, len(RESULT_MAGIC) + HEADER.size, length, meta)

    def store_in_background(self, key: str, capture: Capture) -> int | None:
        """Pickle and write in a forked child (the other core), so the caller goes on rendering at once.
        The child's pid (``wait_for_writers`` waits for it); None when written here (no fork) or not kept."""
        if not cacheable(capture):
            return None
        return _in_background(lambda: self.store(key, capture))

    def entries(self) -> list[Path]:
        try:
            return [p for p in self.directory.iterdir()
                    if p.name.endswith((SUFFIX, RESULT_SUFFIX, COMPANION_SUFFIX, SEEN_SUFFIX, HINT_SUFFIX))
                    or p.name.startswith(".partial-")]
        except OSError:
            return []

    # --- hints of when to hash and what to start (``cache_hints``): never how an entry is found -------------------

    def seen(self, path: str) -> bool:
        return self.hints.seen(path)

    def remember(self, path: str) -> None:
        self.hints.remember(path)

    def expected_key(self, inputs: Sequence[object]) -> str | None:
        return self.hints.expected_key(inputs)

    def note_key(self, inputs: Sequence[object], key: str) -> None:
        self.hints.note_key(inputs, key)

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

    def clear(self) -> tuple[int, int, int]:
        """Delete every entry (and leftovers of interrupted writes): (captures, files, bytes), a capture's entry
        being its analysed model (the outputs kept beside it are files)."""
        captures = files = size = 0
        for entry in self.entries():
            try:
                size += entry.stat().st_size
                entry.unlink()
                files += 1
                captures += entry.name.endswith(SUFFIX)
            except OSError:
                continue
        return captures, files, size


def entry_length(handle: BinaryIO, magic: bytes) -> int:
    """The length an entry's header announces (ValueError when the file does not start like one of ours)."""
    head = handle.read(len(magic) + HEADER.size)
    if not head.startswith(magic) or len(head) != len(magic) + HEADER.size:
        raise ValueError("not a pushscope cache entry")
    length: int = HEADER.unpack_from(head, len(magic))[0]
    return length


def _in_background(store: Callable[[], bool]) -> int | None:
    """Run ``store`` in a forked child (the other core): its pid, or None when run here (no fork)."""
    if not hasattr(os, "fork"):
        store()
        return None
    pid = os.fork()
    if pid:
        if not _WRITERS and not _PENDING:
            atexit.register(wait_for_writers)  # the process does not end before its entries are written
        _WRITERS.append(pid)
        return pid
    # The child: write, and leave without running the parent's exit handlers or flushing its files.
    code = 1
    try:
        gc.disable()
        code = 0 if store() else 1
    finally:
        os._exit(code)


def wait_for_writers() -> None:
    """Write the entries kept for the end of the command, and wait for the background writers this process
    started."""
    while _PENDING:
        cache, key, capture = _PENDING.pop(0)
        cache.store(key, capture)
    while _WRITERS:
        try:
            os.waitpid(_WRITERS.pop(), 0)
        except ChildProcessError:
            pass


# A companion: what a front end made from a model and keeps beside it (the inspector's final view), keyed by the
# model's key and the companion's own format, so it is stale exactly when the model is.
COMPANION_MAGIC = b"pushscope-companion-1\n"
COMPANION_SUFFIX = ".view"


def companion_key(model_key: str, kind: str, version: int) -> str:
    return hashlib.sha256(json.dumps([model_key, kind, version]).encode()).hexdigest()


RESULT_MAGIC = b"pushscope-result-1\n"
RESULT_SUFFIX = ".result"
RESULT_CHUNK = 1 << 20
RESULT_META_LIMIT = 64 * 1024


def result_key(model_key: str, variant: Sequence[object]) -> str:
    """The key of what one command printed for one capture: the capture's key and everything else that shaped the
    output (command, format, redaction, budgets...)."""
    return hashlib.sha256(json.dumps([model_key, list(variant)], default=str).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CachedResult:
    """A command's output kept in the cache, and how the command ended (``meta``: exit status, message)."""

    path: Path
    offset: int
    length: int
    meta: dict[str, object]

    def chunks(self) -> Iterator[bytes]:
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            remaining = self.length
            while remaining:
                chunk = handle.read(min(RESULT_CHUNK, remaining))
                if not chunk:
                    raise OSError("cache entry cut short")
                remaining -= len(chunk)
                yield chunk

    def text(self) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")()
        for chunk in self.chunks():
            piece = decoder.decode(chunk)
            if piece:
                yield piece
        rest = decoder.decode(b"", final=True)
        if rest:
            yield rest


class ResultRecorder:
    """Writes a command's output into a new entry as it is produced; ``keep`` makes it an entry (atomically)."""

    def __init__(self, cache: CaptureCache, key: str) -> None:
        self.cache, self.key = cache, key
        self._handle: BinaryIO | None = None
        self._temporary = ""
        self._length = 0
        self._failed = False
        self.complete = False

    def _open(self) -> BinaryIO | None:
        if self._handle is None and not self._failed:
            try:
                if not self.cache._usable_directory():
                    raise OSError("cache directory not usable")
                descriptor, self._temporary = tempfile.mkstemp(prefix=".partial-", dir=self.cache.directory)
                self._handle = os.fdopen(descriptor, "wb")
                self._handle.write(RESULT_MAGIC + HEADER.pack(0))
            except OSError:
                self.abandon()
        return self._handle

    def write(self, data: bytes) -> None:
        handle = self._open()
        if handle is None:
            return
        self._length += len(data)
        try:
            if self._length > self.cache.limit:  # larger than the whole cache: not kept
                raise OSError("larger than the whole cache")
            handle.write(data)
        except OSError:
            self.abandon()

    def record(self, data: str | bytes | Iterator[str]) -> str | bytes | Iterator[str]:
        """``data`` as it was, written into the entry as it is read (an iterator piece by piece)."""
        if isinstance(data, (str, bytes)):
            self.write(data.encode("utf-8") if isinstance(data, str) else data)
            self.complete = True
            return data
        return self._pieces(data)

    def _pieces(self, pieces: Iterator[str]) -> Iterator[str]:
        for piece in pieces:
            self.write(piece.encode("utf-8"))
            yield piece
        self.complete = True

    def keep(self, meta: dict[str, object]) -> bool:
        """Make the entry, if the whole output was written (a reader that left early leaves none)."""
        handle = self._open() if self.complete else None
        if handle is None:
            self.abandon()
            return False
        try:
            handle.write(json.dumps(meta).encode())
            handle.seek(len(RESULT_MAGIC))
            handle.write(HEADER.pack(self._length))  # the length last: an entry cut short never matches it
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            self._handle = None
            os.replace(self._temporary, self.cache.directory / f"{self.key}{RESULT_SUFFIX}")
        except OSError:
            self.abandon()
            return False
        self.cache.evict()
        return True

    def abandon(self) -> None:
        """No entry (also what a command that failed or was interrupted leaves)."""
        self._failed = True
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self._temporary:
            Path(self._temporary).unlink(missing_ok=True)
