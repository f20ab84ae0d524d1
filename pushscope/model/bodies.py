"""An exchange's response body as the client saw it: its kept bytes with every Content-Encoding undone
(``pushscope.http.bodies`` does the undoing, capped against decompression bombs)."""

from __future__ import annotations

from pushscope.http.bodies import MAX_DECODED, BodyUnavailable, DecodedBody, undo_encodings
from pushscope.http.headers import header_value
from pushscope.model.entities import Exchange


def decoded_body(exchange: Exchange) -> bytes:
    """The body with every Content-Encoding undone (at most MAX_DECODED bytes), or BodyUnavailable saying why."""
    return decode_body(exchange).data


def decode_body(exchange: Exchange, limit: int = MAX_DECODED) -> DecodedBody:
    """The body with every Content-Encoding undone and whether the output cap cut it."""
    if exchange.body_truncated:
        raise BodyUnavailable("body larger than the kept limit")
    if exchange.body_bytes and not exchange.body:
        raise BodyUnavailable("body bytes not captured")
    encodings = header_value(exchange.response_headers, "content-encoding") or ""
    return undo_encodings(bytes(exchange.body), encodings, complete=exchange.complete, limit=limit)
