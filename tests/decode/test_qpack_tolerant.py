"""QPACK header blocks whose dynamic-table entries were inserted before the capture: only those fields unknown."""

from __future__ import annotations

import pylsqpack

from pushscope.decode.h3 import H3ConnectionDecoder
from pushscope.decode.qpack_tolerant import decode_without_dynamic_table, static_table
from pushscope.events import HeadersReceived

EARLY = [(b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"www.example.test"),
         (b":path", b"/first"), (b"user-agent", b"browser/1.0"), (b"x-trace", b"abc")]
LATER = [(b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"www.example.test"),
         (b":path", b"/later.js"), (b"user-agent", b"browser/1.0"), (b"accept", b"*/*"), (b"x-other", b"v")]


def _encoded() -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """A block for LATER that refers to dynamic entries EARLY inserted, and what a full decoder reads from it."""
    encoder = pylsqpack.Encoder()
    settings = encoder.apply_settings(4096, 16)
    decoder = pylsqpack.Decoder(4096, 16)
    decoder.feed_encoder(settings)
    enc1, block1 = encoder.encode(0, EARLY)
    decoder.feed_encoder(enc1)
    decoder.feed_header(0, block1)
    enc2, block2 = encoder.encode(4, LATER)
    decoder.feed_encoder(enc2)
    _, full = decoder.feed_header(4, block2)
    return block2, full


def test_the_static_table_comes_from_ls_qpack() -> None:
    table = static_table()
    assert len(table) == 99 and table[0] == (b":authority", b"") and table[25] == (b":status", b"200")


def test_dynamic_references_are_unknown_and_everything_else_is_read() -> None:
    block, full = _encoded()
    assert block[0] != 0  # it does use the dynamic table
    result = decode_without_dynamic_table(block)
    assert not result.unreadable
    assert len(result.headers) + len(result.unknown_fields) == len(full)
    assert set(result.unknown_fields) == {"?"} and result.unknown_fields
    remaining = iter(full)
    assert all(field in remaining for field in result.headers)  # in order, and each one right
    assert (b":method", b"GET") in result.headers and (b":path", b"/later.js") in result.headers


def test_a_cut_block_is_unreadable_not_an_exception() -> None:
    block, _ = _encoded()
    result = decode_without_dynamic_table(block[:-3])
    assert result.unreadable and result.unknown_fields[-1] == "?"


def test_h3_decoder_mid_connection_lists_the_request_with_unknown_fields() -> None:
    block, _ = _encoded()
    frame = bytes([0x01]) + _varint(len(block)) + block
    decoder = H3ConnectionDecoder("q0", alpn="h3")
    decoder.start_mid_connection()
    events = decoder.receive_stream_data("client", 4, frame, True, 1.0)
    request = next(e for e in events if isinstance(e, HeadersReceived))
    assert dict(request.headers)[":path"] == "/later.js" and request.end_stream
    assert request.unknown_fields and ":path" not in request.unknown_fields
    assert ":authority" in request.unknown_fields  # indexed from the unseen table: the URL's authority is unknown


def _varint(value: int) -> bytes:
    if value < 64:
        return bytes([value])
    return (0x4000 | value).to_bytes(2, "big")


def test_a_block_still_waiting_at_the_end_is_read_field_by_field_with_what_followed_it() -> None:
    from pushscope.events import DataReceived, ProtocolAnomaly

    block, _ = _encoded()
    headers_frame = bytes([0x01]) + _varint(len(block)) + block
    data_frame = bytes([0x00, 0x02]) + b"hi"
    decoder = H3ConnectionDecoder("q0", alpn="h3")  # never sees SETTINGS nor the encoder stream
    early = decoder.receive_stream_data("client", 0, headers_frame, False, 1.0)
    early += decoder.receive_stream_data("client", 0, data_frame, True, 2.0)
    assert not [e for e in early if isinstance(e, (HeadersReceived, DataReceived))]  # it waits
    events = decoder.finish(3.0)
    request = next(e for e in events if isinstance(e, HeadersReceived))
    assert request.at == 1.0 and dict(request.headers)[":path"] == "/later.js" and request.unknown_fields
    body = [e for e in events if isinstance(e, DataReceived)]
    assert [(e.data, e.end_stream, e.at) for e in body] == [(b"hi", True, 2.0)]
    assert any(isinstance(e, ProtocolAnomaly) and "field by field" in e.message for e in events)
