"""HAR 1.2 export, shaped so Chrome DevTools, WebPageTest-style tools and HAR analyzers open it.

A capture sees the wire, not the browser: DNS, connect and TLS times of each request are unknown (-1, as the
spec allows), ``send`` is the request's own transfer, ``wait`` runs to the first response byte and ``receive``
to the last. Pushed responses are entries too, starting at their PUSH_PROMISE, marked ``_was_pushed`` (1/0,
as WebPageTest writes it) with pushscope's verdict in ``_push_*`` fields. Pages are guessed from documents:
each HTML response that a client requested opens a page; with none, one page covers the capture.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from pushscope import __version__
from pushscope.http.headers import header_value
from pushscope.http.redaction import REDACTED_HEADERS, redact_headers
from pushscope.http.urls import split_url
from pushscope.model.entities import Capture, Exchange, Push

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
    starts = [page.pop("_at") for page in pages]  # in order: the documents are sorted by start
    by_site: dict[str, list[int]] = {}
    for n, doc in enumerate(docs):
        by_site.setdefault(doc.authority, []).append(n)
    refs: dict[int, str] = {}
    for exchange in timed:
        # The latest page started by then, preferring one of the same site. A push starts at its PUSH_PROMISE,
        # after the document it was promised with, so it lands on that document's page.
        started = bisect.bisect_right(starts, _start(exchange) or 0.0)
        if started == 0 or not docs:
            refs[exchange.id] = pages[max(started, 1) - 1]["id"]
            continue
        same_site = by_site.get(exchange.authority, [])
        latest = bisect.bisect_left(same_site, started) - 1
        refs[exchange.id] = pages[same_site[latest] if latest >= 0 else started - 1]["id"]
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


def har_document(capture: Capture, *, redact: bool = True) -> dict[str, Any]:
    """The HAR document with its entries as an iterator, made one at a time as they are read."""
    pages, refs = _pages(capture)
    comment = "Built from a packet capture by pushscope; -1 timings are what a capture cannot know."
    if redact:
        comment += " Values of " + ", ".join(sorted(REDACTED_HEADERS)) + " headers are redacted."
    return {"log": {"version": "1.2", "creator": {"name": "pushscope", "version": __version__},
                    "pages": pages, "entries": _entries(capture, pages[0]["id"], refs, redact), "comment": comment}}


def _entries(capture: Capture, first_page: str, refs: dict[int, str], redact: bool) -> Iterator[dict[str, Any]]:
    for exchange in sorted(capture.exchanges, key=lambda e: (_start(e) or 0.0, e.id)):
        if _start(exchange) is None or not exchange.request_headers:
            continue  # nothing on the wire says what was asked: HAR needs a URL
        push = capture.push_for_exchange(exchange) if exchange.pushed else None
        yield _entry(exchange, push, capture, refs.get(exchange.id, first_page), redact)


def har_dict(capture: Capture, *, redact: bool = True) -> dict[str, Any]:
    """The whole HAR document (its entries in a list)."""
    document = har_document(capture, redact=redact)
    document["log"]["entries"] = list(document["log"]["entries"])
    return document


def har_chunks(capture: Capture, *, redact: bool = True) -> Iterator[str]:
    """The HAR file as pieces of text, one entry at a time: the text of ``render_har``."""
    from pushscope.export.json_stream import indented_chunks

    return indented_chunks(har_document(capture, redact=redact), indent=2)


def render_har(capture: Capture, *, redact: bool = True) -> str:
    return "".join(har_chunks(capture, redact=redact))
