"""From a source to an analysed model: the glue every front end (CLI report, TUI, probe) shares. No UI here."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pushscope.analysis import analyse
from pushscope.cache import CaptureCache, cache_key
from pushscope.events import SourceFinished, SourceProgress
from pushscope.model.builder import CaptureBuilder
from pushscope.model.entities import Capture

ProgressCallback = Callable[[SourceProgress], None]


def fold(items: Iterable[object], builder: CaptureBuilder, on_progress: ProgressCallback | None = None) -> None:
    """Apply every event and diagnostic to the builder; hand progress items to ``on_progress``."""
    for item in items:
        if isinstance(item, SourceProgress):
            if on_progress is not None:
                on_progress(item)
        elif isinstance(item, SourceFinished):
            continue
        else:
            builder.apply(item)  # type: ignore[arg-type]


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


def load_capture(
    path: str,
    keylog: str | None = None,
    *,
    cancel: threading.Event | None = None,
    on_progress: ProgressCallback | None = None,
    quic_ports: list[int] | None = None,
    use_cache: bool = False,
    keylog_origin: str | None = None,
    on_step: Callable[[str], None] | None = None,
) -> Capture:
    """Read and analyse a capture; with ``use_cache``, from the user's cache when it holds this very capture."""
    cache, key = cache_lookup(path, keylog, quic_ports, keylog_origin) if use_cache else (None, None)
    with collector_paused():
        if cache is not None and key is not None:
            cached = cache.load(key)
            if cached is not None:
                return cached
        from pushscope.sources.capture_file import read_capture  # only now: a cache hit never needs tshark's side

        builder = CaptureBuilder(source="capture", name=Path(path).name)
        fold(read_capture(path, keylog, cancel=cancel, quic_ports=quic_ports, keylog_origin=keylog_origin), builder,
             on_progress)
        if on_step is not None:
            on_step("analysing the pushes")
        analyse(builder.capture)
    if cache is not None and key is not None:
        cache.store_at_exit(key, builder.capture)
    return builder.capture


def cache_lookup(path: str, keylog: str | None, quic_ports: list[int] | None,
                 keylog_origin: str | None = None) -> tuple[CaptureCache | None, str | None]:
    """The cache and this capture's key in it; (None, None) when the files cannot be read (the load says why).
    With ``keylog_origin`` the caller already chose ``keylog`` (None: no key log), as in ``read_capture``."""
    try:
        if keylog_origin is not None:
            used = keylog or None
        else:
            from pushscope.sources.capture_file import resolve_keylog

            used = resolve_keylog(keylog)[0]
        return CaptureCache(), cache_key(path, used, quic_ports or (), keylog_origin)
    except OSError:
        return None, None
