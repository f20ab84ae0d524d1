"""HPACK under attack: the bounded decoder agrees with hpack on honest blocks, keeps its table in step when a
block goes over the header list limit, clamps table size updates, and stays linear in the number of literals."""

from __future__ import annotations

import time

import hpack
from hyperframe.frame import ContinuationFrame, HeadersFrame
from hypothesis import given, settings
from hypothesis import strategies as st

from pushscope.decode.h2 import MAX_HEADER_BLOCK, PREFACE, H2ConnectionDecoder
from pushscope.decode.hpack_bounded import MAX_HEADER_LIST_SIZE, MAX_TABLE_SIZE, BoundedHpackDecoder
from pushscope.events import HeadersReceived, ProtocolAnomaly

header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
header_lists = st.lists(st.tuples(header_text.map(str.lower), header_text), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(blocks=st.lists(header_lists, min_size=1, max_size=6), huffman=st.booleans(), table=st.sampled_from([0, 256,
                                                                                                          4096]))
def test_agrees_with_hpack_on_honest_blocks(blocks: list[list[tuple[str, str]]], huffman: bool, table: int) -> None:
    encoder = hpack.Encoder()
    encoder.header_table_size = table
    reference, bounded = hpack.Decoder(), BoundedHpackDecoder()
    for headers in blocks:
        block = encoder.encode(headers, huffman=huffman)
        expected = [(bytes(n), bytes(v)) for n, v in reference.decode(block, raw=True)]
        got, notes = bounded.decode_block(block)
        assert got == expected and notes == []


def _indexed_bomb(repeats: int) -> tuple[hpack.Encoder, bytes]:
    encoder = hpack.Encoder()
    block = encoder.encode([("x-big", "A" * 4000)]) + bytes([0x80 | 62]) * repeats
    return encoder, block


def test_header_list_bomb_is_cut_and_the_table_stays_in_step() -> None:
    encoder, bomb = _indexed_bomb(100_000)  # 400 MB of header list from 100 kB
    decoder = BoundedHpackDecoder()
    headers, notes = decoder.decode_block(bomb)
    assert sum(len(n) + len(v) + 32 for n, v in headers) <= MAX_HEADER_LIST_SIZE
    assert len(notes) == 1 and "header list over" in notes[0]
    # The next block refers to the dynamic table the bomb built: it decodes right only if the table kept step.
    after = encoder.encode([("x-big", "A" * 4000), ("x-next", "1")])
    got, notes = decoder.decode_block(after)
    assert got == [(b"x-big", b"A" * 4000), (b"x-next", b"1")] and notes == []


def test_table_size_update_is_clamped() -> None:
    decoder = BoundedHpackDecoder()
    huge = bytearray(hpack.hpack.encode_integer(2**31, 5))
    huge[0] |= 0x20
    headers, notes = decoder.decode_block(bytes(huge) + b"\x82")
    assert headers == [(b":method", b"GET")]
    assert decoder.header_table_size == MAX_TABLE_SIZE and "clamped" in notes[0]


def _flood_seconds(literals: int) -> float:
    block = b"\x00\x00\x00" * literals
    started = time.process_time()  # CPU time: another process's load does not count
    BoundedHpackDecoder(max_header_list_size=2**40).decode_block(block)
    return time.process_time() - started


def test_literals_decode_in_linear_time() -> None:
    small = min(_flood_seconds(20_000) for _ in range(3))
    large = min(_flood_seconds(160_000) for _ in range(3))
    # 8x the literals: quadratic copying would take ~64x as long; linear takes ~8x (margin for a busy machine).
    assert large < small * 24, (small, large)


def _headers_frames(stream_id: int, block: bytes, chunk: int) -> bytes:
    parts = [block[i:i + chunk] for i in range(0, len(block), chunk)]
    frames = [HeadersFrame(stream_id, parts[0])] + [ContinuationFrame(stream_id, p) for p in parts[1:]]
    frames[-1].flags.add("END_HEADERS")
    return b"".join(f.serialize() for f in frames)


def test_endless_continuation_is_dropped_with_an_anomaly() -> None:
    decoder = H2ConnectionDecoder("c")
    decoder.receive("client", PREFACE, 0.0)
    events = decoder.receive("server", _headers_frames(1, b"\x00\x00\x00" * (MAX_HEADER_BLOCK // 3 + 10), 16384), 0.0)
    assert decoder.server._pending is None
    messages = [e.message for e in events if isinstance(e, ProtocolAnomaly)]
    assert any("over the" in m and "not decoded" in m for m in messages)
    assert any(isinstance(e, HeadersReceived) and e.headers == [] for e in events)


def test_h2_decoder_reports_the_bomb_and_carries_on() -> None:
    encoder, bomb = _indexed_bomb(100_000)
    decoder = H2ConnectionDecoder("c")
    decoder.receive("client", PREFACE, 0.0)
    events = decoder.receive("server", _headers_frames(1, bomb, 16384), 0.0)
    events += decoder.receive("server", _headers_frames(3, encoder.encode([(":status", "204")]), 16384), 0.1)
    assert any(isinstance(e, ProtocolAnomaly) and "header list over" in e.message for e in events)
    last = [e for e in events if isinstance(e, HeadersReceived)][-1]
    assert last.stream_id == 3 and last.headers == [(":status", "204")]


# --- bodies -------------------------------------------------------------------------------------------------

def _bomb(coding: str, size: int) -> bytes:
    """``size`` spaces after a link, compressed in 1 MiB steps so the plain text never exists in memory."""
    import zlib

    import brotli
    import zstandard

    step = b" " * (1024 * 1024)
    compressor = {"gzip": lambda: zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS),
                  "deflate": lambda: zlib.compressobj(9), "br": lambda: brotli.Compressor(quality=4),
                  "zstd": lambda: zstandard.ZstdCompressor().compressobj()}[coding]()
    feed = compressor.process if coding == "br" else compressor.compress
    out = [feed(b"<link rel=stylesheet href=/a.css>")]
    for _ in range(size // len(step)):
        out.append(feed(step))
    out.append(feed(b" " * (size % len(step))))
    out.append(compressor.finish() if coding == "br" else compressor.flush())
    return b"".join(out)


def test_every_coding_is_capped_and_marked_truncated() -> None:
    import tracemalloc

    from pushscope.http.bodies import undo_encodings

    limit = 1024 * 1024
    for coding in ("gzip", "deflate", "br", "zstd"):
        bomb = _bomb(coding, 64_000_000)
        tracemalloc.start()
        body = undo_encodings(bomb, coding, limit=limit)
        peak_mib = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        assert body.truncated and len(body.data) == limit, coding
        assert body.data.startswith(b"<link rel=stylesheet href=/a.css>")
        assert peak_mib < 16, (coding, peak_mib)  # 64 MB if decoded whole
        small = undo_encodings(_bomb(coding, 10), coding, limit=limit)
        assert not small.truncated and small.data.endswith(b" " * 10)


def test_stacked_codings_are_capped_at_each_stage() -> None:
    import gzip

    import brotli
    import zstandard

    from pushscope.http.bodies import undo_encodings

    inner = gzip.compress(b"<img src=/deep.png>" + b"\0" * 100_000_000)
    body = brotli.compress(zstandard.ZstdCompressor().compress(inner))
    decoded = undo_encodings(body, "gzip, zstd, br", limit=4 * 1024 * 1024)
    assert decoded.truncated and decoded.data.startswith(b"<img src=/deep.png>")


# --- QPACK --------------------------------------------------------------------------------------------------

def test_qpack_table_capacity_from_a_hostile_settings_is_not_built() -> None:
    from pushscope.decode.qpack import MAX_TABLE_CAPACITY, QpackDirection

    direction = QpackDirection()
    direction.configure(2**40)
    assert direction.encoder_error is not None and str(MAX_TABLE_CAPACITY) in direction.encoder_error
    assert direction.feed_encoder(b"\x3f\xe1\x1f" * 100) == []  # ignored, never sized by the capture


def test_qpack_header_list_over_the_limit_is_cut() -> None:
    from types import SimpleNamespace

    from pushscope.decode.h3 import H3ConnectionDecoder, StreamKind

    decoder = H3ConnectionDecoder("q")
    stream = SimpleNamespace(stream_id=0, sender="server", kind=StreamKind.REQUEST, push_id=None)
    out: list = []
    headers = [("x-big", "A" * 4000)] * 1000  # what 1,000 one-byte dynamic references would expand to
    kept = decoder._bounded(stream, headers, 0.0, out)  # type: ignore[arg-type]
    assert sum(len(n) + len(v) + 32 for n, v in kept) <= MAX_HEADER_LIST_SIZE and len(kept) < 1000
    assert len(out) == 1 and "header list over" in out[0].message
