"""``pushscope probe --save FILE``: a probe session as JSON lines, reopened by ``pushscope FILE``.

Format (``pushscope-session``, version 2), UTF-8, one JSON object per line, optionally gzipped:

* line 1, the header: ``{"format": "pushscope-session", "version": 2, "source": "probe", "name": ...,
  "url": ..., "created": <epoch seconds>, "pushscope": <version>, "options": {...}}``
* then the session's items, in the order the probe produced them:

  - ``{"kind": "event", "type": "<class name in pushscope.events>", ...fields}``: one event, with its
    dataclass fields by name, the probe's own knowledge included (``RunStarted``, ``RunFinished``,
    ``PushTruthRecorded``). ``data`` (DataReceived) is base64; ``client``/``server`` are
    ``{"address", "port"}``; header lists are lists of ``[name, value]`` pairs; tuples are lists.
  - ``{"kind": "diagnostic", "level", "message", "connection_id", "code"}``

Version 1 kept the runs and truths on lines of their own (``{"kind": "run", ...}``, ``{"kind": "truth", ...}``,
after the events); they are read as the RunStarted/RunFinished and PushTruthRecorded events they were.
Unknown kinds and event types are skipped, so later versions can add lines. Header values are stored as
sent (a saved session is like a capture: it is not redacted); key material is never written.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import gzip
import json
import time
import typing
from collections.abc import Generator, Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import IO, Any

from pushscope import __version__
from pushscope.decode.frame_names import frame_type_of
from pushscope.events import Diagnostic, Endpoint, PushTruthRecorded, RunFinished, RunStarted
from pushscope.sources.probe.session import Item, session_name
from pushscope.sources.probe.session_schema import LEGACY_REASONS, RECORD_TYPES, record_problem
from pushscope.vocabulary import Outcome, Reason

FORMAT = "pushscope-session"
VERSION = 2
GZIP_MAGIC = b"\x1f\x8b"


# --------------------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------------------
def event_record(item: Item) -> dict[str, Any]:
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


def write_session(path: str | Path, items: Iterable[Item], *, url: str, options: dict[str, Any] | None = None) -> None:
    """The session's items (progress and SourceFinished are not items) after a header naming it."""
    items = list(items)
    labels = [item.label for item in items if isinstance(item, RunStarted)]
    header = {"format": FORMAT, "version": VERSION, "source": "probe", "name": session_name(url, labels), "url": url,
              "created": time.time(), "pushscope": __version__, "options": options or {}}
    with _open_write(path) as out:
        out.write(json.dumps(header) + "\n")
        for item in items:
            out.write(json.dumps(event_record(item), separators=(",", ":")) + "\n")


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


def _records(path: str | Path) -> Generator[dict[str, Any], None, None]:
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
        protocols: dict[str, str] = {}  # per connection, for frame types saved by name
        for number, line in enumerate(handle, start=2):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (ValueError, RecursionError) as exc:
                raise SavedSessionError(f"{path}, line {number}: not JSON ({exc})") from None
            if not isinstance(record, dict):
                raise SavedSessionError(f"{path}, line {number}: not a JSON object")
            _legacy_frame_type(record, protocols)
            problem = record_problem(record)
            if problem:
                raise SavedSessionError(f"{path}, line {number}: does not fit the session schema ({problem})")
            yield record


def _legacy_frame_type(record: dict[str, Any], protocols: dict[str, str]) -> None:
    """Sessions saved while frame types were names ("HEADERS") get the protocol's integer back; the connection's
    protocol, from its earlier lines, says which table (HTTP/2's or HTTP/3's) the name is from."""
    if record.get("kind") != "event":
        return
    kind, connection = record.get("type"), record.get("connection_id")
    if kind in ("ConnectionOpened", "ConnectionUpdated") and isinstance(record.get("protocol"), str):
        if record["protocol"] != "unknown":
            protocols[str(connection)] = record["protocol"]
    elif kind == "FrameReceived" and isinstance(record.get("frame_type"), str):
        code = frame_type_of(protocols.get(str(connection), "h2"), record["frame_type"])
        if code is not None:
            record["frame_type"] = code


def item_from_record(record: dict[str, Any]) -> Item | None:
    """One line as the item it records; a version 1 ``run`` line is read by ``legacy_run``."""
    kind = record.get("kind")
    if kind == "diagnostic":
        return Diagnostic(level=record["level"], message=record["message"], connection_id=record.get("connection_id"),
                          code=record.get("code", ""))
    if kind == "truth":
        return legacy_truth(record)
    if kind != "event":
        return None
    cls = RECORD_TYPES.get(record.get("type", ""))
    if cls is None:
        return None
    hints = _hints(cls)
    values = {spec.name: _value(hints[spec.name], spec.name, record[spec.name])
              for spec in dataclasses.fields(cls) if spec.name in record}
    return cls(**values)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _value(hint: Any, name: str, value: Any) -> Any:
    """A JSON value back as the field's type: endpoints, base64 bytes, header pairs, tuples, enum members."""
    if isinstance(value, dict) and name in ("client", "server"):
        return Endpoint(value["address"], int(value["port"]))
    if isinstance(value, str) and hint is bytes:
        return base64.b64decode(value)
    if isinstance(value, list) and name == "headers":
        return [(str(k), str(v)) for k, v in value]
    if isinstance(value, list) and typing.get_origin(hint) is tuple:
        return tuple(value)
    if isinstance(value, dict) and name == "settings":
        return {str(k): int(v) for k, v in value.items()}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    return value


def legacy_truth(record: dict[str, Any]) -> PushTruthRecorded:
    """A version 1 ``truth`` line (with the reason words of older probes) as the event it stands for."""
    return PushTruthRecorded(
        connection_id=record["connection"], at=float(record.get("promised_at") or 0.0), run=record["run"],
        url=record["url"], stream_id=record.get("stream_id"), push_id=record.get("push_id"),
        outcome=Outcome(record["outcome"]), reason=Reason(LEGACY_REASONS.get(record["reason"], record["reason"])),
        detail=record.get("detail", ""))


def legacy_run(record: dict[str, Any]) -> tuple[RunStarted, RunFinished]:
    """A version 1 ``run`` line as the start and finish of that run."""
    started_at = float(record["started_at"])
    ended_at = record.get("ended_at")
    return (RunStarted(label=record["label"], index=int(record["index"]), cold=bool(record["cold"]), at=started_at,
                       cached_at_start=int(record.get("cached_at_start", 0))),
            RunFinished(label=record["label"], at=started_at if ended_at is None else float(ended_at),
                        connections=tuple(record.get("connections", [])), protocols=dict(record.get("protocols", {})),
                        document=record.get("document"), status=record.get("status"),
                        fetched_from=dict(record.get("fetched_from", {})), error=record.get("error")))


def read_saved_session(path: str | Path) -> Iterator[Item]:
    """The saved items in their original order: fold them like any source's. A version 1 session's runs and
    truths come as the events they stand for, its probe-disagrees diagnostics not at all (the analysis makes them)."""
    for record in _records(path):
        if record.get("kind") == "run":
            yield from legacy_run(record)
            continue
        item = item_from_record(record)
        if item is not None and not (isinstance(item, Diagnostic) and item.code == "probe-disagrees"):
            yield item


def saved_session_header(path: str | Path) -> dict[str, Any]:
    """The header line, checked (SavedSessionError when the file is not a session)."""
    records = _records(path)
    try:
        return next(records)
    finally:
        records.close()
