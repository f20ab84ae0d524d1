"""A probe session: one or more page loads ("runs"), each on new connections, sharing one HTTP cache.

The first run starts with an empty cache ("cold"); later runs keep what earlier runs stored ("warm"), unless
a run is named "cold", which empties it again. Every push gets the probe's own ground truth:

=====================  =================  ===========================================================
truth reason           outcome            meaning
=====================  =================  ===========================================================
claimed                used               a page request was satisfied by the push
cancelled              cache-duplicated   held fresh, so reset as soon as promised (``--cancel-cached``)
already-had-fresh-copy cache-duplicated   held fresh, accepted anyway (never used)
pushed-twice           cache-duplicated   the URL was already promised on this connection
requested-anyway       wasted             the probe sent its own request (in flight before the promise,
                                          or the pushed response varied on a header that differed)
server-reset           wasted             the server reset its own push
connection-closed      wasted             the connection ended before the pushed response completed
ignored-not-referenced wasted             no loaded document or stylesheet references it
ignored                wasted             referenced, yet never claimed (another origin's connection...)
=====================  =================  ===========================================================

The same traffic is folded into the model and analysed like a capture; every push whose verdict differs from
the probe's truth gets a Diagnostic (code ``probe-disagrees``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from pushscope.analysis import analyse
from pushscope.analysis.references import normalize_url
from pushscope.events import Diagnostic, Event, Headers, SourceProgress
from pushscope.model.builder import CaptureBuilder
from pushscope.model.entities import Capture, Push, header_values
from pushscope.pipeline import fold
from pushscope.sources.probe.connection import (
    Origin,
    ProbeConnection,
    ProbeError,
    ProbeOptions,
    Transfer,
)
from pushscope.sources.probe.h2_client import H2ProbeConnection
from pushscope.sources.probe.http_cache import HttpCache
from pushscope.sources.probe.page_loader import CookieJar, PageLoader

RunLabel = str | int
Item = Event | Diagnostic
Sink = Callable[[Event | Diagnostic | SourceProgress], None]
LATE_PROMISE_GRACE = 0.1  # seconds to wait for promises after the page finished, even with nothing pending
DEFAULT_ALT_SVC_MAX_AGE = 86400
ALT_SVC_HANDSHAKE_TIMEOUT = 3.0  # an alternative that does not answer falls back to HTTP/2 this soon

TRUTH_OUTCOMES = {
    "claimed": "used",
    "cancelled": "cache-duplicated",
    "already-had-fresh-copy": "cache-duplicated",
    "pushed-twice": "cache-duplicated",
    "requested-anyway": "wasted",
    "server-reset": "wasted",
    "connection-closed": "wasted",
    "ignored-not-referenced": "wasted",
    "ignored": "wasted",
    "cancelled-uncached": "wasted",
}


@dataclass(slots=True)
class PushTruth:
    """What the probe itself knows happened to one push."""

    connection_id: str
    run: RunLabel
    url: str
    stream_id: int | None
    push_id: int | None
    promised_at: float
    outcome: str
    reason: str
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"connection": self.connection_id, "run": self.run, "url": self.url, "stream_id": self.stream_id,
                "push_id": self.push_id, "promised_at": round(self.promised_at, 6), "outcome": self.outcome,
                "reason": self.reason, "detail": self.detail}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PushTruth:
        return cls(data["connection"], data["run"], data["url"], data.get("stream_id"), data.get("push_id"),
                   float(data.get("promised_at") or 0.0), data["outcome"], data["reason"], data.get("detail", ""))


@dataclass(slots=True)
class RunInfo:
    label: RunLabel
    index: int
    cold: bool
    started_at: float
    ended_at: float | None = None
    connections: list[str] = field(default_factory=list)
    protocols: dict[str, str] = field(default_factory=dict)
    document: str | None = None
    status: int | None = None
    sources: dict[str, int] = field(default_factory=dict)
    cached_at_start: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "index": self.index, "cold": self.cold,
                "started_at": round(self.started_at, 6),
                "ended_at": None if self.ended_at is None else round(self.ended_at, 6),
                "connections": list(self.connections), "protocols": dict(self.protocols),
                "document": self.document, "status": self.status, "fetched_from": dict(self.sources),
                "cached_at_start": self.cached_at_start, "error": self.error}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunInfo:
        return cls(data["label"], int(data["index"]), bool(data["cold"]), float(data["started_at"]),
                   data.get("ended_at"), list(data.get("connections", [])), dict(data.get("protocols", {})),
                   data.get("document"), data.get("status"), dict(data.get("fetched_from", {})),
                   int(data.get("cached_at_start", 0)), data.get("error"))


@dataclass(slots=True)
class SessionResult:
    options: ProbeOptions
    items: list[Item] = field(default_factory=list)
    runs: list[RunInfo] = field(default_factory=list)
    truth: list[PushTruth] = field(default_factory=list)

    @property
    def runs_by_connection(self) -> dict[str, RunLabel]:
        return {cid: run.label for run in self.runs for cid in run.connections}

    @property
    def loaded(self) -> bool:
        return any(run.status is not None for run in self.runs)

    @property
    def name(self) -> str:
        return session_name(self.options.url, [run.label for run in self.runs])


def session_name(url: str, labels: list[RunLabel]) -> str:
    return f"probe {url} ({', '.join(str(label) for label in labels)})"


# --------------------------------------------------------------------------------------------------------
# Alt-Svc
# --------------------------------------------------------------------------------------------------------
def parse_alt_svc(values: list[str], origin: Origin) -> list[tuple[str, str, int, float]] | None:
    """(protocol, host, port, max-age) alternatives; None for ``clear``."""
    found: list[tuple[str, str, int, float]] = []
    for value in values:
        if value.strip().lower() == "clear":
            return None
        for entry in value.split(","):
            parts = [p.strip() for p in entry.split(";")]
            protocol, sep, authority = parts[0].partition("=")
            if not sep:
                continue
            authority = authority.strip('"')
            host, _, port_text = authority.rpartition(":")
            try:
                port = int(port_text)
            except ValueError:
                continue
            max_age = float(DEFAULT_ALT_SVC_MAX_AGE)
            for param in parts[1:]:
                name, _, arg = param.partition("=")
                if name.strip().lower() == "ma":
                    try:
                        max_age = float(arg.strip('"'))
                    except ValueError:
                        pass
            found.append((protocol.strip(), host.strip("[]") or origin.host, port, max_age))
    return found


# --------------------------------------------------------------------------------------------------------
# one run's connections
# --------------------------------------------------------------------------------------------------------
class ConnectionPool:
    """One connection per origin for one run: HTTP/2, or HTTP/3 when asked or when Alt-Svc says so."""

    def __init__(self, session: ProbeSession, run: RunInfo) -> None:
        self.session = session
        self.run = run
        self.connections: dict[Origin, ProbeConnection] = {}
        self.all: list[ProbeConnection] = []
        self._connecting: dict[Origin, asyncio.Task[ProbeConnection]] = {}

    async def get(self, origin: Origin, first_request: tuple[str, Headers] | None) -> ProbeConnection:
        connection = self.connections.get(origin)
        if connection is not None and not connection.closed:
            return connection
        task = self._connecting.get(origin)
        if task is not None and task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]  # this run already failed to connect: do not retry
        if task is None or task.done():
            task = asyncio.get_running_loop().create_task(self._open(origin, first_request))
            self._connecting[origin] = task
        return await asyncio.shield(task)

    def _wants_h3(self, origin: Origin) -> tuple[bool, tuple[str, int] | None]:
        http = self.session.options.http
        if http == "3":
            if not origin.tls:
                raise ProbeError(f"{origin}: HTTP/3 needs https://")
            return True, None
        if http == "auto" and origin.tls:
            alternative = self.session.alternative(origin)
            if alternative is not None:
                return True, alternative
        return False, None

    async def _open(self, origin: Origin, first_request: tuple[str, Headers] | None) -> ProbeConnection:
        h3, alternative = self._wants_h3(origin)
        if h3:
            target = origin if alternative is None else Origin(origin.scheme, alternative[0], alternative[1])
            connection = self._register(self.session.new_connection("h3", origin, target))
            if alternative is not None:
                connection.handshake_timeout = min(self.session.options.timeout, ALT_SVC_HANDSHAKE_TIMEOUT)  # type: ignore[attr-defined]
            try:
                await connection.connect(first_request)
                return self._opened(origin, connection)
            except ProbeError as exc:
                if alternative is None:
                    raise
                self.session.alt_svc_broken(origin)
                self.session.diagnose(Diagnostic(
                    "warning", f"run {self.run.label}: HTTP/3 at {target.host}:{target.port} (from Alt-Svc) failed: "
                    f"{exc}; falling back to HTTP/2, as a browser would", connection.connection_id, "probe-alt-svc"))
        connection = self._register(self.session.new_connection("h2", origin, origin))
        await connection.connect(first_request)
        return self._opened(origin, connection)

    def _register(self, connection: ProbeConnection) -> ProbeConnection:
        self.all.append(connection)
        self.run.connections.append(connection.connection_id)
        self.run.protocols[connection.connection_id] = connection.protocol
        return connection

    def _opened(self, origin: Origin, connection: ProbeConnection) -> ProbeConnection:
        self.connections[origin] = connection
        return connection

    async def settle(self, linger: float) -> None:
        """Give late promises a moment, and unfinished pushes up to ``linger`` seconds, before closing."""
        for task in self._connecting.values():
            if not task.done():
                task.cancel()
        start = time.monotonic()
        await asyncio.sleep(LATE_PROMISE_GRACE)
        while time.monotonic() - start < linger:
            if not any(c.open_transfers() for c in self.connections.values() if not c.closed):
                break
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        for connection in self.all:
            await connection.close()


# --------------------------------------------------------------------------------------------------------
# the session
# --------------------------------------------------------------------------------------------------------
class ProbeSession:
    def __init__(self, options: ProbeOptions, sink: Sink | None = None) -> None:
        self.options = options
        self.sink = sink
        self.cache = HttpCache()
        self.cookies = CookieJar()
        self.result = SessionResult(options)
        self._alt_svc: dict[Origin, tuple[str, int, float]] = {}
        self._broken: set[Origin] = set()
        self._connection_count = 0
        self._secrets_log: IO[str] | None = None
        self.cancelled = False

    # -- output ------------------------------------------------------------------------------------------
    def emit(self, item: Item) -> None:
        self.result.items.append(item)
        if self.sink is not None:
            self.sink(item)

    def diagnose(self, diagnostic: Diagnostic) -> None:
        self.emit(diagnostic)

    def progress(self, progress: SourceProgress) -> None:
        if self.sink is not None:
            self.sink(progress)

    # -- connections -------------------------------------------------------------------------------------
    def new_connection(self, protocol: str, origin: Origin, target: Origin) -> ProbeConnection:
        self._connection_count += 1
        connection_id = f"p{self._connection_count}"
        if protocol == "h3":
            from pushscope.sources.probe.h3_client import H3ProbeConnection

            if self.options.keylog and self._secrets_log is None:
                self._secrets_log = open(self.options.keylog, "a", buffering=1, encoding="ascii")  # noqa: SIM115
            connection: ProbeConnection = H3ProbeConnection(connection_id, origin, self.options, self.emit,
                                                            self._on_promise, self._secrets_log)
        else:
            connection = H2ProbeConnection(connection_id, origin, self.options, self.emit, self._on_promise)
        connection.target = target  # where to connect; requests keep the page's authority (Alt-Svc)
        return connection

    def alternative(self, origin: Origin) -> tuple[str, int] | None:
        if origin in self._broken:
            return None
        entry = self._alt_svc.get(origin)
        if entry is None or entry[2] < time.time():
            return None
        return entry[0], entry[1]

    def alt_svc_broken(self, origin: Origin) -> None:
        self._broken.add(origin)

    def _learn_alt_svc(self, connection: ProbeConnection) -> None:
        if connection.protocol != "h2" or connection.origin in self._alt_svc:
            return
        for transfer in connection.requests:
            values = header_values(transfer.response_headers, "alt-svc")
            if not values:
                continue
            alternatives = parse_alt_svc(values, connection.origin)
            if alternatives is None:
                self._alt_svc.pop(connection.origin, None)
                return
            for protocol, host, port, max_age in alternatives:
                if protocol == "h3":
                    self._alt_svc[connection.origin] = (host, port, time.time() + max_age)
                    self.diagnose(Diagnostic("info", f"{connection.origin} announced HTTP/3 at {host}:{port} "
                                             f"(Alt-Svc, from {transfer.url}); later connections use it",
                                             connection.connection_id, "probe-alt-svc"))
                    return
            return  # only the first response that carries Alt-Svc counts

    def _on_promise(self, connection: ProbeConnection, push: Transfer) -> None:
        fresh = self.cache.lookup(push.url, push.request_headers, push.started_at)
        push.had_fresh_copy = fresh is not None
        if fresh is not None and self.options.cancel_cached:
            connection.cancel_push(push)

    # -- runs --------------------------------------------------------------------------------------------
    async def run(self) -> SessionResult:
        labels = self.options.runs
        try:
            for index, label in enumerate(labels):
                if self.cancelled:
                    break
                cold = index == 0 or label == "cold"
                if cold:
                    self.cache.clear()
                    self.cookies = CookieJar()
                self.progress(SourceProgress(index, len(labels), "runs", f"{label} run: loading {self.options.url}"))
                await self._run(index, label, cold)
            self.progress(SourceProgress(len(labels), len(labels), "runs", "done"))
        finally:
            if self._secrets_log is not None:
                self._secrets_log.close()
        return self.result

    async def _run(self, index: int, label: RunLabel, cold: bool) -> None:
        run = RunInfo(label, index, cold, time.time(), cached_at_start=len(self.cache))
        self.result.runs.append(run)
        pool = ConnectionPool(self, run)
        loader = PageLoader(self.options, self.cache, self.cookies, pool.get, self.diagnose, label)
        try:
            document = await loader.load(self.options.url)
            run.document, run.status = document.url, document.status
            if document.error:
                run.error = document.error
            await pool.settle(self.options.linger)
        except ProbeError as exc:
            run.error = str(exc)
            self.diagnose(Diagnostic("error", f"run {label}: {exc}", None, "probe-failed"))
        finally:
            for connection in pool.connections.values():
                self._learn_alt_svc(connection)
            await pool.close()
            run.ended_at = time.time()
        for fetched in loader.fetched:
            run.sources[fetched.source] = run.sources.get(fetched.source, 0) + 1
        for connection in pool.connections.values():
            for push in connection.pushes:
                self.result.truth.append(judge(push, connection, loader, label))


def judge(push: Transfer, connection: ProbeConnection, loader: PageLoader, run: RunLabel) -> PushTruth:
    """The probe's own account of one push, from what it did and knew."""
    key = normalize_url(push.url)
    own = [t for t in loader.requested.get(key, []) if t is not push]
    requested_after = [t for t in own if t.started_at >= push.started_at]
    referenced_by = loader.referenced.get(key)
    if push.state == "cancelled":
        if push.had_fresh_copy:
            reason, detail = "cancelled", "the probe held a fresh copy and reset the push as soon as it was promised"
        else:
            reason, detail = "cancelled-uncached", "the probe reset the push without holding a copy"
    elif push.had_fresh_copy:
        reason, detail = "already-had-fresh-copy", "the probe held a fresh copy when it was promised and never used it"
    elif push.pushed_twice:
        reason, detail = "pushed-twice", "the same URL was already promised on this connection"
    elif push.requested_before or (push.state != "claimed" and requested_after):
        when = "before the promise arrived" if push.requested_before else "after the promise (not claimable)"
        reason, detail = "requested-anyway", f"the probe sent its own request for it {when}"
    elif push.reset_by == "server":
        reason, detail = "server-reset", f"the server reset the push (code {push.reset_code})"
    elif not push.complete:
        reason, detail = "connection-closed", "the connection ended before the pushed response completed"
    elif push.state == "claimed":
        reason, detail = "claimed", f"claimed for a page request (referenced by {referenced_by or '?'})"
    elif referenced_by is None:
        reason, detail = "ignored-not-referenced", "no loaded document or stylesheet references it"
    else:
        reason, detail = "ignored", f"referenced by {referenced_by} but never claimed on this connection"
    stream_id = push.stream_id
    return PushTruth(connection.connection_id, run, push.url, stream_id, push.push_id, push.started_at,
                     TRUTH_OUTCOMES[reason], reason, detail)


