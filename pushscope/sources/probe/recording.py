"""``pushscope probe --save FILE``: a probe session as JSON lines, reopened by ``pushscope FILE``.

Format (``pushscope-session``, version 1), UTF-8, one JSON object per line, optionally gzipped:

* line 1, the header: ``{"format": "pushscope-session", "version": 1, "source": "probe", "name": ...,
  "url": ..., "created": <epoch seconds>, "pushscope": <version>, "options": {...}}``
* then, in the order the probe produced them:

  - ``{"kind": "event", "type": "<class name in pushscope.events>", ...fields}``: one event, with its
    dataclass fields by name. ``data`` (DataReceived) is base64; ``client``/``server`` are
    ``{"address", "port"}``; header lists are lists of ``[name, value]`` pairs; ``flags`` is a list.
  - ``{"kind": "diagnostic", "level", "message", "connection_id", "code"}``
  - ``{"kind": "run", ...}``: one per run (label, index, cold, connections, protocols, document, ...)
  - ``{"kind": "truth", ...}``: the probe's ground truth for one push (connection, run, url, stream_id,
    push_id, outcome, reason, detail)

Unknown kinds and event types are skipped, so later versions can add lines. Header values are stored as
sent (a saved session is like a capture: it is not redacted); key material is never written.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pushscope import __version__, events
from pushscope.events import Diagnostic, Endpoint, Event
from pushscope.model.entities import Capture
from pushscope.sources.probe.report import probe_report, render_probe_text
from pushscope.sources.probe.session import RunInfo, session_name
from pushscope.sources.probe.session_schema import record_problem
from pushscope.sources.probe.truth import PushTruth, RunLabel, build_capture

FORMAT = "pushscope-session"
VERSION = 1
EVENT_TYPES: dict[str, type[Event]] = {
    name: cls for name, cls in vars(events).items()
    if isinstance(cls, type) and issubclass(cls, Event) and cls is not Event
}
GZIP_MAGIC = b"\x1f\x8b"


# --------------------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------------------
def event_record(item: Event | Diagnostic) -> dict[str, Any]:
    if isinstance(item, Diagnostic):
        return {"kind": "diagnostic", "level": item.level, "message": item.message,
                "connection_id": item.connection_id, "code": item.code}
    record: dict[str, Any] = {"kind": "event", "type": type(item).__name__}
    for spec in dataclasses.fields(item):
        value = getattr(item, spec.name)
        if isinstance(value, bytes):
            value = base64.b64encode(value).decode("ascii")
        elif isinstance(value, Endpoint):
            value = {"address": value.address, "port": value.port}
        elif isinstance(value, (list, tuple)):
            value = [list(v) if isinstance(v, tuple) else v for v in value]
        record[spec.name] = value
    return record


def _open_write(path: str | Path) -> IO[str]:
    if str(path).endswith(".gz"):
        return gzip.open(path, "wt", encoding="utf-8")
    return open(path, "w", encoding="utf-8")  # noqa: SIM115


def write_session(path: str | Path, items: Iterable[Event | Diagnostic], runs: list[RunInfo],
                  truth: list[PushTruth], *, url: str, options: dict[str, Any] | None = None) -> None:
    header = {"format": FORMAT, "version": VERSION, "source": "probe",
              "name": session_name(url, [run.label for run in runs]), "url": url, "created": time.time(),
              "pushscope": __version__, "options": options or {}}
    with _open_write(path) as out:
        out.write(json.dumps(header) + "\n")
        for item in items:
            out.write(json.dumps(event_record(item), separators=(",", ":")) + "\n")
        for run in runs:
            out.write(json.dumps({"kind": "run", **run.as_dict()}) + "\n")
        for push in truth:
            out.write(json.dumps({"kind": "truth", **push.as_dict()}) + "\n")


# --------------------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------------------
class SavedSessionError(ValueError):
    pass


def _open_read(path: str | Path) -> IO[str]:
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == GZIP_MAGIC:
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")  # noqa: SIM115


def is_saved_session(path: str | Path) -> bool:
    """True if ``path`` starts like a saved probe session (so ``pushscope FILE`` should not hand it to tshark)."""
    try:
        with _open_read(path) as handle:
            first = handle.readline(4096)
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
        return False
    try:
        header = json.loads(first)
    except (ValueError, RecursionError):  # "[[[[…": deeply nested junk is not a session either
        return False
    return isinstance(header, dict) and header.get("format") == FORMAT


def _records(path: str | Path) -> Iterator[dict[str, Any]]:
    with _open_read(path) as handle:
        first = handle.readline()
        try:
            header = json.loads(first)
        except (ValueError, RecursionError):
            raise SavedSessionError(f"{path} is not a saved pushscope session (line 1 is not JSON)") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise SavedSessionError(f"{path} is not a saved pushscope session (no format header)")
        problem = record_problem({"kind": "header", **header})
        if problem:
            raise SavedSessionError(f"{path}, line 1: not a valid session header ({problem})")
        if header["version"] > VERSION:
            raise SavedSessionError(f"{path} was written by a newer pushscope (format version {header['version']})")
        yield {"kind": "header", **header}
        for number, line in enumerate(handle, start=2):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (ValueError, RecursionError) as exc:
                raise SavedSessionError(f"{path}, line {number}: not JSON ({exc})") from None
            if not isinstance(record, dict):
                raise SavedSessionError(f"{path}, line {number}: not a JSON object")
            problem = record_problem(record)
            if problem:
                raise SavedSessionError(f"{path}, line {number}: does not fit the session schema ({problem})")
            yield record


def item_from_record(record: dict[str, Any]) -> Event | Diagnostic | None:
    kind = record.get("kind")
    if kind == "diagnostic":
        return Diagnostic(level=record["level"], message=record["message"], connection_id=record.get("connection_id"),
                          code=record.get("code", ""))
    if kind != "event":
        return None
    cls = EVENT_TYPES.get(record.get("type", ""))
    if cls is None:
        return None
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(cls):
        if spec.name not in record:
            continue
        value = record[spec.name]
        if spec.name in ("client", "server") and isinstance(value, dict):
            value = Endpoint(value["address"], int(value["port"]))
        elif spec.name == "data" and isinstance(value, str):
            value = base64.b64decode(value)
        elif spec.name == "headers" and isinstance(value, list):
            value = [(str(k), str(v)) for k, v in value]
        elif spec.name in ("flags", "unknown_fields") and isinstance(value, list):
            value = tuple(value)
        elif spec.name == "settings" and isinstance(value, dict):
            value = {str(k): int(v) for k, v in value.items()}
        values[spec.name] = value
    return cls(**values)


def read_saved_session(path: str | Path) -> Iterator[Event | Diagnostic]:
    """The saved events and diagnostics, in their original order: fold them like any source's."""
    for record in _records(path):
        item = item_from_record(record)
        if item is not None:
            yield item


