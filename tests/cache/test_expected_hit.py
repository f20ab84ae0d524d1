"""A reopen that expects a cache hit (the key the same files gave last time, and its entry still kept) starts
nothing before its key is known: no tshark, no read of the key log, which would only compete with hashing and
reading the entry. The expectation is only a hint: the entry used is always the one of the files' content, and a
wrong hint costs time, never a stale answer."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from pushscope import cache as cache_module
from pushscope import cache_hints, pipeline
from pushscope.cache import CaptureCache, input_identity
from pushscope.events import SourceItem
from pushscope.pipeline import Load, capture_file

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
ORIGIN = "--keylog"  # as ``pushscope CAPTURE --keylog KEYS`` chooses it


@pytest.fixture(autouse=True)
def own_cache(cache_dir: Path) -> Path:
    return cache_dir


def _load(capture: Path, keys: Path) -> Load:
    return capture_file(str(capture), str(keys), keylog_origin=ORIGIN, use_cache=True)


def _run(load: Load) -> tuple[pipeline.Loader, list[str]]:
    """Run ``load`` as the inspector does (read while looking up); also which reads were started."""
    reads: list[str] = []
    read = load.read

    def noted(cancel: threading.Event) -> Iterator[SourceItem]:
        reads.append(load.name)
        yield from read(cancel)

    loader = pipeline.Loader(replace(load, read=noted), read_while_looking_up=True, keep_now=False)
    loader.run()
    loader.keep_unseen()
    cache_module.wait_for_writers()
    return loader, reads


def test_a_reopen_expects_its_hit_and_starts_nothing(files: tuple[Path, Path],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    capture, keys = files
    first = _load(capture, keys)
    assert not first.expects_hit  # never seen
    opened, reads = _run(first)
    assert reads and opened.capture.pushes

    real = cache_module.file_digest

    def slow(path: str) -> str:  # hashing as slow as a gigabyte's, against the read's grace of 0.05 s
        time.sleep(0.3)
        return real(path)

    monkeypatch.setattr(cache_module, "file_digest", slow)
    cache_module._DIGESTS.clear()
    again = _load(capture, keys)
    assert again.expects_hit
    assert again.prepare is not None and again.prepare() is False  # no tshark started early
    reopened, reads = _run(again)
    assert reopened.from_cache and reads == []
    assert len(reopened.capture.pushes) == len(opened.capture.pushes)


def test_a_changed_input_expects_nothing(files: tuple[Path, Path]) -> None:
    capture, keys = files
    _run(_load(capture, keys))
    assert _load(capture, keys).expects_hit
    assert not capture_file(str(capture), str(keys), keylog_origin=ORIGIN, quic_ports=[4433],
                            use_cache=True).expects_hit  # other options
    assert not capture_file(str(capture), None, keylog_origin="", use_cache=True).expects_hit  # no key log
    stat = keys.stat()
    os.utime(keys, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # the key log rewritten
    assert not _load(capture, keys).expects_hit


def test_an_evicted_entry_expects_nothing(files: tuple[Path, Path]) -> None:
    capture, keys = files
    loader, _ = _run(_load(capture, keys))
    assert loader.entry is not None
    CaptureCache().clear()
    assert not _load(capture, keys).expects_hit


def test_a_wrong_hint_costs_a_read_never_a_stale_answer(files: tuple[Path, Path], tmp_path: Path) -> None:
    """The hint points at another capture's kept entry (as if the file had been replaced keeping its size, inode
    and times): the reopen expects a hit, finds none under its content's key, and reads the capture."""
    capture, keys = files
    other = tmp_path / "other.pcapng"
    shutil.copy(CAPTURES / "curl-no-push.pcapng", other)
    other_loader, _ = _run(capture_file(str(other), str(CAPTURES / "curl-no-push.keys"), keylog_origin=ORIGIN,
                                        use_cache=True))
    assert other_loader.entry is not None and not other_loader.capture.pushes
    identity = input_identity(str(capture), str(keys), (), ORIGIN)
    assert identity is not None
    cache = CaptureCache()
    cache.remember(str(capture))  # seen before
    cache.note_key(identity, other_loader.entry[1])

    load = _load(capture, keys)
    assert load.expects_hit
    loader, reads = _run(load)
    assert reads and not loader.from_cache
    assert loader.capture.pushes  # this capture's pushes, not the other's (none)


@pytest.mark.parametrize("content", ["", "not a key", "../" * 30, "f" * 63, "0" * 64 + "\n0"])
def test_a_broken_hint_expects_nothing(files: tuple[Path, Path], content: str) -> None:
    capture, keys = files
    _run(_load(capture, keys))
    hints = list(CaptureCache().directory.glob(f"*{cache_module.HINT_SUFFIX}"))
    assert len(hints) == 1
    hints[0].write_text(content)
    assert not _load(capture, keys).expects_hit


def test_hints_are_bounded_and_cleared(files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    capture, keys = files
    monkeypatch.setattr(cache_hints, "SEEN_KEPT", 3)
    cache = CaptureCache()
    for ports in range(5):
        identity = input_identity(str(capture), str(keys), (ports,), ORIGIN)
        assert identity is not None
        cache.note_key(identity, f"{ports:064x}")
    assert len(list(cache.directory.glob(f"*{cache_module.HINT_SUFFIX}"))) <= 3
    cache.clear()
    assert not list(cache.directory.glob(f"*{cache_module.HINT_SUFFIX}"))
