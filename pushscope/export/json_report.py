"""The JSON report: the contract other tools, the tests and the other exports read.

Its shape is documented in the README and checked against ``report.schema.json``. Header values of Cookie,
Set-Cookie and Authorization are redacted unless asked otherwise; no key material is ever part of the model.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import Any

from pushscope import __version__
from pushscope.analysis.summary import push_summary, summary_dict
from pushscope.events import ConversationAccounted
from pushscope.http.redaction import redact_headers
from pushscope.model.entities import Capture, Connection, Exchange, Push

SCHEMA_VERSION = 1
LARGE_REPORT = 5000
CHUNK_ITEMS = 512  # pieces joined into one chunk of text: fewer, larger writes


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def connection_dict(conn: Connection, pushes: list[Push] | None = None) -> dict[str, Any]:
    return {
        "id": conn.id,
        "index": conn.index,
        "protocol": conn.protocol,
        "transport": conn.transport,
        "client": str(conn.client),
        "server": str(conn.server),
        "tls_version": conn.tls_version,
        "sni": conn.sni,
        "alpn": conn.alpn,
        "decrypted": conn.decrypted,
        "opened_at": _round(conn.opened_at),
        "closed_at": _round(conn.closed_at),
        "close": conn.close_how,
        "settings": conn.settings,
        "max_push_id": conn.max_push_id,
        "push_allowed": conn.push_enabled_by_client,
        "bytes_sent": conn.bytes_sent,
        "goaway": [{"by": by, "last_stream_id": last, "error": name, "at": _round(at)}
                   for by, last, name, at in conn.goaways],
        "anomalies": [{"by": a.sender, "at": _round(a.at), "stream_id": a.stream_id, "message": a.message}
                      for a in conn.anomalies],
        "push_summary": push_summary(pushes or []),
    }


def exchange_dict(exchange: Exchange, redact: bool = True, fields: Collection[str] | None = None) -> dict[str, Any]:
    """``fields``: only those keys (a comparison that reads no header does not copy them for every exchange)."""
    if fields is not None and "request_headers" not in fields and "response_headers" not in fields:
        return {key: value for key, value in _exchange_entry(exchange, [], []).items() if key in fields}
    entry = _exchange_entry(exchange, redact_headers(exchange.request_headers, redact),
                            redact_headers(exchange.response_headers, redact))
    return entry if fields is None else {key: value for key, value in entry.items() if key in fields}


def _exchange_entry(exchange: Exchange, request_headers: object, response_headers: object) -> dict[str, Any]:
    return {
        "id": exchange.id,
        "protocol": exchange.protocol,
        "connection": exchange.connection_id,
        "stream_id": exchange.stream_id,
        "push_id": exchange.push_id,
        "method": exchange.method,
        "url": exchange.url,
        "url_known": exchange.url_known,
        "unknown_fields": list(exchange.unknown_fields),
        "authority_assumed": bool(exchange.assumed_authority),
        "status": exchange.status,
        "pushed": exchange.pushed,
        "content_type": exchange.content_type or None,
        "request_start": _round(exchange.request_start),
        "response_start": _round(exchange.response_start),
        "response_end": _round(exchange.response_end),
        "request_header_bytes": exchange.request_header_bytes,
        "response_header_bytes": exchange.response_header_bytes,
        "body_bytes": exchange.body_bytes,
        "reset": _reset_dict(exchange.reset),
        "request_headers": request_headers,
        "response_headers": response_headers,
    }


def _reset_dict(reset: Any) -> dict[str, Any] | None:
    if reset is None:
        return None
    return {"by": reset.by, "code": reset.name, "code_value": reset.code, "at": _round(reset.at),
            "frame": reset.kind}


def push_dict(push: Push, capture: Capture, fields: Collection[str] | None = None) -> dict[str, Any]:
    """``fields``: only those keys (a gate that reads no evidence does not render it for every push)."""
    exchange = capture.exchange(push.exchange_id)
    cost = push.cost
    evidence = push.evidence if fields is None or "evidence" in fields else []
    entry = {
        "id": push.id,
        "protocol": push.protocol,
        "connection": push.connection_id,
        "parent_stream_id": push.parent_stream_id,
        "promised_stream_id": push.promised_stream_id,
        "push_id": push.push_id,
        "exchange": push.exchange_id,
        "url": push.url,
        "promised_at": _round(push.promised_at),
        "references": [{"stream_id": sid, "at": _round(at)} for sid, at in push.references],
        "status": exchange.status if exchange else None,
        "response_end": _round(exchange.response_end) if exchange else None,
        "pushed_bytes": cost.pushed_bytes or _pushed_bytes(exchange),
        "reset": _reset_dict(push.reset),
        "outcome": push.outcome,
        "reason": push.reason,
        "reason_detail": push.reason_detail,
        "evidence": [
            {"kind": e.kind, "text": e.text, "at": _round(e.at), "exchange": e.exchange_id, "stream_id": e.stream_id}
            for e in evidence
        ],
        "cost": {
            "header_bytes": cost.header_bytes,
            "body_bytes": cost.body_bytes,
            "wasted_bytes": cost.wasted_bytes,
            "duration": _round(cost.duration),
            "competed_bytes": cost.competed_bytes,
            "competed_delay": _round(cost.competed_delay),
            "saved_time": _round(cost.saved_time),
            "late_by": _round(cost.late_by),
        },
        "preload_link": push.preload_link,
        "advice": push.advice,
        "advice_text": push.advice_text,
    }
    return entry if fields is None else {key: value for key, value in entry.items() if key in fields}


def _pushed_bytes(exchange: Exchange | None) -> int:
    return 0 if exchange is None else exchange.response_header_bytes + exchange.body_bytes


def conversation_dict(account: ConversationAccounted) -> dict[str, Any]:
    return {
        "id": account.conversation_id,
        "transport": account.transport,
        "client": str(account.client),
        "server": str(account.server),
        "status": account.status,
        "protocol": account.protocol,
        "how": account.how,
        "reason": account.reason,
        "connection": account.connection_id,
        "packets": account.packets,
        "bytes": account.bytes,
        "first_at": _round(account.first_at),
        "last_at": _round(account.last_at),
    }


def report_dict(capture: Capture, *, redact: bool = True, only: Collection[str] | None = None,
                push_fields: Collection[str] | None = None) -> dict[str, Any]:
    """The whole report, or with ``only`` just those top-level keys (a gate that reads no exchange need not hold
    a dict for each of them), and with ``push_fields`` only those keys of each push."""
    return {key: list(value) if isinstance(value, Iterator) else value
            for key, value in report_sections(capture, redact=redact, push_fields=push_fields).items()
            if only is None or key in only}


def report_sections(capture: Capture, *, redact: bool = True, push_fields: Collection[str] | None = None,
                    exchange_fields: Collection[str] | None = None) -> dict[str, Any]:
    """The report's top-level keys in order; the long lists are generators, so it can be written piece by piece."""
    pushes_by_connection = _pushes_by_connection(capture)
    sections = {
        "pushscope": __version__,
        "schema_version": SCHEMA_VERSION,
        "source": capture.source,
        "name": capture.name,
        "started_at": _round(capture.started_at),
        "ended_at": _round(capture.ended_at),
        "connections": (connection_dict(c, pushes_by_connection.get(c.id, [])) for c in capture.connections.values()),
        "exchanges": (exchange_dict(e, redact, exchange_fields) for e in capture.exchanges),
        "pushes": (push_dict(p, capture, push_fields) for p in capture.pushes),
        "summary": summary_dict(capture),
        "conversations": (conversation_dict(a) for a in capture.conversations),
        "diagnostics": [
            {"level": d.level, "message": d.message, "code": d.code, "connection": d.connection_id}
            for d in capture.diagnostics
        ],
    }
    if capture.probed:
        _add_probe_parts(sections, capture)
    return sections