# --------------------------------------------------------------------------------------------------------
# model, verdicts and truth
# --------------------------------------------------------------------------------------------------------
def run_session(options: ProbeOptions, sink: Sink | None = None) -> SessionResult:
    return asyncio.run(ProbeSession(options, sink).run())


def build_capture(items: list[Item], name: str, truth: list[PushTruth]) -> Capture:
    """Fold the session's events like a capture's, analyse, and add a Diagnostic per verdict/truth disagreement."""
    builder = CaptureBuilder(source="probe", name=name)
    fold(items, builder)
    capture = analyse(builder.capture)
    capture.diagnostics.extend(compare_truth(capture, truth))
    return capture


def truth_for(push: Push, truth: list[PushTruth]) -> PushTruth | None:
    for item in truth:
        if item.connection_id != push.connection_id:
            continue
        if push.push_id is not None:
            if item.push_id == push.push_id:
                return item
        elif item.stream_id is not None and item.stream_id == push.promised_stream_id:
            return item
    return None


def compare_truth(capture: Capture, truth: list[PushTruth]) -> list[Diagnostic]:
    """A Diagnostic for every push whose capture-style verdict differs from the probe's own truth."""
    diagnostics: list[Diagnostic] = []
    matched: set[int] = set()
    for push in capture.pushes:
        item = truth_for(push, truth)
        if item is None:
            diagnostics.append(Diagnostic("warning", f"push of {push.url} on {push.connection_id} is in the model "
                                          "but the probe has no record of it", push.connection_id, "probe-disagrees"))
            continue
        matched.add(id(item))
        if item.outcome != push.outcome:
            diagnostics.append(Diagnostic(
                "warning", f"run {item.run}: push of {push.url} on {push.connection_id}: the verdict is "
                f"{push.outcome}/{push.reason} but the probe saw {item.outcome}/{item.reason} ({item.detail})",
                push.connection_id, "probe-disagrees"))
    for item in truth:
        if id(item) not in matched:
            diagnostics.append(Diagnostic("warning", f"run {item.run}: the probe's push of {item.url} on "
                                          f"{item.connection_id} is missing from the model", item.connection_id,
                                          "probe-disagrees"))
    return diagnostics


