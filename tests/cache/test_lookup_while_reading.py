"""The inspector's loader reads the capture while it looks for it in the cache: a hit stops the read and serves the
kept analysis; a miss lets the read finish and analyses what it made."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from pushscope import pipeline
from pushscope.analysis import analyse
from pushscope.cache import CaptureCache
from pushscope.events import ConnectionOpened, Endpoint, SourceFinished, SourceItem
from pushscope.model.entities import Capture

EVENTS = 2000


class CountingSource:
    """A source of ``EVENTS`` connection openings that waits for ``go`` after the first one, then takes a
    millisecond an event (two seconds in all: a lookup that has its answer stops it long before); it records how
    far it got and whether it was closed."""

    def __init__(self, go: threading.Event) -> None:
        self.go = go
        self.started = threading.Event()  # the first item was asked for
        self.yielded = 0
        self.closed = False

    def __call__(self, cancel: threading.Event) -> Iterator[SourceItem]:
        self.started.set()
        try:
            for index in range(EVENTS):
                yield ConnectionOpened(connection_id=f"t{index}", at=float(index), client=Endpoint("10.0.0.1", 40000),
                                       server=Endpoint("10.0.0.2", 443), transport="tls")
                self.yielded += 1
                if index == 0:
                    self.go.wait(10)
                else:
                    time.sleep(0.001)
            yield SourceFinished()
        finally:
            self.closed = True


def _kept_capture() -> Capture:
    capture = Capture(source="capture", name="kept")
    return analyse(capture)


def _kept_in(tmp_path: Path) -> CaptureCache:
    """A cache holding an analysed capture named "kept" under the key "key"."""
    cache = CaptureCache(tmp_path / "cache")
    assert cache.store("key", _kept_capture())
    return cache


def _running_source() -> CountingSource:
    """A source that never waits for a go."""
    go = threading.Event()
    go.set()
    return CountingSource(go)


def test_a_hit_stops_the_read_and_serves_the_kept_analysis(tmp_path: Path) -> None:
    cache = _kept_in(tmp_path)
    go = threading.Event()
    source = CountingSource(go)

    def entry() -> tuple[CaptureCache, str]:
        return cache, "key"

    def lookup_done_then_go() -> pipeline.CacheEntry | None:
        source.started.wait(10)  # the key is known only once the read has started (a big capture's hash)
        found = entry()
        go.set()  # the read goes on only once the lookup (all but reading the entry) is done
        return found

    load = pipeline.Load(source, "big.pcapng", cache_entry=lookup_done_then_go)
    loader = pipeline.Loader(load, read_while_looking_up=True)
    capture = loader.run()
    assert loader.from_cache and capture.name == "kept" and not loader.cancelled
    assert source.closed and source.yielded < EVENTS  # stopped early, and tshark's generator closed


def test_a_miss_lets_the_read_finish() -> None:
    source = _running_source()
    # The cache cannot be used (its files unreadable): the lookup answers no entry at all, nothing is kept.
    load = pipeline.Load(source, "big.pcapng", cache_entry=lambda: None)
    loader = pipeline.Loader(load, read_while_looking_up=True)
    capture = loader.run()
    assert not loader.from_cache and source.yielded == EVENTS and len(capture.connections) == EVENTS
    assert capture.analysed


def test_a_hit_known_at_once_never_starts_the_read(tmp_path: Path) -> None:
    cache = _kept_in(tmp_path)
    source = _running_source()
    load = pipeline.Load(source, "big.pcapng", cache_entry=lambda: (cache, "key"))
    loader = pipeline.Loader(load, read_while_looking_up=True)
    capture = loader.run()
    assert loader.from_cache and capture.name == "kept"
    assert not source.started.is_set() and source.yielded == 0  # tshark never started


def test_a_broken_entry_known_at_once_is_read_after_all(tmp_path: Path) -> None:
    cache = _kept_in(tmp_path)
    (entry,) = (tmp_path / "cache").glob("*.model")
    entry.write_bytes(entry.read_bytes()[:-10])
    source = _running_source()
    loader = pipeline.Loader(pipeline.Load(source, "big.pcapng", cache_entry=lambda: (cache, "key")),
                             read_while_looking_up=True)
    capture = loader.run()
    assert not loader.from_cache and source.yielded == EVENTS and len(capture.connections) == EVENTS
    assert not entry.exists()


def test_a_hit_known_at_once_undoes_what_was_prepared(tmp_path: Path) -> None:
    """A tshark started early for the read (``Load.prepare``) is stopped when the read is not needed."""
    cache = _kept_in(tmp_path)
    source = _running_source()
    undone = threading.Event()
    load = pipeline.Load(source, "big.pcapng", cache_entry=lambda: (cache, "key"), unprepare=undone.set)
    loader = pipeline.Loader(load, read_while_looking_up=True)
    assert loader.run().name == "kept" and undone.is_set() and not source.started.is_set()


def test_a_peek_that_will_serve_stops_the_read_before_it_has_served(tmp_path: Path) -> None:
    cache = _kept_in(tmp_path)
    source = _running_source()
    seen: list[bool] = []

    def late_entry() -> pipeline.CacheEntry:
        source.started.wait(10)  # known only once the read runs
        return cache, "key"

    def peek(_entry: pipeline.CacheEntry, stop_reading: Callable[[], None]) -> bool:
        stop_reading()
        deadline = time.monotonic() + 5
        while not source.closed and time.monotonic() < deadline:  # (what the inspector does here takes seconds)
            time.sleep(0.01)
        seen.append(source.closed)
        return True

    loader = pipeline.Loader(pipeline.Load(source, "big.pcapng", cache_entry=late_entry), read_while_looking_up=True,
                             peek=peek)
    capture = loader.run()
    assert seen == [True] and source.yielded < EVENTS
    assert loader.from_cache and loader.peeked and capture.name == "kept"