def _pushes_by_connection(capture: Capture) -> dict[str, list[Push]]:
    by_connection: dict[str, list[Push]] = {}
    for push in capture.pushes:
        by_connection.setdefault(push.connection_id, []).append(push)
    return by_connection


class Remade(Iterable[dict[str, Any]]):
    """Dicts made again from the model on each pass over them, never held in a list (see ``gate_sections``)."""

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[], Iterator[dict[str, Any]]]) -> None:
        self._make = make

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self._make()


def gate_sections(capture: Capture, *, push_fields: Collection[str]) -> dict[str, Any]:
    """What a gate (``check``) reads of a capture's report: the summary, and the pushes (only ``push_fields``) and
    connections made again on each pass. A gigabyte's report dicts of every push and connection (about 200 MiB)
    are then never held at once; the gate keeps those it names. A capture file only: a probe's runs are not added."""
    by_connection = _pushes_by_connection(capture)
    return {
        "summary": summary_dict(capture),
        "pushes": Remade(lambda: (push_dict(p, capture, push_fields) for p in capture.pushes)),
        "connections": Remade(lambda: (connection_dict(c, by_connection.get(c.id, []))
                                       for c in capture.connections.values())),
    }


def _add_probe_parts(sections: dict[str, Any], capture: Capture) -> None:
    """A probe's runs and truth: ``run`` on every exchange and push, ``probe_truth`` on every push, ``probe``."""
    from pushscope.export.probe_report import probe_section, truth_dict

    runs = capture.runs_by_connection
    exchanges, pushes = sections["exchanges"], sections["pushes"]
    sections["exchanges"] = ({**entry, "run": runs.get(entry["connection"])} for entry in exchanges)
    sections["pushes"] = ({**entry, "run": runs.get(push.connection_id), "probe_truth": truth_dict(push)}
                          for entry, push in zip(pushes, capture.pushes, strict=True))
    sections["probe"] = probe_section(capture)


def render_json(capture: Capture, *, redact: bool = True) -> str:
    return "".join(json_chunks(capture, redact=redact))


def json_chunks(capture: Capture, *, redact: bool = True) -> Iterator[str]:
    """The JSON report as pieces of text, a few hundred exchanges or pushes at a time past LARGE_REPORT exchanges
    (so neither the whole dict nor the whole string is ever held); the same text as ``json.dumps(report_dict(...))``.
    """
    if len(capture.exchanges) <= LARGE_REPORT:
        # Indented JSON goes through the pure-Python encoder: fine for small reports, the ones people read.
        yield json.dumps(report_dict(capture, redact=redact), indent=2) + "\n"
        return
    from pushscope.export.json_text import exchange_texts, push_texts

    # Written without a dict per entry; a probe's report adds fields to each, so it takes the dict path.
    encoded = {} if capture.probed else {"exchanges": exchange_texts(capture, redact), "pushes": push_texts(capture)}
    pending: list[str] = []
    key_separator = "{"
    for key, value in report_sections(capture, redact=redact).items():
        pending.append(f"{key_separator}{json.dumps(key)}: ")
        key_separator = ", "
        if not isinstance(value, Iterator):
            pending.append(json.dumps(value))
            continue
        items = encoded.get(key) or (json.dumps(item) for item in value)
        separator = "["
        for item in items:
            pending.append(separator)
            pending.append(item)
            separator = ", "
            if len(pending) >= CHUNK_ITEMS:
                yield "".join(pending)
                pending.clear()
        pending.append("[]" if separator == "[" else "]")
    pending.append("}\n")
    yield "".join(pending)