def match_capture(truth: list[PushTruth], probe_capture: Capture,
                  capture: Capture) -> list[tuple[PushTruth, Push | None]]:
    """Each of the probe's pushes with the same push in a capture of the same traffic (found by the client's
    port, then the promised stream or push ID), or None when the capture does not show it."""
    ports = {cid: conn.client.port for cid, conn in probe_capture.connections.items()}
    by_port = {conn.client.port: cid for cid, conn in capture.connections.items()}
    pairs: list[tuple[PushTruth, Push | None]] = []
    for item in truth:
        captured = by_port.get(ports.get(item.connection_id, -1))
        found = None
        for push in capture.pushes:
            if push.connection_id != captured:
                continue
            if (item.push_id is not None and push.push_id == item.push_id) or (
                    item.push_id is None and push.promised_stream_id == item.stream_id):
                found = push
                break
        pairs.append((item, found))
    return pairs


def compare_with_capture(truth: list[PushTruth], probe_capture: Capture, capture: Capture) -> list[Diagnostic]:
    """Diagnostics for every push where a capture's verdict (e.g. ``load_capture`` of a dumpcap taken with the
    probe's key log) differs from the probe's truth, or where the capture misses the push."""
    out = []
    for item, push in match_capture(truth, probe_capture, capture):
        if push is None:
            out.append(Diagnostic("warning", f"run {item.run}: push of {item.url} ({item.connection_id}) is not in "
                                  "the capture", item.connection_id, "probe-capture-missing"))
        elif push.outcome != item.outcome:
            out.append(Diagnostic("warning", f"run {item.run}: push of {item.url}: the capture says "
                                  f"{push.outcome}/{push.reason}, the probe saw {item.outcome}/{item.reason}",
                                  item.connection_id, "probe-capture-disagrees"))
    return out


