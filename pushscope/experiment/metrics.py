"""What one page load measured, from the probe's own record of it (no I/O here).

Times are seconds from the start of the run (before the first connection opened) to the moment the page had a
resource (the end of its fetch: a pushed response counts once it was claimed and complete):

- ``document``: the document;
- ``render_blocking``: the document and every render-blocking resource: stylesheets, and scripts in the head
  without ``async``, ``defer`` or ``type=module`` (what a browser must have before the first paint);
- ``all_subresources``: everything the page loaded.

Bytes are response bytes as received (bodies as sent on the wire, before any Content-Encoding is undone).
A push is wasted when the probe's own verdict on it is not ``used``; its bytes are then wasted bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from pushscope.http.urls import join_url, normalize_url
from pushscope.safe_text import visible
from pushscope.vocabulary import Outcome, Reason

MAX_PARSED = 2 * 1024 * 1024  # bytes of the document searched for render-blocking resources
MAX_WATERFALL = 500  # rows kept per run
METRICS = ("document", "render_blocking", "all_subresources")


class _BlockingParser(HTMLParser):
    """Stylesheets anywhere, and synchronous scripts in the head."""

    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.in_head = True
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): (value or "") for name, value in attrs}
        if tag == "body":
            self.in_head = False
        elif tag == "link" and "stylesheet" in values.get("rel", "").lower().split() and values.get("href"):
            if values.get("media", "all").strip().lower() not in ("print",):
                self._add(values["href"])
        elif tag == "script" and self.in_head and values.get("src"):
            module = values.get("type", "").strip().lower() == "module"
            if not module and "async" not in values and "defer" not in values:
                self._add(values["src"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self.in_head = False

    def _add(self, reference: str) -> None:
        joined = join_url(self.base, reference.strip())
        if joined is not None and len(self.found) < 1000:
            self.found.append(normalize_url(joined))


def render_blocking_urls(html: bytes, base_url: str) -> list[str]:
    parser = _BlockingParser(base_url)
    try:
        parser.feed(html[:MAX_PARSED].decode("utf-8", "replace"))
        parser.close()
    except (ValueError, AssertionError):  # HTMLParser on hostile input: keep what was found
        pass
    return parser.found


@dataclass(slots=True)
class PushOutcome:
    url: str
    outcome: str
    reason: str
    bytes: int

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "outcome": self.outcome, "reason": self.reason, "bytes": self.bytes}


@dataclass(slots=True)
class RunMetrics:
    profile: str
    strategy: str
    round: int
    ok: bool = False
    error: str | None = None
    document: float | None = None
    render_blocking: float | None = None
    all_subresources: float | None = None
    bytes_received: int = 0
    pushed_bytes: int = 0
    wasted_push_bytes: int = 0
    pushes: list[PushOutcome] = field(default_factory=list)
    blocking: list[str] = field(default_factory=list)
    waterfall: list[dict[str, Any]] = field(default_factory=list)
    events_file: str | None = None

    def value(self, metric: str) -> float | None:
        return getattr(self, metric) if metric in METRICS else None

    def as_dict(self) -> dict[str, Any]:
        return {"profile": self.profile, "strategy": self.strategy, "round": self.round, "ok": self.ok,
                "error": self.error, "document_ms": _ms(self.document), "render_blocking_ms": _ms(self.render_blocking),
                "all_subresources_ms": _ms(self.all_subresources), "bytes_received": self.bytes_received,
                "pushed_bytes": self.pushed_bytes, "wasted_push_bytes": self.wasted_push_bytes,
                "pushes": [p.as_dict() for p in self.pushes], "render_blocking_resources": list(self.blocking),
                "waterfall": list(self.waterfall), "events_file": self.events_file}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def measure_run(result: Any, index: int, profile: str, strategy: str, round_number: int) -> RunMetrics:
    """The metrics of run ``index`` of a probe SessionResult (its RunStarted and RunFinished events, the truths,
    and the client's own fetched and transfers lists)."""
    metrics = RunMetrics(profile, strategy, round_number)
    run = result.runs[index] if index < len(result.runs) and index < len(result.started) else None
    fetched = result.fetched[index] if index < len(result.fetched) else []
    transfers = result.transfers[index] if index < len(result.transfers) else []
    if run is None or not fetched:
        metrics.error = "the run did not load the page"
        return metrics
    metrics.error = None if run.error is None else visible(run.error)[:500]  # may quote what the server sent
    start = result.started[index].at
    document = next((f for f in fetched if f.destination == "document"), None)
    if document is None or not document.ok or document.completed_at is None:
        metrics.error = metrics.error or "the document did not load"
        return metrics
    metrics.ok = metrics.error is None
    metrics.document = document.completed_at - start
    metrics.blocking = render_blocking_urls(document.body, document.url)
    blocking = set(metrics.blocking)
    ends = [f.completed_at for f in fetched if f.completed_at is not None]
    metrics.all_subresources = max(ends) - start
    blocking_ends = [f.completed_at for f in fetched if normalize_url(f.url) in blocking and f.completed_at]
    metrics.render_blocking = max([metrics.document, *(end - start for end in blocking_ends)])
    _count_bytes(metrics, transfers, result.truth, run.label)
    metrics.waterfall = waterfall(fetched, transfers, start)
    return metrics


def _count_bytes(metrics: RunMetrics, transfers: list[Any], truth: list[Any], label: Any) -> None:
    verdicts = {(t.connection_id, t.url, t.push_id, t.stream_id): t for t in truth if t.run == label}
    for transfer in transfers:
        metrics.bytes_received += transfer.received_bytes
        if not transfer.pushed:
            continue
        metrics.pushed_bytes += transfer.received_bytes
        verdict = verdicts.get((transfer.connection_id, transfer.url, transfer.push_id, transfer.stream_id))
        outcome = str(verdict.outcome) if verdict is not None else str(Outcome.UNKNOWN)
        reason = str(verdict.reason) if verdict is not None else str(Reason.NONE)
        if outcome != Outcome.USED:
            metrics.wasted_push_bytes += transfer.received_bytes
        metrics.pushes.append(PushOutcome(visible(transfer.url)[:500], outcome, reason, transfer.received_bytes))


def waterfall(fetched: list[Any], transfers: list[Any], start: float) -> list[dict[str, Any]]:
    """One row per resource the page had: from its request (or promise) to when the page had it."""
    rows: list[dict[str, Any]] = []
    for item in fetched[:MAX_WATERFALL]:
        transfer = item.transfer
        begin = transfer.started_at if transfer is not None else item.completed_at
        rows.append({"url": visible(item.url)[:500], "destination": item.destination, "source": item.source,
                     "status": item.status, "start_ms": _ms((begin or start) - start),
                     "end_ms": _ms((item.completed_at or start) - start),
                     "bytes": transfer.received_bytes if transfer is not None else 0})
    fetched_transfers = {id(item.transfer) for item in fetched}
    for transfer in transfers:
        if transfer.pushed and id(transfer) not in fetched_transfers and len(rows) < MAX_WATERFALL:
            rows.append({"url": visible(transfer.url)[:500], "destination": "push (not used)", "source": "push",
                         "status": transfer.status, "start_ms": _ms(transfer.started_at - start),
                         "end_ms": _ms((transfer.ended_at or transfer.started_at) - start),
                         "bytes": transfer.received_bytes})
    return rows
