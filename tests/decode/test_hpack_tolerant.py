"""Partial HPACK decoding: a block that needs dynamic-table entries the capture never saw keeps every other field."""

from __future__ import annotations

import hpack
from hypothesis import given, settings
from hypothesis import strategies as st

from pushscope.decode.hpack_tolerant import TolerantHpackDecoder

FIRST = [(":method", "GET"), (":scheme", "https"), (":authority", "www.example.test"), (":path", "/secret-page"),
         ("user-agent", "browser/1.0"), ("x-session", "abc123")]
LATER = [(":method", "GET"), (":scheme", "https"), (":authority", "www.example.test"), (":path", "/app.js"),
         ("user-agent", "browser/1.0"), ("accept", "*/*"), ("x-new", "fresh")]


def _blocks(*header_lists: list[tuple[str, str]]) -> list[bytes]:
    encoder = hpack.Encoder()
    return [encoder.encode(headers) for headers in header_lists]


def _text(result_headers: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(n.decode(), v.decode()) for n, v in result_headers]


def test_missing_entries_make_only_their_fields_unknown() -> None:
    first, later, again = _blocks(FIRST, LATER, LATER)
    decoder = TolerantHpackDecoder()  # the capture starts after the first block
    result = decoder.decode(later)
    known = dict(_text(result.headers))
    # Static-table fields and literals are read; :authority and user-agent were indexed in the unseen block.
    assert known == {":method": "GET", ":scheme": "https", ":path": "/app.js", "accept": "*/*", "x-new": "fresh"}
    assert sorted(result.unknown_fields) == ["?", "?"] and not result.unreadable
    # The entries the later block inserted itself are known from then on.
    again_result = decoder.decode(again)
    assert dict(_text(again_result.headers))[":path"] == "/app.js"
    assert dict(_text(again_result.headers))["x-new"] == "fresh"
    assert len(again_result.unknown_fields) == 2


def test_an_insertion_named_by_an_unknown_entry_keeps_later_indices_aligned() -> None:
    # Block 1 (unseen) inserts "x-custom: a". Block 2 inserts "x-custom: b" naming the unseen entry, then "x-k: v".
    encoder = hpack.Encoder()
    encoder.encode([("x-custom", "a")])
    block2 = encoder.encode([("x-custom", "b"), ("x-k", "v")])
    block3 = encoder.encode([("x-custom", "b"), ("x-k", "v"), ("x-custom", "a")])
    decoder = TolerantHpackDecoder()
    second = decoder.decode(block2)
    assert _text(second.headers) == [("x-k", "v")] and second.unknown_fields == ["?"]
    third = decoder.decode(block3)
    # x-k: v is index 62 and its slot is right even though the entry before it has an unknown name.
    assert _text(third.headers) == [("x-k", "v")] and third.unknown_fields == ["?", "?"]


def test_a_table_size_update_to_zero_makes_the_table_fully_known() -> None:
    decoder = TolerantHpackDecoder()
    encoder = hpack.Encoder()
    encoder.encode(FIRST)
    encoder.header_table_size = 0
    block = encoder.encode(LATER)
    encoder.header_table_size = 4096
    result = decoder.decode(block + encoder.encode(LATER))
    assert dict(_text(result.headers))[":authority"] == "www.example.test" and not decoder.older_unknown


def test_unparseable_bytes_mark_the_rest_unknown_and_the_table_lost() -> None:
    decoder = TolerantHpackDecoder(state_known=True)
    block = _blocks(LATER)[0]
    result = decoder.decode(block + b"\x7f")  # a name index integer cut short
    assert result.unreadable and result.unknown_fields[-1] == "?"
    assert decoder.older_unknown


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from(["a", "b", ":path", "cookie", "x-long"]),
                                   st.text(alphabet="abc/xyz", max_size=300)), min_size=1, max_size=8),
                min_size=1, max_size=12),
       st.sampled_from([4096, 256, 0]))
def test_with_the_whole_state_it_decodes_what_hpack_decodes(lists: list[list[tuple[str, str]]], size: int) -> None:
    encoder, reference, tolerant = hpack.Encoder(), hpack.Decoder(), TolerantHpackDecoder(state_known=True)
    encoder.header_table_size = size
    for headers in lists:
        block = encoder.encode(headers)
        expected = reference.decode(block, raw=True)
        result = tolerant.decode(block)
        assert result.headers == expected and result.unknown_fields == []