def probe_report(capture: Capture, runs_by_connection: dict[str, RunLabel], truth: list[PushTruth],
                 runs: list[RunInfo] | None = None, *, redact: bool = True) -> dict[str, Any]:
    """``report_dict`` plus ``source: "probe"``, ``run`` on every exchange and push, and ``probe_truth``."""
    from pushscope.export.json_report import report_dict

    report = report_dict(capture, redact=redact)
    report["source"] = "probe"
    for exchange in report["exchanges"]:
        exchange["run"] = runs_by_connection.get(exchange["connection"])
    agree = disagree = 0
    for entry, push in zip(report["pushes"], capture.pushes, strict=True):
        entry["run"] = runs_by_connection.get(entry["connection"])
        item = truth_for(push, truth)
        if item is None:
            entry["probe_truth"] = None
            continue
        agrees = item.outcome == push.outcome
        agree, disagree = agree + agrees, disagree + (not agrees)
        entry["probe_truth"] = {"outcome": item.outcome, "reason": item.reason, "detail": item.detail,
                                "agrees": agrees}
    report["probe"] = {
        "runs": [run.as_dict() for run in runs or []],
        "agreement": {"pushes": len(capture.pushes), "agree": agree, "disagree": disagree},
    }
    return report


RUN_SCHEMA = {"type": ["string", "integer", "null"], "description": "the probe run: cold, warm, or a --repeat index"}
PROBE_TRUTH_SCHEMA = {
    "type": ["object", "null"], "additionalProperties": False, "required": ["outcome", "reason", "detail", "agrees"],
    "properties": {
        "outcome": {"enum": ["used", "wasted", "cache-duplicated", "unknown"]},
        "reason": {"enum": sorted(TRUTH_OUTCOMES)},
        "detail": {"type": "string"},
        "agrees": {"type": "boolean", "description": "the capture-style verdict has the same outcome"},
    },
}
PROBE_SECTION_SCHEMA = {
    "type": "object", "required": ["runs", "agreement"],
    "properties": {
        "runs": {"type": "array", "items": {"type": "object", "required": ["label", "index", "cold", "connections"]}},
        "agreement": {"type": "object", "required": ["pushes", "agree", "disagree"]},
    },
}


