"""Hints the cache keeps beside its entries about capture files as they are on disk (path, inode, size, times):
whether a key was ever made for a file (``seen``: a file never seen is read first and hashed after), and which key
the same files and options gave last time (``expected_key``: a reopen that expects its hit starts no read). They
only ever say *when* to hash and *what* to start: an entry is found by the key of the files' content alone, so a
wrong hint costs time, never a stale answer. Bounded (the oldest go first) and cleared with the entries."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

SEEN_SUFFIX = ".seen"  # an empty marker: a key was made for a capture file as it is on disk
HINT_SUFFIX = ".hint"  # the key last made for a capture, its key log and options as they are on disk, with this code
SEEN_KEPT = 4096  # markers kept at most, and as many hints


def file_identity(path: str) -> tuple[object, ...] | None:
    """The file as it is on disk now (path, inode, size, times); None when it cannot be read."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return os.path.realpath(path), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


class Hints:
    """The hints in ``directory`` (the cache's); ``usable`` says whether it may be written, ``has`` whether the cache
    holds an entry under a key."""

    def __init__(self, directory: Path, usable: Callable[[], bool], has: Callable[[str], bool]) -> None:
        self.directory = directory
        self._usable = usable
        self._has = has

    def seen(self, path: str) -> bool:
        """Whether a key was made for this file as it is on disk now: a first open of a file never seen need not
        hash it before reading it (the hashing would only compete with tshark's start for the cores); it is hashed
        after the read, to keep what the read produced."""
        marker = self._seen_marker(path)
        return marker is not None and marker.is_file()

    def remember(self, path: str) -> None:
        """Note that a key was made for ``path`` as it is now (see ``seen``)."""
        marker = self._seen_marker(path)
        if marker is None or not self._usable():
            return
        try:
            known = marker.is_file()
            marker.touch()
            if not known:
                self._prune(SEEN_SUFFIX)
        except OSError:
            pass

    def expected_key(self, inputs: Sequence[object]) -> str | None:
        """The key made last time for these inputs (``cache.input_identity``: the files as they are on disk now, the
        options, this code), when the cache still holds its entry. A reopen that expects a hit need not start
        reading (tshark, the key log) while it hashes: that would only compete with reading the entry."""
        try:
            key = self._hint(inputs).read_text(encoding="ascii").strip()
        except (OSError, ValueError):
            return None
        return key if _is_key(key) and self._has(key) else None

    def note_key(self, inputs: Sequence[object], key: str) -> None:
        """Remember ``key`` as the one these inputs gave (see ``expected_key``)."""
        hint = self._hint(inputs)
        if not _is_key(key) or not self._usable():
            return
        try:
            known = hint.is_file()
            partial = hint.with_name(f".partial-{os.getpid()}-{threading.get_ident()}-{hint.name}")
            partial.write_text(key, encoding="ascii")
            os.replace(partial, hint)
            if not known:
                self._prune(HINT_SUFFIX)
        except OSError:
            pass

    def _seen_marker(self, path: str) -> Path | None:
        identity = file_identity(path)
        if identity is None:
            return None
        return self.directory / (hashlib.sha256(repr(identity).encode()).hexdigest() + SEEN_SUFFIX)

    def _hint(self, inputs: Sequence[object]) -> Path:
        return self.directory / (hashlib.sha256(repr(tuple(inputs)).encode()).hexdigest() + HINT_SUFFIX)

    def _prune(self, suffix: str) -> None:
        markers = sorted(self.directory.glob(f"*{suffix}"), key=lambda p: p.stat().st_mtime)
        for old in markers[:max(0, len(markers) - SEEN_KEPT)]:
            old.unlink(missing_ok=True)


def _is_key(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)
