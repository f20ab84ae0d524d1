"""A capture file the cache never saw is read first and hashed after: on a first open the hashing (two seconds a
gigabyte) would only compete with tshark's start for the cores. A file seen before is hashed while it is read, so a
reopen is served from the cache at once; a file changed on disk counts as never seen."""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from pushscope import cache as cache_module
from pushscope import cache_hints, pipeline
from pushscope.cache import CaptureCache
from pushscope.events import DataReceived
from pushscope.pipeline import capture_file


@pytest.fixture(autouse=True)
def own_cache(cache_dir: Path) -> Path:
    """Every test here works in an empty cache of its own (``cache_dir``, conftest)."""
    return cache_dir


def _watch_hashing(monkeypatch: pytest.MonkeyPatch, reading: threading.Event,
                   capture: Path) -> list[tuple[str, bool]]:
    """Each hash of ``capture``, and whether the read had already delivered data by then. (Only this test's
    capture: an earlier test's prefetch may still be hashing its own files in the background.)"""
    hashed: list[tuple[str, bool]] = []
    real = cache_module.file_digest

    def watched(path: str) -> str:
        if os.path.abspath(path) == os.path.abspath(capture):
            hashed.append((path, reading.is_set()))
        return real(path)

    monkeypatch.setattr(cache_module, "file_digest", watched)
    return hashed


def _open(capture: Path, keys: Path, reading: threading.Event) -> pipeline.Loader:
    load = capture_file(str(capture), str(keys), use_cache=True)
    read = load.read

    def noting(cancel: threading.Event):  # type: ignore[no-untyped-def]
        for item in read(cancel):
            if isinstance(item, DataReceived):
                reading.set()
            yield item

    loader = pipeline.Loader(replace(load, read=noting), read_while_looking_up=True, keep_now=False)
    loader.run()
    return loader


def test_a_never_seen_file_is_read_first_and_kept_after(files: tuple[Path, Path],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    capture, keys = files
    assert not CaptureCache().seen(str(capture))
    reading = threading.Event()
    hashed = _watch_hashing(monkeypatch, reading, capture)
    loader = _open(capture, keys, reading)
    assert not loader.from_cache and loader.capture.pushes
    assert hashed == []  # nothing hashed before or during the read
    entry = loader.keep_unseen()
    assert entry is not None and hashed and all(after for _, after in hashed)
    cache_module.wait_for_writers()
    assert entry[0].has(entry[1]) and CaptureCache().seen(str(capture))

    reading.clear()
    hashed.clear()
    reopened = _open(capture, keys, reading)  # seen now: looked up at once, served from the cache
    assert reopened.from_cache and len(reopened.capture.pushes) == len(loader.capture.pushes)
    assert hashed and not reading.is_set()


def test_a_file_changed_on_disk_counts_as_never_seen(files: tuple[Path, Path]) -> None:
    capture, _ = files
    cache = CaptureCache()
    cache.remember(str(capture))
    assert cache.seen(str(capture))
    stat = capture.stat()
    os.utime(capture, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert not cache.seen(str(capture))
    assert not cache.seen(str(capture.parent / "missing.pcapng"))


def test_markers_are_bounded_and_cleared(files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    capture, _ = files
    monkeypatch.setattr(cache_hints, "SEEN_KEPT", 3)
    cache = CaptureCache()
    copies = []
    for index in range(5):
        copy = capture.parent / f"copy{index}.pcapng"
        shutil.copy(capture, copy)
        os.utime(copy, ns=(10**18 + index, 10**18 + index))  # distinct, increasing marker times
        cache.remember(str(copy))
        copies.append(copy)
    assert len(list(cache.directory.glob(f"*{cache_module.SEEN_SUFFIX}"))) <= 3
    assert cache.seen(str(copies[-1]))
    cache.clear()
    assert not list(cache.directory.glob(f"*{cache_module.SEEN_SUFFIX}"))