def probe_report_schema() -> dict[str, Any]:
    """``report.schema.json`` extended with what a probe report adds (``run``, ``probe_truth``, ``probe``)."""
    import copy
    import json
    from importlib.resources import files

    schema = copy.deepcopy(json.loads(files("pushscope.export").joinpath("report.schema.json").read_text()))
    schema["$id"] = schema.get("$id", "").replace("report-1", "probe-report-1")
    schema["title"] = "pushscope probe report"
    schema["properties"]["probe"] = PROBE_SECTION_SCHEMA
    schema["properties"]["source"] = {"const": "probe"}
    schema["$defs"]["exchange"]["properties"]["run"] = RUN_SCHEMA
    schema["$defs"]["push"]["properties"]["run"] = RUN_SCHEMA
    schema["$defs"]["push"]["properties"]["probe_truth"] = PROBE_TRUTH_SCHEMA
    return schema


def render_probe_text(capture: Capture, runs_by_connection: dict[str, RunLabel], truth: list[PushTruth],
                      runs: list[RunInfo] | None = None, *, redact: bool = True) -> str:
    """The text report plus the runs and, per push, the probe's truth beside the verdict."""
    from pushscope.export.text_report import render_text

    lines = [render_text(capture, redact=redact).rstrip("\n"), "", "Probe runs"]
    for run in runs or []:
        connections = ", ".join(f"{cid} ({run.protocols.get(cid, '?')})" for cid in run.connections) or "-"
        sources = ", ".join(f"{n} from {src}" for src, n in sorted(run.sources.items())) or "nothing fetched"
        state = "empty cache" if run.cold else f"{run.cached_at_start} cached"
        status = run.error or f"document {run.status}"
        lines.append(f"  {run.label!s:<6} {state:<14} {connections:<24} {status}; {sources}")
    lines += ["", "Probe truth vs. verdicts"]
    for push in capture.pushes:
        item = truth_for(push, truth)
        run = runs_by_connection.get(push.connection_id, "?")
        ident = f"push_id={push.push_id}" if push.push_id is not None else f"stream {push.promised_stream_id}"
        if item is None:
            lines.append(f"  ? {run!s:<5} {push.connection_id:<4} {ident:<12} {push.url}: no probe record")
            continue
        mark = "=" if item.outcome == push.outcome else "≠"
        probe, verdict = f"{item.outcome}/{item.reason}", f"{push.outcome}/{push.reason}"
        lines.append(f"  {mark} {run!s:<5} {push.connection_id:<4} {ident:<12} probe {probe:<40} verdict "
                     f"{verdict:<34} {push.url}")
    if not capture.pushes:
        lines.append("  (no pushes)")
    return "\n".join(lines) + "\n"

