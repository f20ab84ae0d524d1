"""Response bodies as the client saw them after Content-Encoding (gzip, deflate, br, zstd) is undone."""

from __future__ import annotations

import zlib

from pushscope.model.entities import Exchange, header_value

MAX_DECODED = 32 * 1024 * 1024  # a guard against decompression bombs in hostile captures


class BodyUnavailable(Exception):
    """The capture holds no usable body: truncated, incomplete, or in an encoding we cannot undo."""


def decoded_body(exchange: Exchange) -> bytes:
    """The body with every Content-Encoding undone, or BodyUnavailable saying why not."""
    if exchange.body_truncated:
        raise BodyUnavailable("body larger than the kept limit")
    if exchange.body_bytes and not exchange.body:
        raise BodyUnavailable("body bytes not captured")
    data = bytes(exchange.body)
    encodings = header_value(exchange.response_headers, "content-encoding") or ""
    for coding in reversed([c.strip().lower() for c in encodings.split(",") if c.strip()]):
        data = _undo(coding, data, complete=exchange.complete)
    return data


def _undo(coding: str, data: bytes, *, complete: bool) -> bytes:
    try:
        if coding in ("gzip", "x-gzip"):
            return _zlib(data, 16 + zlib.MAX_WBITS, complete)
        if coding == "deflate":
            try:
                return _zlib(data, zlib.MAX_WBITS, complete)
            except zlib.error:
                return _zlib(data, -zlib.MAX_WBITS, complete)  # raw deflate, as some servers send
        if coding == "br":
            import brotli

            return brotli.decompress(data)
        if coding == "zstd":
            import zstandard

            return zstandard.ZstdDecompressor().decompressobj().decompress(data)[:MAX_DECODED]
        if coding == "identity":
            return data
    except Exception as exc:  # each codec raises its own error type; all mean "cannot read this body"
        raise BodyUnavailable(f"cannot undo Content-Encoding {coding}: {exc}") from exc
    raise BodyUnavailable(f"unsupported Content-Encoding {coding}")


def _zlib(data: bytes, wbits: int, complete: bool) -> bytes:
    decompressor = zlib.decompressobj(wbits)
    out = decompressor.decompress(data, MAX_DECODED)
    if complete and not decompressor.eof and len(out) < MAX_DECODED:
        raise zlib.error("stream ended early")
    return out
