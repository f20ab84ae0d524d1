"""HAR 1.2 export, shaped so Chrome DevTools, WebPageTest-style tools and HAR analyzers open it.

A capture sees the wire, not the browser: DNS, connect and TLS times of each request are unknown (-1, as the
spec allows), ``send`` is the request's own transfer, ``wait`` runs to the first response byte and ``receive``
to the last. Pushed responses are entries too, starting at their PUSH_PROMISE, marked ``_was_pushed`` (1/0,
as WebPageTest writes it) with pushscope's verdict in ``_push_*`` fields. Pages are guessed from documents:
each HTML response that a client requested opens a page; with none, one page covers the capture.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from pushscope import __version__
from pushscope.http.headers import header_value
from pushscope.http.redaction import REDACTED_HEADERS, redact_headers
from pushscope.http.urls import split_url
from pushscope.model.entities import Capture, Exchange, Push
from pushscope.safe_text import json_visible

DOCUMENT_TYPES = ("text/html", "application/xhtml+xml")


def iso_time(at: float) -> str:
    """ISO 8601 with milliseconds and ``Z``, as browsers write ``startedDateTime``."""
    return datetime.fromtimestamp(at, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ms(seconds: float | None) -> float:
    return -1 if seconds is None else round(max(seconds, 0.0) * 1000, 3)


def _start(exchange: Exchange) -> float | None:
    return next((t for t in (exchange.request_start, exchange.response_start, exchange.response_end)
                 if t is not None), None)


def _pages(capture: Capture) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """Pages (one per client-requested HTML document, else one) and the page each exchange belongs to."""
    timed = sorted((e for e in capture.exchanges if _start(e) is not None), key=lambda e: (_start(e), e.id))
    docs = [e for e in timed if not e.pushed and e.content_type in DOCUMENT_TYPES]
    pages: list[dict[str, Any]] = []
    if not docs:
        first = _start(timed[0]) if timed else capture.started_at or 0.0
        pages.append(_page("page_1", first or 0.0, capture.name or capture.source))
    for n, doc in enumerate(docs, 1):
        pages.append(_page(f"page_{n}", _start(doc) or 0.0, doc.url))
    owners: list[Exchange | None] = list(docs) or [None]
    refs: dict[int, str] = {}
    for exchange in timed:
        at = _start(exchange) or 0.0
        # The latest page started by then, preferring one of the same site. A push starts at its PUSH_PROMISE,
        # after the document it was promised with, so it lands on that document's page.
        started = [(p, d) for p, d in zip(pages, owners, strict=True) if p["_at"] <= at] or [(pages[0], owners[0])]
        same_site = [(p, d) for p, d in started if d is None or d.authority == exchange.authority]
        refs[exchange.id] = (same_site or started)[-1][0]["id"]
    for page in pages:
        del page["_at"]
    return pages, refs


def _page(page_id: str, at: float, title: str) -> dict[str, Any]:
    return {"startedDateTime": iso_time(at), "id": page_id, "title": title,
            "pageTimings": {"onContentLoad": -1, "onLoad": -1}, "_at": at}


def _headers(headers: list[tuple[str, str]], redact: bool) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in redact_headers(headers, redact)]


def _cookies(exchange: Exchange, redact: bool, response: bool) -> list[dict[str, Any]]:
    """Parsed cookies, or none at all when redacting: a cookie's name can be as telling as its value."""
    if redact:
        return []
    headers = exchange.response_headers if response else exchange.request_headers
    cookies: list[dict[str, Any]] = []
    for name, value in headers:
        if name.lower() == "set-cookie" and response:
            pair = value.split(";", 1)[0]
            cookies.append(_cookie(pair))
        elif name.lower() == "cookie" and not response:
            cookies.extend(_cookie(part) for part in value.split(";") if part.strip())
    return cookies


def _cookie(pair: str) -> dict[str, Any]:
    name, _, value = pair.strip().partition("=")
    return {"name": name, "value": value}


