"""QPACK for a passive observer: one decoder per direction, fed from that direction's encoder stream.

pylsqpack (ls-qpack) does the decoding; this wraps what an observer must add around it:

* The decoder's table size is the one the *decoding* endpoint advertised in SETTINGS
  (QPACK_MAX_TABLE_CAPACITY). It has to be exact, because a header block's Required Insert Count is encoded
  modulo a value derived from it, so the decoder is created only once those SETTINGS are seen. Header blocks
  that need the dynamic table before then wait; ones that do not (Required Insert Count 0) decode at once.
* A header block that refers to entries the encoder stream has not delivered yet is "blocked"; ls-qpack keeps
  it and hands the stream back when ``feed_encoder`` brings the missing entries, and we resume it then.
* Nothing raises out of here except :class:`QpackError`, which the caller turns into a ProtocolAnomaly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pylsqpack

from pushscope.decode.hpack_tolerant import unknown_field_names
from pushscope.decode.qpack_tolerant import decode_without_dynamic_table
from pushscope.events import Headers

# We only read: allow as many blocked streams as a capture can hold rather than enforcing the peer's limit.
OBSERVER_BLOCKED_STREAMS = 4096
# The largest dynamic table we build. The capacity comes from the capture (the decoding side's SETTINGS) and
# Duplicate instructions can fill it for two bytes each, so a hostile value must not size our memory; real
# endpoints advertise 4 KiB to 64 KiB. Above this, only header blocks that use the static table are decoded.
MAX_TABLE_CAPACITY = 4 * 1024 * 1024


class QpackError(Exception):
    """A header block or encoder stream that could not be decoded; the message says why."""


@dataclass(slots=True)
class QpackDirection:
    """Header blocks sent by one endpoint, with the dynamic table its encoder stream builds."""

    max_table_capacity: int | None = None
    encoder_error: str | None = None
    # The encoder stream began before the capture: dynamic-table references cannot be resolved.
    mid_connection: bool = False
    _decoder: pylsqpack.Decoder | None = None
    _encoder_backlog: bytearray = field(default_factory=bytearray)
    _waiting_for_settings: dict[int, bytes] = field(default_factory=dict)
    _blocked: set[int] = field(default_factory=set)
    _results: dict[int, Headers | QpackError] = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        return self._decoder is not None

    def configure(self, max_table_capacity: int) -> list[int]:
        """The decoding endpoint's SETTINGS arrived: build the table; returns the keys that can now go on."""
        if self._decoder is not None:
            return []
        self.max_table_capacity = max_table_capacity
        if max_table_capacity > MAX_TABLE_CAPACITY:
            self.encoder_error = (f"QPACK_MAX_TABLE_CAPACITY {max_table_capacity} is over the {MAX_TABLE_CAPACITY}"
                                  "-byte limit: the dynamic table is not built, only static header blocks decode")
            max_table_capacity = 0
        self._decoder = pylsqpack.Decoder(max_table_capacity, OBSERVER_BLOCKED_STREAMS)
        ready: list[int] = []
        if self._encoder_backlog:
            backlog, self._encoder_backlog = bytes(self._encoder_backlog), bytearray()
            ready += self.feed_encoder(backlog)
        waiting, self._waiting_for_settings = self._waiting_for_settings, {}
        for key, block in waiting.items():
            headers = self._feed_header(key, block)
            if headers is not None:
                self._results[key] = headers
                ready.append(key)
        return ready

    def feed_encoder(self, data: bytes) -> list[int]:
        """Encoder-stream bytes from the sending endpoint; returns the keys whose blocks are now decoded."""
        if self.encoder_error is not None or not data:
            return []
        if self._decoder is None:
            self._encoder_backlog += data
            return []
        try:
            unblocked = self._decoder.feed_encoder(data)
        except pylsqpack.EncoderStreamError as exc:
            self.encoder_error = f"QPACK encoder stream could not be decoded ({exc or 'bad instruction'})"
            return []
        ready: list[int] = []
        for key in unblocked:
            self._blocked.discard(key)
            try:
                _, headers = self._decoder.resume_header(key)
                self._results[key] = _text_headers(headers)
            except (pylsqpack.DecompressionFailed, ValueError) as exc:
                self._results[key] = QpackError(f"QPACK header block failed after unblocking: {exc}")
            ready.append(key)
        return ready

    def decode(self, key: int, block: bytes) -> Headers | None:
        """Decode a whole header block for stream ``key``; None means it waits (call :meth:`take` later)."""
        if self._decoder is None:
            if _required_insert_count_is_zero(block):
                return _decode_static(key, block)
            self._waiting_for_settings[key] = block
            return None
        return self._feed_header(key, block)

    def needs_missing_entries(self, block: bytes) -> bool:
        """True when ``block`` uses the dynamic table and this direction's table cannot be known."""
        return self.mid_connection and not _required_insert_count_is_zero(block)

    def decode_partial(self, block: bytes, *, request: bool) -> tuple[Headers, tuple[str, ...]]:
        """Field by field, without the dynamic table: (fields read, names of the fields that are unknown)."""
        result = decode_without_dynamic_table(block)
        headers = _text_headers(result.headers)
        return headers, unknown_field_names({name for name, _ in headers}, result.unknown_fields, request=request)

    def take(self, key: int) -> Headers:
        """The result for a key that :meth:`configure` or :meth:`feed_encoder` reported ready."""
        result = self._results.pop(key)
        if isinstance(result, QpackError):
            raise result
        return result

    def cancel(self, key: int) -> None:
        """The stream was reset: forget its waiting header block."""
        self._waiting_for_settings.pop(key, None)
        self._results.pop(key, None)
        if key in self._blocked and self._decoder is not None:
            self._blocked.discard(key)
            try:
                self._decoder.cancel_stream(key)
            except (ValueError, pylsqpack.DecompressionFailed):
                pass

    def _feed_header(self, key: int, block: bytes) -> Headers | None:
        assert self._decoder is not None
        try:
            _, headers = self._decoder.feed_header(key, block)
        except pylsqpack.StreamBlocked:
            self._blocked.add(key)
            return None
        except (pylsqpack.DecompressionFailed, ValueError) as exc:
            detail = self.encoder_error or str(exc) or "bad header block"
            raise QpackError(f"QPACK header block could not be decoded ({detail})") from None
        return _text_headers(headers)


def _required_insert_count_is_zero(block: bytes) -> bool:
    """The first byte of a header block prefix is Required Insert Count with an 8-bit prefix: 0 = static only."""
    return bool(block) and block[0] == 0


def _decode_static(key: int, block: bytes) -> Headers:
    try:
        _, headers = pylsqpack.Decoder(0, 0).feed_header(key, block)
    except (pylsqpack.DecompressionFailed, pylsqpack.StreamBlocked, ValueError) as exc:
        raise QpackError(f"QPACK header block could not be decoded ({exc or 'bad header block'})") from None
    return _text_headers(headers)


def _text_headers(headers: list[tuple[bytes, bytes]]) -> Headers:
    # Field values are bytes on the wire; the UI and exports want text. 'replace' keeps odd bytes visible.
    return [(name.decode("utf-8", "replace"), value.decode("utf-8", "replace")) for name, value in headers]
