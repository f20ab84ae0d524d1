"""From a source to an analysed model: the glue every front end (CLI report, TUI, probe) shares. No UI here."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from pushscope.analysis import analyse
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


def load_capture(
    path: str,
    keylog: str | None = None,
    *,
    cancel: threading.Event | None = None,
    on_progress: ProgressCallback | None = None,
    quic_ports: list[int] | None = None,
) -> Capture:
    from pushscope.sources.capture_file import read_capture

    builder = CaptureBuilder(source="capture", name=Path(path).name)
    fold(read_capture(path, keylog, cancel=cancel, quic_ports=quic_ports), builder, on_progress)
    analyse(builder.capture)
    return builder.capture