def _timings(exchange: Exchange, capture: Capture) -> dict[str, float]:
    start = _start(exchange) or 0.0
    sent = exchange.request_end if exchange.request_end is not None else start
    first = exchange.response_start
    end = exchange.response_end
    if end is None and exchange.reset is not None:
        end = exchange.reset.at
    if end is None:
        end = capture.ended_at if capture.ended_at is not None else first
    return {
        "blocked": -1, "dns": -1, "connect": -1, "ssl": -1,
        "send": _ms(sent - start),
        "wait": _ms(first - sent) if first is not None else 0,
        "receive": _ms(end - first) if first is not None and end is not None else 0,
    }


def _entry(exchange: Exchange, push: Push | None, capture: Capture, page: str, redact: bool) -> dict[str, Any]:
    conn = capture.connections.get(exchange.connection_id)
    version = exchange.protocol
    split = split_url(exchange.url)  # None for a URL urllib refuses: no query string then
    timings = _timings(exchange, capture)
    location = header_value(exchange.response_headers, "location") or ""
    entry: dict[str, Any] = {
        "pageref": page,
        "startedDateTime": iso_time(_start(exchange) or 0.0),
        "time": round(sum(v for v in timings.values() if v > 0), 3),
        "request": {
            "method": exchange.method or "GET", "url": exchange.url, "httpVersion": version,
            "cookies": _cookies(exchange, redact, response=False),
            "headers": _headers(exchange.request_headers, redact),
            "queryString": [{"name": k, "value": v}
                            for k, v in parse_qsl(split.query if split else "", keep_blank_values=True)],
            "headersSize": exchange.request_header_bytes if exchange.request_headers else -1,
            "bodySize": exchange.request_body_bytes,
        },
        "response": {
            "status": exchange.status or 0, "statusText": "", "httpVersion": version,
            "cookies": _cookies(exchange, redact, response=True),
            "headers": _headers(exchange.response_headers, redact),
            "content": {"size": exchange.body_bytes,
                        "mimeType": header_value(exchange.response_headers, "content-type") or "x-unknown"},
            "redirectURL": location,
            "headersSize": exchange.response_header_bytes if exchange.response_headers else -1,
            "bodySize": exchange.body_bytes if exchange.response_start is not None else -1,
        },
        "cache": {},
        "timings": timings,
        "serverIPAddress": conn.server.address if conn is not None else "",
        "connection": exchange.connection_id,
        "_was_pushed": 1 if exchange.pushed else 0,
        "_stream_id": exchange.stream_id,
    }
    if exchange.push_id is not None:
        entry["_push_id"] = exchange.push_id
    if push is not None:
        entry["_push_outcome"] = push.outcome
        entry["_push_reason"] = push.reason
        entry["_push_wasted_bytes"] = push.cost.wasted_bytes
    if exchange.reset is not None:
        entry["_reset"] = {"by": exchange.reset.by, "code": exchange.reset.name, "frame": exchange.reset.kind}
    return entry


def har_dict(capture: Capture, *, redact: bool = True) -> dict[str, Any]:
    pages, refs = _pages(capture)
    entries = []
    for exchange in sorted(capture.exchanges, key=lambda e: (_start(e) or 0.0, e.id)):
        if _start(exchange) is None or not exchange.request_headers:
            continue  # nothing on the wire says what was asked: HAR needs a URL
        push = capture.push_for_exchange(exchange) if exchange.pushed else None
        entries.append(_entry(exchange, push, capture, refs.get(exchange.id, pages[0]["id"]), redact))
    comment = "Built from a packet capture by pushscope; -1 timings are what a capture cannot know."
    if redact:
        comment += " Values of " + ", ".join(sorted(REDACTED_HEADERS)) + " headers are redacted."
    return {"log": {"version": "1.2", "creator": {"name": "pushscope", "version": __version__},
                    "pages": pages, "entries": entries, "comment": comment}}


def render_har(capture: Capture, *, redact: bool = True) -> str:
    return json_visible(json.dumps(har_dict(capture, redact=redact), indent=2, ensure_ascii=False)) + "\n"
