"""Response bodies as the client saw them after Content-Encoding (gzip, deflate, br, zstd) is undone.

Every coding is undone as a stream with an output cap, one stage after the other for stacked codings, so a
decompression bomb (a few kilobytes that inflate to gigabytes) costs at most ``MAX_DECODED`` bytes per stage.
A body over the cap is kept up to it and marked truncated: its references are read from what was decoded.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass

MAX_DECODED = 32 * 1024 * 1024  # a guard against decompression bombs in hostile captures
_BROTLI_STEP = 64 * 1024


class BodyUnavailable(Exception):
    """The capture holds no usable body: truncated, incomplete, or in an encoding we cannot undo."""


@dataclass(frozen=True, slots=True)
class DecodedBody:
    data: bytes
    truncated: bool  # a decoding stage went over MAX_DECODED: ``data`` is the start of the body


def undo_encodings(data: bytes, encodings: str, *, complete: bool = True, limit: int = MAX_DECODED) -> DecodedBody:
    """Undo a Content-Encoding list (applied in order, so undone last first), each stage capped at ``limit``."""
    truncated = False
    for coding in reversed([c.strip().lower() for c in encodings.split(",") if c.strip()]):
        data, cut = _undo(coding, data, complete=complete and not truncated, limit=limit)
        truncated = truncated or cut
    return DecodedBody(data, truncated)


def _undo(coding: str, data: bytes, *, complete: bool, limit: int) -> tuple[bytes, bool]:
    try:
        if coding in ("gzip", "x-gzip"):
            return _zlib(data, 16 + zlib.MAX_WBITS, complete, limit)
        if coding == "deflate":
            try:
                return _zlib(data, zlib.MAX_WBITS, complete, limit)
            except zlib.error:
                return _zlib(data, -zlib.MAX_WBITS, complete, limit)  # raw deflate, as some servers send
        if coding == "br":
            return _brotli(data, limit)
        if coding == "zstd":
            return _zstd(data, limit)
        if coding == "identity":
            return data[:limit], len(data) > limit
    except Exception as exc:  # each codec raises its own error type; all mean "cannot read this body"
        raise BodyUnavailable(f"cannot undo Content-Encoding {coding}: {exc}") from exc
    raise BodyUnavailable(f"unsupported Content-Encoding {coding}")


def _zlib(data: bytes, wbits: int, complete: bool, limit: int) -> tuple[bytes, bool]:
    decompressor = zlib.decompressobj(wbits)
    out = decompressor.decompress(data, limit)
    cut = len(out) >= limit and bool(decompressor.unconsumed_tail or not decompressor.eof)
    if complete and not decompressor.eof and not cut:
        raise zlib.error("stream ended early")
    return out, cut


def _brotli(data: bytes, limit: int) -> tuple[bytes, bool]:
    import brotli

    decompressor = brotli.Decompressor()
    out = bytearray(decompressor.process(data, output_buffer_limit=_BROTLI_STEP))
    while len(out) < limit and not decompressor.is_finished() and not decompressor.can_accept_more_data():
        out += decompressor.process(b"", output_buffer_limit=_BROTLI_STEP)
    cut = len(out) > limit or (len(out) >= limit and not decompressor.is_finished())
    return bytes(out[:limit]), cut


def _zstd(data: bytes, limit: int) -> tuple[bytes, bool]:
    import zstandard

    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True)
    out = bytearray(reader.read(limit + 1))
    while len(out) <= limit:
        more = reader.read(limit + 1 - len(out))
        if not more:
            break
        out += more
    return bytes(out[:limit]), len(out) > limit