@dataclass(slots=True)
class SavedSession:
    header: dict[str, Any]
    capture: Capture
    runs: list[RunInfo] = field(default_factory=list)
    truth: list[PushTruth] = field(default_factory=list)

    @property
    def runs_by_connection(self) -> dict[str, RunLabel]:
        return {cid: run.label for run in self.runs for cid in run.connections}

    def report(self, *, redact: bool = True) -> dict[str, Any]:
        return probe_report(self.capture, self.runs_by_connection, self.truth, self.runs, redact=redact)

    def text(self, *, redact: bool = True) -> str:
        return render_probe_text(self.capture, self.runs_by_connection, self.truth, self.runs, redact=redact)


def load_saved_session(path: str | Path) -> SavedSession:
    """Reopen a saved session: the model rebuilt from its events, analysed, runs and truth restored."""
    header: dict[str, Any] = {}
    items: list[Event | Diagnostic] = []
    runs: list[RunInfo] = []
    truth: list[PushTruth] = []
    for record in _records(path):
        kind = record.get("kind")
        if kind == "header":
            header = record
        elif kind == "run":
            runs.append(RunInfo.from_dict(record))
        elif kind == "truth":
            truth.append(PushTruth.from_dict(record))
        else:
            item = item_from_record(record)
            if item is not None and not (isinstance(item, Diagnostic) and item.code == "probe-disagrees"):
                items.append(item)
    capture = build_capture(items, header.get("name") or Path(path).name, truth)
    return SavedSession(header, capture, runs, truth)


def render_saved_session(path: str | Path, fmt: str = "text", *, redact: bool = True) -> str:
    """The report of a saved session, as ``pushscope report`` prints it (plus runs and the probe's truth)."""
    session = load_saved_session(path)
    if fmt == "json":
        return json.dumps(session.report(redact=redact), indent=2) + "\n"
    return session.text(redact=redact)
