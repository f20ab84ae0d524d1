"""From a source to an analysed model: the one loader every front end uses (report, check, diff, live, the
inspector). No UI here.

A ``Load`` says what to read: a ``Source`` (started with a cancel event, it yields ``SourceItem``s), the name and
kind of the capture it makes, and for a capture file where its analysis is kept in the cache. ``Loader.run`` takes
the capture from the cache when it is there; else it folds the source into a ``CaptureBuilder`` with ``fold``,
the one fold loop in the product, analyses the model and keeps it in the cache.
"""

from __future__ import annotations

import enum
import gc
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pushscope.analysis import analyse
from pushscope.cache import CaptureCache, cache_key, input_identity, prefetch_digests
from pushscope.events import Diagnostic, SourceFinished, SourceItem, SourceProgress
from pushscope.model.builder import CaptureBuilder
from pushscope.model.entities import Capture

if TYPE_CHECKING:
    from pushscope.sources.capture_file import EarlyStart

# A source: started with the event that asks it to stop early, yields events, diagnostics, progress, SourceFinished.
Source = Callable[[threading.Event], Iterable[SourceItem]]
ProgressCallback = Callable[[SourceProgress], None]
Analyser = Callable[[Capture], object]
CacheEntry = tuple[CaptureCache, str]


class Served(enum.IntEnum):
    """What a peek (``Loader.peek``) served from what is kept beside the model."""

    NOTHING = 0
    VIEW = 1  # the view: the model is read next
    VIEW_AND_DETAILS = 2  # the view, and the model's details read as they are asked for: the model is not read


Peek = Callable[[CacheEntry, Callable[[], None]], "bool | Served"]  # see Loader.peek (True: Served.VIEW)
# Seconds the inspector waits for the cache key before it starts reading anyway (a gigabyte takes seconds to hash;
# the capture is then read meanwhile, and a hit stops the read).
KEY_GRACE = 0.05


def fold(items: Iterable[SourceItem], builder: CaptureBuilder, on_progress: ProgressCallback | None = None,
         after_item: Callable[[], bool] | None = None) -> None:
    """The one fold loop: every event, diagnostic, conversation and run to ``builder.apply``, progress to
    ``on_progress``. ``after_item`` runs after each item (a front end's snapshots); when it says True, the fold
    stops there."""
    apply = builder.apply
    for item in items:
        if isinstance(item, SourceProgress):
            if on_progress is not None:
                on_progress(item)
        elif not isinstance(item, SourceFinished):
            apply(item)
        if after_item is not None and after_item():
            return


def analysed(items: Iterable[SourceItem], *, source: str, name: str = "") -> Capture:
    """Fold a source's items into a new model and analyse it: a probe session's, a saved session's."""
    builder = CaptureBuilder(source=source, name=name)
    fold(items, builder)
    builder.finish()
    return analyse(builder.capture)


def load_saved_session(path: str) -> Capture:
    """A saved probe session (every line checked against its schema first), folded and analysed like the probe's
    own stream: the same runs, truths and verdicts (SavedSessionError, a ValueError, names a bad line)."""
    from pushscope.sources.probe.recording import read_saved_session, saved_session_header

    header = saved_session_header(path)
    items = list(read_saved_session(path))
    return analysed(items, source="probe", name=header.get("name") or Path(path).name)


@contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection while a model is built, and what was built is frozen out of later collections.

    Building allocates millions of long-lived objects and almost no cycles: each collection would only rescan the
    growing model (about a third of the load's time). Frozen, it is also skipped by the collections that rendering
    triggers afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def free_dropped_models() -> None:
    """Free the models nothing refers to any more, before another is loaded.

    A load freezes what it built out of the collector's sight (``collector_paused``), and a model's pushes and
    their explanations refer to each other: a model that is dropped is freed only by a collection that sees it
    again. One full collection, where a command is done with one model and goes on to load another (``diff``'s
    second capture would otherwise be held beside the first)."""
    gc.unfreeze()
    gc.collect()


@dataclass(frozen=True, slots=True)
class Load:
    """What to load: a source and the capture it makes."""

    read: Source
    name: str
    kind: str = "capture"  # "capture", "probe" or "live": what the model (and an export) says it came from
    # A source that runs for as long as it likes (live capture, the probe): no collector pause, and the inspector
    # judges the pushes on every snapshot, since it never "finishes loading".
    live: bool = False
    # Where the analysed capture is kept; called in the loader's thread (it hashes the whole capture).
    cache_entry: Callable[[], CacheEntry | None] | None = None
    inputs: tuple[str, ...] = ()  # the files it reads: an export never writes over them
    # What the source can start before the front end is ready to read it (a capture file: tshark, which takes a
    # second or more to read a big key log); the inspector calls it first thing. The read works without it too.
    prepare: Callable[[], object] | None = None
    unprepare: Callable[[], object] | None = None  # undoes ``prepare`` when the source is not read after all
    # Whether the cache saw this very file before (``CaptureCache.seen``); when not, a reader that reads while it
    # looks the capture up reads first and makes the key after (the hashing would compete with the read).
    seen: Callable[[], bool] | None = None
    # The cache is expected to hold it (``CaptureCache.expected_key``): nothing is started before its key is known.
    expects_hit: bool = False


def capture_file(path: str, keylog: str | None = None, *, keylog_origin: str | None = None,
                 quic_ports: Sequence[int] = (), use_cache: bool = False) -> Load:
    """A capture file read by tshark (imported only when read: a cache hit never needs it). With ``keylog_origin``
    the caller already chose ``keylog`` (None: no key log at all); without it, ``keylog`` or $SSLKEYLOGFILE."""
    ports = list(quic_ports)
    early: list[EarlyStart] = []  # made by ``prepare``

    def prepare() -> bool:
        if expects_hit:  # tshark and the key log's read would only compete with hashing and reading the entry
            return False
        from pushscope.sources.capture_file import EarlyStart

        early.append(EarlyStart(path, keylog, quic_ports=ports, keylog_origin=keylog_origin))
        return early[-1].start()

    def read(cancel: threading.Event) -> Iterable[SourceItem]:
        from pushscope.sources.capture_file import read_capture

        return read_capture(path, keylog, cancel=cancel, quic_ports=ports, keylog_origin=keylog_origin,
                            early=early[-1] if early else None)

    def entry() -> CacheEntry | None:
        cache, key = cache_lookup(path, keylog, ports, keylog_origin)
        return (cache, key) if cache is not None and key is not None else None

    inputs = tuple(p for p in (path, keylog) if p)
    cache = CaptureCache() if use_cache else None
    seen = cache is not None and cache.seen(path)
    # (Only with the key log already chosen: choosing it imports the whole reader. Before the hashing starts: the
    # code's fingerprint is made once, here, and the hashing thread finds it made.)
    identity = input_identity(path, keylog or None, ports, keylog_origin) if seen and keylog_origin is not None \
        else None
    if seen:  # the lookup's hashing starts now: the caller goes on (the inspector imports Textual meanwhile)
        prefetch_digests(inputs)
    expects_hit = cache is not None and identity is not None and cache.expected_key(identity) is not None
    return Load(read, Path(path).name, "capture", cache_entry=entry if use_cache else None, inputs=inputs,
                prepare=prepare, unprepare=lambda: early[-1].discard() if early else None,
                seen=(lambda: seen) if use_cache else None, expects_hit=expects_hit)


class Loader:
    """Runs one Load into one analysed capture: from the cache when it holds it, else the source folded,
    analysed and kept. ``tolerant``: a broken source or analysis becomes an error diagnostic instead of raising
    (the inspector shows what was read). ``keep_now``: the cache entry is written at once by a forked child (the
    inspector goes on running); else when the command is done (see ``CaptureCache.store_at_exit``)."""

    def __init__(self, load: Load, *, cancel: threading.Event | None = None, analyser: Analyser = analyse,
                 on_progress: ProgressCallback | None = None, after_item: Callable[[], bool] | None = None,
                 on_step: Callable[[str], None] | None = None, tolerant: bool = False, keep_now: bool = False,
                 read_while_looking_up: bool = False, peek: Peek | None = None) -> None:
        self.load = load
        self.builder = CaptureBuilder(source=load.kind, name=load.name)
        self.cancel = cancel or threading.Event()
        self.analyser = analyser
        self.on_progress = on_progress
        self.after_item = after_item
        self.on_step = on_step
        self.tolerant = tolerant
        self.keep_now = keep_now
        self.from_cache = False
        self.cancelled = False
        # The inspector: the capture is read while the cache is searched (hashing a gigabyte takes seconds), and
        # the read stops as soon as the cache turns out to hold it. Headless commands look first: a reopen then
        # costs nothing but the lookup.
        self.read_while_looking_up = read_while_looking_up
        # With read_while_looking_up: called in the lookup's thread once the capture's key is known, before its model
        # is read, with a function that stops the read (called as soon as the caller knows it will serve); what the
        # caller served from what it keeps beside the model (``Served``: the inspector's view, and maybe the details
        # read on demand). After a view alone the model is read; if it turns out broken, the read starts over.
        self.peek = peek
        self.peeked = False
        # The caller serves the details itself (``Served.VIEW_AND_DETAILS``): ``run`` returns an empty capture,
        # neither analysed nor kept.
        self.details_served = False
        self.entry: CacheEntry | None = None  # where the capture is kept, once looked up
        self.unseen = False  # read before being looked up: ``keep_unseen`` makes its key and keeps it

    @property
    def capture(self) -> Capture:
        return self.builder.capture

    def run(self) -> Capture:
        # A file is loaded once, with the collector paused; a live source runs for as long as it likes.
        with nullcontext() if self.load.live else collector_paused():
            deferred = (self.read_while_looking_up and self.load.cache_entry is not None
                        and self.load.seen is not None and not self.load.seen())
            if deferred:
                entry, cached = None, None
                self._read()  # a file never seen: read first, hash after (see ``Load.seen``)
            elif self.read_while_looking_up and self.load.cache_entry is not None:
                entry, cached = self._read_while_looking_up(self.load.cache_entry)
                if self.details_served:
                    self.from_cache = True
                    return self.capture
                if cached is None and self.peeked:  # served, but the model did not load: read it after all
                    self.builder = CaptureBuilder(source=self.load.kind, name=self.load.name)
                    self._read()
            else:
                entry = self.load.cache_entry() if self.load.cache_entry is not None else None
                cached = entry[0].load(entry[1]) if entry is not None else None
                if cached is None:
                    self._read()
            if cached is not None:
                self.builder.capture = cached  # analysed when it was kept
                self.from_cache = True
                return cached
            self._analyse()
        self.entry = entry
        # A file never seen is hashed after the read, when the caller is ready for it (``keep_unseen``).
        self.unseen = deferred and not self.cancelled
        if entry is not None and not self.cancelled:
            self._keep(entry)
        return self.capture

    def _keep(self, entry: CacheEntry) -> None:
        cache, key = entry
        if self.keep_now:
            cache.store_in_background(key, self.capture)
        else:
            cache.store_at_exit(key, self.capture)

    def keep_unseen(self) -> CacheEntry | None:
        """For a file read before it was looked up (never seen: see ``Load.seen``): make its key now and keep the
        analysed capture under it, as ``run`` keeps any other. The entry, or None."""
        if not self.unseen or self.load.cache_entry is None:
            return self.entry
        self.unseen = False
        entry = self.entry = self.load.cache_entry()
        if entry is not None:
            self._keep(entry)
        return entry

    def _read_while_looking_up(self, cache_entry: Callable[[], CacheEntry | None]
                               ) -> tuple[CacheEntry | None, Capture | None]:
        """Read the source while another thread looks for the capture in the cache; a hit stops the read. When the
        key is known at once (hashed meanwhile: ``prefetch_digests``) and the cache has an entry for it, the read is
        not started at all: tshark's start would only compete with reading the entry."""
        peeked, key_known = threading.Event(), threading.Event()

        def look_up() -> tuple[CacheEntry | None, Capture | None]:
            try:
                try:
                    entry = cache_entry()
                finally:
                    key_known.set()
                if entry is None:
                    return None, None
                self.entry = entry
                served = self.peek(entry, peeked.set) if self.peek is not None else Served.NOTHING
                if served:
                    peeked.set()
                if served == Served.VIEW_AND_DETAILS:
                    self.details_served = True
                    return entry, None
                return entry, entry[0].load(entry[1])
            except Exception:  # a cache that cannot be read is no cache: the read goes on
                return None, None

        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pushscope-cache-lookup")
        lookup = pool.submit(look_up)
        pool.shutdown(wait=False)
        # A reopen that expects a hit waits for the key however long the hashing takes (seconds at a gigabyte).
        grace = None if self.load.expects_hit else KEY_GRACE
        if key_known.wait(grace) and self.entry is not None and self.entry[0].has(self.entry[1]):
            if self.load.unprepare is not None:  # (a tshark started early is not needed)
                self.load.unprepare()
            entry, cached = lookup.result()
            self.peeked = peeked.is_set()
            if cached is None and not self.peeked:  # the entry did not load after all
                self._read()
            return entry, cached
        after_item = self.after_item

        def stop_when() -> bool:
            return peeked.is_set() or (lookup.done() and lookup.result()[1] is not None) or (
                after_item is not None and after_item())

        self._read(stop_when=stop_when)
        result = lookup.result()
        self.peeked = peeked.is_set()
        return result

    def _read(self, stop_when: Callable[[], bool] | None = None) -> None:
        items: Iterable[SourceItem] = ()
        try:
            items = self.load.read(self.cancel)
            fold(items, self.builder, self.on_progress, stop_when or self.after_item)
        except Exception as exc:
            if not self.tolerant:
                raise
            self._diagnose("error", f"loading stopped: {type(exc).__name__}: {exc}", "load-failed")
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # a generator source stops tshark in its ``finally``
            self.builder.finish()  # (what placed the events is let go before the analysis)
        self.cancelled = any(d.code == "cancelled" for d in self.capture.diagnostics)
        if self.cancel.is_set() and not self.cancelled:
            self.cancelled = True
            count = self.builder.events_applied
            self._diagnose("warning", f"loading cancelled after {count} events: showing what was read", "cancelled")

    def _analyse(self) -> None:
        if self.on_step is not None:
            self.on_step("analysing the pushes")
        try:
            self.analyser(self.capture)
        except Exception as exc:
            if not self.tolerant:
                raise
            self._diagnose("error", f"analysis failed: {type(exc).__name__}: {exc}", "analysis-failed")

    def _diagnose(self, level: str, message: str, code: str) -> None:
        self.capture.diagnostics.append(Diagnostic(level=level, message=message, code=code))  # type: ignore[arg-type]


def load_capture(
    path: str,
    keylog: str | None = None,
    *,
    cancel: threading.Event | None = None,
    on_progress: ProgressCallback | None = None,
    quic_ports: Sequence[int] | None = None,
    use_cache: bool = False,
    keylog_origin: str | None = None,
    on_step: Callable[[str], None] | None = None,
) -> Capture:
    """Read and analyse a capture; with ``use_cache``, from the user's cache when it holds this very capture."""
    load = capture_file(path, keylog, keylog_origin=keylog_origin, quic_ports=quic_ports or (), use_cache=use_cache)
    return Loader(load, cancel=cancel, on_progress=on_progress, on_step=on_step).run()


def cache_lookup(path: str, keylog: str | None, quic_ports: Sequence[int] | None,
                 keylog_origin: str | None = None) -> tuple[CaptureCache | None, str | None]:
    """The cache and this capture's key in it; (None, None) when the files cannot be read (the load says why).
    With ``keylog_origin`` the caller already chose ``keylog`` (None: no key log), as in ``read_capture``."""
    try:
        if keylog_origin is not None:
            used = keylog or None
        else:
            from pushscope.sources.capture_file import resolve_keylog

            used = resolve_keylog(keylog)[0]
        cache = CaptureCache()
        identity = input_identity(path, used, quic_ports or (), keylog_origin)
        key = cache_key(path, used, quic_ports or (), keylog_origin)
        cache.remember(path)
        if identity is not None and identity == input_identity(path, used, quic_ports or (), keylog_origin):
            cache.note_key(identity, key)  # (not when a file changed while it was hashed)
        return cache, key
    except OSError:
        return None, None
