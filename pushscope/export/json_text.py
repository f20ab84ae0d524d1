"""The JSON report's long lists (exchanges, pushes) written straight to text, without a dict per entry.

Each function returns exactly ``json.dumps(exchange_dict(...))`` (or ``push_dict``): compact separators,
``ensure_ascii``, the same key order. A large report spends most of its rendering time here, so the keys are
written once as literal text, each header list is read once for every pseudo-header, and a header pair seen
before (``content-type: text/css``, the same ``date`` second) reuses its encoded text. Anything of an unusual
type goes through ``json.dumps`` itself, so the text never differs from the dict path (a test compares them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from json.encoder import encode_basestring_ascii  # the C function json.dumps uses for every string
from typing import Any

from pushscope.http.headers import status_code
from pushscope.http.redaction import redact_headers
from pushscope.model.entities import Capture, Evidence, Exchange, Push

INFINITY = float("inf")
PAIR_CACHE_LIMIT = 20_000  # encoded header pairs kept at once: bounded whatever a hostile capture sends


def value_text(value: Any) -> str:
    """``json.dumps(value)`` for one value, with the common scalar types written without the encoder."""
    kind = type(value)
    if kind is str:
        return encode_basestring_ascii(value)
    if value is None:
        return "null"
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        if value != value:
            return "NaN"
        if value == INFINITY or value == -INFINITY:
            return "Infinity" if value > 0 else "-Infinity"
        return float.__repr__(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):  # an enum of strings: json writes its text
        return encode_basestring_ascii(value)
    return json.dumps(value)


def _time(value: float | None) -> str:
    """A moment rounded to the microsecond, as ``_round`` in json_report writes it."""
    if value is None:
        return "null"
    rounded = round(value, 6)
    if type(rounded) is float and rounded - rounded == 0:  # finite: NaN and infinities take value_text's way
        return float.__repr__(rounded)
    return value_text(rounded)


class HeaderText:
    """Header lists as JSON text (``[["name", "value"], ...]``), redacted as ``redact_headers`` does."""

    def __init__(self, redact: bool) -> None:
        self.redact = redact
        self.pairs: dict[tuple[str, str], str] = {}

    def text(self, headers: list[tuple[str, str]]) -> str:
        pairs = self.pairs
        parts = []
        for pair in headers:
            key = pair if type(pair) is tuple else tuple(pair)
            encoded = pairs.get(key)  # type: ignore[arg-type]
            if encoded is None:
                name, value = redact_headers([key], self.redact)[0]  # type: ignore[list-item]
                encoded = f"[{value_text(name)}, {value_text(value)}]"
                if len(pairs) >= PAIR_CACHE_LIMIT:
                    pairs.clear()
                pairs[key] = encoded  # type: ignore[index]
            parts.append(encoded)
        return "[" + ", ".join(parts) + "]"


def _reset_text(reset: Any) -> str:
    if reset is None:
        return "null"
    return json.dumps({"by": reset.by, "code": reset.name, "code_value": reset.code,
                       "at": None if reset.at is None else round(reset.at, 6), "frame": reset.kind})


def _url(exchange: Exchange, first: dict[str, str]) -> str:
    """``Exchange.url`` from the request's first value of each header (the model's rule, one pass)."""
    unknown = exchange.unknown_fields
    if not exchange.request_headers and not unknown:
        return ""
    path = "/<unknown path>" if ":path" in unknown else first.get(":path") or ""
    authority = first.get(":authority") or first.get("host") or "" or exchange.assumed_authority
    if not authority and ":authority" in unknown:
        authority = "<unknown authority>"
    return f"{first.get(':scheme') or 'https'}://{authority}{path}"


def _status(first: dict[str, str]) -> int | None:
    return status_code(first.get(":status"))


def exchange_text(exchange: Exchange, headers: HeaderText) -> str:
    """``json.dumps(exchange_dict(exchange, headers.redact))``."""
    request = dict(reversed(exchange.request_headers))  # the first value of each name wins, as in header_value
    response = dict(reversed(exchange.response_headers))
    unknown = exchange.unknown_fields
    content_type = (response.get("content-type") or "").split(";")[0].strip().lower()
    v = value_text
    return (
        f'{{"id": {v(exchange.id)}, "protocol": {v(exchange.protocol)}, "connection": {v(exchange.connection_id)}, '
        f'"stream_id": {v(exchange.stream_id)}, "push_id": {v(exchange.push_id)}, '
        f'"method": {v(request.get(":method") or "")}, "url": {v(_url(exchange, request))}, '
        f'"url_known": {v(not {":path", ":authority", ":scheme"} & set(unknown)) if unknown else "true"}, '
        f'"unknown_fields": {json.dumps(list(unknown)) if unknown else "[]"}, '
        f'"authority_assumed": {"true" if exchange.assumed_authority else "false"}, '
        f'"status": {v(_status(response))}, '
        f'"pushed": {v(exchange.pushed)}, "content_type": {v(content_type or None)}, '
        f'"request_start": {_time(exchange.request_start)}, "response_start": {_time(exchange.response_start)}, '
        f'"response_end": {_time(exchange.response_end)}, '
        f'"request_header_bytes": {v(exchange.request_header_bytes)}, '
        f'"response_header_bytes": {v(exchange.response_header_bytes)}, "body_bytes": {v(exchange.body_bytes)}, '
        f'"reset": {"null" if exchange.reset is None else _reset_text(exchange.reset)}, '
        f'"request_headers": {headers.text(exchange.request_headers)}, '
        f'"response_headers": {headers.text(exchange.response_headers)}}}'
    )


def _evidence_text(evidence: Sequence[Evidence]) -> str:
    v = value_text
    return "[" + ", ".join(
        f'{{"kind": {v(e.kind)}, "text": {v(e.text)}, "at": {_time(e.at)}, "exchange": {v(e.exchange_id)}, '
        f'"stream_id": {v(e.stream_id)}}}' for e in evidence) + "]"


def push_text(push: Push, capture: Capture) -> str:
    """``json.dumps(push_dict(push, capture))``."""
    exchange = capture.exchange(push.exchange_id)
    cost = push.cost
    pushed_bytes = cost.pushed_bytes or (0 if exchange is None else
                                         exchange.response_header_bytes + exchange.body_bytes)
    v = value_text
    references = ", ".join(f'{{"stream_id": {v(sid)}, "at": {_time(at)}}}' for sid, at in push.references)
    return (
        f'{{"id": {v(push.id)}, "protocol": {v(push.protocol)}, "connection": {v(push.connection_id)}, '
        f'"parent_stream_id": {v(push.parent_stream_id)}, "promised_stream_id": {v(push.promised_stream_id)}, '
        f'"push_id": {v(push.push_id)}, "exchange": {v(push.exchange_id)}, "url": {v(push.url)}, '
        f'"promised_at": {_time(push.promised_at)}, "references": [{references}], '
        f'"status": {v(exchange.status if exchange else None)}, '
        f'"response_end": {_time(exchange.response_end) if exchange else "null"}, '
        f'"pushed_bytes": {v(pushed_bytes)}, "reset": {_reset_text(push.reset)}, "outcome": {v(push.outcome)}, '
        f'"reason": {v(push.reason)}, "reason_detail": {v(push.reason_detail)}, '
        f'"evidence": {_evidence_text(push.evidence)}, '
        f'"cost": {{"header_bytes": {v(cost.header_bytes)}, "body_bytes": {v(cost.body_bytes)}, '
        f'"wasted_bytes": {v(cost.wasted_bytes)}, "duration": {_time(cost.duration)}, '
        f'"competed_bytes": {v(cost.competed_bytes)}, "competed_delay": {_time(cost.competed_delay)}, '
        f'"saved_time": {_time(cost.saved_time)}, "late_by": {_time(cost.late_by)}}}, '
        f'"preload_link": {v(push.preload_link)}, "advice": {v(push.advice)}, '
        f'"advice_text": {v(push.advice_text)}}}'
    )


def exchange_texts(capture: Capture, redact: bool) -> Iterator[str]:
    headers = HeaderText(redact)
    return (exchange_text(exchange, headers) for exchange in capture.exchanges)


def push_texts(capture: Capture) -> Iterator[str]:
    return (push_text(push, capture) for push in capture.pushes)
