"""A probe session: one or more page loads ("runs"), each on new connections, sharing one HTTP cache.

The first run starts with an empty cache ("cold"); later runs keep what earlier runs stored ("warm"), unless
a run is named "cold", which empties it again. Everything the session learns leaves it as items in one stream:
the decoders' events for the traffic, ``RunStarted``/``RunFinished`` around each run, a ``PushTruthRecorded``
(``truth.judge``) for every push, and diagnostics. ``run_session`` is the entry point: it runs the whole session
and returns those items, which fold into a model like any source's (``pushscope.pipeline``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from pushscope.events import Diagnostic, Event, Headers, PushTruthRecorded, RunFinished, RunStarted, SourceProgress
from pushscope.http.headers import header_values
from pushscope.sources.probe.connection import (
    Origin,
    ProbeConnection,
    ProbeError,
    ProbeOptions,
    Transfer,
)
from pushscope.sources.probe.h2_client import H2ProbeConnection
from pushscope.sources.probe.http_cache import HttpCache
from pushscope.sources.probe.page_loader import CookieJar, Fetched, PageLoader
from pushscope.sources.probe.truth import RunLabel, judge

# What a probe session yields, in order: the model folds all of these (progress goes to the sink only).
Item = Event | Diagnostic | RunStarted | RunFinished
Sink = Callable[[Item | SourceProgress], None]
LATE_PROMISE_GRACE = 0.1  # seconds to wait for promises after the page finished, even with nothing pending
DEFAULT_ALT_SVC_MAX_AGE = 86400
ALT_SVC_HANDSHAKE_TIMEOUT = 3.0  # an alternative that does not answer falls back to HTTP/2 this soon


@dataclass(slots=True)
class RunState:
    """One run while it goes on: what its ``RunFinished`` will say."""

    label: RunLabel
    connections: list[str] = field(default_factory=list)
    protocols: dict[str, str] = field(default_factory=dict)
    document: str | None = None
    status: int | None = None
    fetched_from: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def finished(self, at: float) -> RunFinished:
        return RunFinished(label=self.label, at=at, connections=tuple(self.connections),
                           protocols=dict(self.protocols), document=self.document, status=self.status,
                           fetched_from=dict(self.fetched_from), error=self.error)


@dataclass(slots=True)
class SessionResult:
    """The items a session produced, in order (events, run records, truths, diagnostics)."""

    options: ProbeOptions
    items: list[Item] = field(default_factory=list)
    # The client's own view of each run, for timing it (``pushscope experiment``); the model never needs it.
    fetched: list[list[Fetched]] = field(default_factory=list)  # per run: what the page got, from where, when
    transfers: list[list[Transfer]] = field(default_factory=list)  # per run: every request and push it carried

    @property
    def started(self) -> list[RunStarted]:
        return [item for item in self.items if isinstance(item, RunStarted)]

    @property
    def runs(self) -> list[RunFinished]:
        return [item for item in self.items if isinstance(item, RunFinished)]

    @property
    def truth(self) -> list[PushTruthRecorded]:
        return [item for item in self.items if isinstance(item, PushTruthRecorded)]

    @property
    def loaded(self) -> bool:
        """Some run got its document (a status): there is a page to report on."""
        return any(run.status is not None for run in self.runs)

    @property
    def name(self) -> str:
        return session_name(self.options.url, [run.label for run in self.started])


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

    def __init__(self, session: ProbeSession, run: RunState) -> None:
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
                self.session.diagnose(Diagnostic(level="warning",
                                                 message=f"run {self.run.label}: HTTP/3 at {target.host}:{target.port} "
                                                 f"(from Alt-Svc) failed: {exc}; falling back to HTTP/2, "
                                                 "as a browser would",
                                                 connection_id=connection.connection_id, code="probe-alt-svc"))
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
        self._secrets_log: TextIO | None = None
        self.cancelled = False
        self._deadline = float("inf")

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
        connect_to = self.options.connect_to
        if connect_to is not None and target == Origin.of(self.options.url):
            target = Origin(target.scheme, connect_to[0], connect_to[1])
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
                    self.diagnose(Diagnostic(level="info",
                                             message=f"{connection.origin} announced HTTP/3 at {host}:{port} "
                                             f"(Alt-Svc, from {transfer.url}); later connections use it",
                                             connection_id=connection.connection_id, code="probe-alt-svc"))
                    return
            return  # only the first response that carries Alt-Svc counts

    def _on_promise(self, connection: ProbeConnection, push: Transfer) -> None:
        fresh = self.cache.lookup(push.url, push.request_headers, push.started_at)
        push.had_fresh_copy = fresh is not None
        if fresh is not None and self.options.cancel_cached:
            connection.cancel_push(push)

    # -- runs --------------------------------------------------------------------------------------------
    def _time_left(self) -> float:
        return max(0.0, self._deadline - time.monotonic())

    async def run(self) -> SessionResult:
        self._deadline = time.monotonic() + self.options.limits.deadline
        labels = self.options.runs
        try:
            for index, label in enumerate(labels):
                if self.cancelled:
                    break
                cold = index == 0 or label == "cold"
                if cold:
                    self.cache.clear()
                    self.cookies = CookieJar()
                self.progress(SourceProgress(done=index, total=len(labels), unit="runs",
                                             detail=f"{label} run: loading {self.options.url}"))
                await self._run(index, label, cold)
            self.progress(SourceProgress(done=len(labels), total=len(labels), unit="runs", detail="done"))
        finally:
            if self._secrets_log is not None:
                self._secrets_log.close()
        return self.result

    async def _run(self, index: int, label: RunLabel, cold: bool) -> None:
        run = RunState(label)
        self.emit(RunStarted(label=label, index=index, cold=cold, at=time.time(), cached_at_start=len(self.cache)))
        pool = ConnectionPool(self, run)
        loader = PageLoader(self.options, self.cache, self.cookies, pool.get, self.diagnose, label)
        try:
            await self._load(run, pool, loader)
        except BaseException:  # cancelled: the run still ends, but the probe does not judge what it cut short
            await self._finish(run, pool, loader, judged=False)
            raise
        await self._finish(run, pool, loader, judged=True)

    async def _load(self, run: RunState, pool: ConnectionPool, loader: PageLoader) -> None:
        try:
            document = await asyncio.wait_for(loader.load(self.options.url), self._time_left())
            run.document, run.status = document.url, document.status
            if document.error:
                run.error = document.error
            await pool.settle(min(self.options.linger, self._time_left()))
        except TimeoutError:
            limits = self.options.limits
            limits.note("deadline")
            pending = sum(1 for c in pool.connections.values() for t in c.open_transfers())
            step = f"{pending} responses still open" if pending else "connecting"
            run.error = f"the run's deadline of {limits.deadline:g}s (--deadline) was reached ({step})"
            self.diagnose(Diagnostic(level="error", message=f"run {run.label}: {run.error}; everything seen so far "
                                     "is kept", connection_id=None, code="probe-limit"))
        except ProbeError as exc:
            run.error = str(exc)
            self.diagnose(Diagnostic(level="error", message=f"run {run.label}: {exc}", connection_id=None,
                                     code="probe-failed"))

    async def _finish(self, run: RunState, pool: ConnectionPool, loader: PageLoader, *, judged: bool) -> None:
        """Close the run's connections, then its truths (one per push) and its RunFinished."""
        for connection in pool.connections.values():
            self._learn_alt_svc(connection)
        try:
            await pool.close()
        finally:
            for fetched in loader.fetched:
                run.fetched_from[fetched.source] = run.fetched_from.get(fetched.source, 0) + 1
            self.result.fetched.append(list(loader.fetched))
            self.result.transfers.append([t for c in pool.all for t in c.requests + c.pushes])
            if judged:
                for connection in pool.connections.values():
                    for push in connection.pushes:
                        self.emit(judge(push, connection, loader, run.label))
            self.emit(run.finished(time.time()))


def run_session(options: ProbeOptions, sink: Sink | None = None) -> SessionResult:
    """Run the whole probe session (every run) and return its items; ``sink`` also sees each item as it happens,
    and the progress. The probe's one entry point: fold ``result.items`` like any source's."""
    return asyncio.run(ProbeSession(options, sink).run())
