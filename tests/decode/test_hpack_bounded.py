"""The bounded HPACK decoder against the ``hpack`` library's: on blocks a real encoder made (Huffman on and off,
table size changes, never-indexed fields) the same headers; on random and corrupted bytes the same headers or
an error from both. Its Huffman decoder against hpack's the same way."""

from __future__ import annotations

import hpack
import pytest
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hpack.huffman_table import decode_huffman as reference_huffman
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pushscope.decode import huffman
from pushscope.decode.hpack_bounded import BoundedHpackDecoder

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BIG = 2**30  # no header list limit and no table size bound: only then does hpack decode the same blocks
HUFFMAN = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH)

names = st.sampled_from([":path", ":status", "cookie", "content-type", "x-a", "x-" + "n" * 40, "set-cookie"])
values = st.text(st.characters(min_codepoint=0, max_codepoint=0x2FF), max_size=50)
fields = st.tuples(names | values.map(str.lower), values, st.booleans())  # name, value, never indexed
header_lists = st.lists(fields, max_size=10)
steps = st.lists(st.tuples(header_lists, st.booleans(), st.none() | st.sampled_from([0, 64, 256, 4096, 9000])),
                 min_size=1, max_size=6)


def _outcome(decoder: BoundedHpackDecoder | hpack.Decoder, block: bytes) -> tuple:
    """What decoding ``block`` gave: the raw headers, or the error's type and message."""
    try:
        if isinstance(decoder, BoundedHpackDecoder):
            headers, notes = decoder.decode_block(block)
            if notes:  # the only note without a header list limit: a table size update above the bound
                assert len(notes) == 1 and "clamped" in notes[0]
                return ("clamped",)
        else:
            headers = decoder.decode(block, raw=True)
    except hpack.InvalidTableSizeError:
        return ("clamped",)  # where this decoder clamps the size, hpack refuses the block
    except hpack.HPACKDecodingError as exc:
        message = str(exc)
        # hpack quotes a memoryview's repr (a memory address) in its integer errors: compare the kind only.
        for kind in ("Unable to decode HPACK integer representation", "Variable integer representation is too long"):
            message = kind if message.startswith(kind) else message
        return type(exc).__name__, message
    return "ok", [(bytes(name), bytes(value)) for name, value in headers]


def _same(ours: tuple, expected: tuple) -> bool:
    """The same headers, or both an error: which error comes first may differ, since this decoder reads a
    literal's extent before its contents (a cut block is "Truncated" before its last integer is unreadable)."""
    return ours == expected if "ok" in (ours[0], expected[0]) else True


def _pair() -> tuple[BoundedHpackDecoder, hpack.Decoder]:
    reference = hpack.Decoder(max_header_list_size=BIG)
    reference.max_allowed_table_size = BIG
    return BoundedHpackDecoder(max_header_list_size=BIG, max_table_size=BIG), reference


def _encode(encoder: hpack.Encoder, headers: list[tuple[str, str, bool]], use_huffman: bool) -> bytes:
    tuples = [hpack.NeverIndexedHeaderTuple(n, v) if never else hpack.HeaderTuple(n, v) for n, v, never in headers]
    return encoder.encode(tuples, huffman=use_huffman)


@SETTINGS
@given(steps=steps)
def test_agrees_with_hpack_on_encoded_blocks(steps: list) -> None:
    encoder = hpack.Encoder()
    ours, reference = _pair()
    for headers, use_huffman, table_size in steps:
        if table_size is not None:
            encoder.header_table_size = table_size  # a size update starts the next block
        block = _encode(encoder, headers, use_huffman)
        expected = _outcome(reference, block)
        assert expected[0] == "ok"
        assert _outcome(ours, block) == expected
        assert ours.header_table_size == reference.header_table_size


@SETTINGS
@given(steps=steps, damage=st.lists(st.tuples(st.integers(0, 500), st.integers(0, 255)), min_size=1, max_size=3),
       cut=st.integers(0, 500))
def test_agrees_with_hpack_on_corrupted_blocks(steps: list, damage: list[tuple[int, int]], cut: int) -> None:
    encoder = hpack.Encoder()
    ours, reference = _pair()
    for number, (headers, use_huffman, table_size) in enumerate(steps):
        if table_size is not None:
            encoder.header_table_size = table_size
        block = bytearray(_encode(encoder, headers, use_huffman))
        if number == len(steps) - 1 and block:  # the last block corrupted and perhaps cut short
            for position, byte in damage:
                block[position % len(block)] = byte
            block = block[: cut % (len(block) + 1)]
        expected = _outcome(reference, bytes(block))
        assert _same(_outcome(ours, bytes(block)), expected)
        if expected[0] != "ok":
            return
        assert ours.header_table_size == reference.header_table_size


@SETTINGS
@given(blocks=st.lists(st.binary(max_size=60), min_size=1, max_size=4))
def test_agrees_with_hpack_on_random_bytes(blocks: list[bytes]) -> None:
    ours, reference = _pair()
    for block in blocks:
        expected = _outcome(reference, block)
        assert _same(_outcome(ours, block), expected)
        if expected[0] != "ok":
            return


def test_table_size_over_the_bound_is_clamped_where_hpack_refuses() -> None:
    block = b"\x3f\xe1\x7f" + b"\x82"  # a size update to 16,352 bytes, then :method GET
    reference = hpack.Decoder()
    with pytest.raises(hpack.InvalidTableSizeError):
        reference.decode(block)
    decoder = BoundedHpackDecoder(max_table_size=4096)
    headers, notes = decoder.decode_block(block)
    assert headers == [(b":method", b"GET")] and decoder.header_table_size == 4096 and "clamped" in notes[0]


@pytest.mark.parametrize(("block", "message"), [
    (b"\x80", "Invalid table index 0"),
    (b"\xbe", "Invalid table index 62"),
    (b"\x40\x01a", "Truncated header block"),
    (b"\x40\x01a\x05ab", "Truncated header block"),
    (b"\x04\x05a", "Truncated header block"),
    (b"\x0f\x2f\x00", "Invalid table index 62"),
    (b"\x00\x84\xff\xff\xff\xff\x00", "Invalid Huffman string"),
    (b"\x00\x81\x00\x00", "Incomplete Huffman string"),
    (b"\x82\x20", "Table size update not at the start of the block"),
    (b"\xff", "Unable to decode HPACK integer representation"),
    (b"\xff\x80\x80\x80\x80\x80\x01", "Variable integer representation is too long"),
])
def test_errors_name_what_is_wrong(block: bytes, message: str) -> None:
    got = _outcome(BoundedHpackDecoder(), block)
    assert got[1] == message
    assert _outcome(_pair()[1], block)[0] not in ("ok", "clamped")  # hpack refuses it too


@SETTINGS
@given(plain=st.binary(max_size=80), damage=st.none() | st.tuples(st.integers(0, 200), st.integers(0, 255)),
       cut=st.integers(0, 200))
def test_huffman_agrees_with_hpack(plain: bytes, damage: tuple[int, int] | None, cut: int) -> None:
    encoded = bytearray(HUFFMAN.encode(plain))
    if damage is not None and encoded:
        encoded[damage[0] % len(encoded)] = damage[1]
        encoded = encoded[: cut % (len(encoded) + 1)]
    for _ in range(2):  # the second time from the memo
        try:
            expected: object = reference_huffman(bytes(encoded))
        except hpack.HPACKDecodingError as exc:
            expected = str(exc)
        try:
            got: object = huffman.decode_huffman(bytes(encoded))
        except hpack.HPACKDecodingError as exc:
            got = str(exc)
        assert got == expected
    assert len(huffman._memo) <= huffman.MEMO_ENTRIES


def test_huffman_memo_is_bounded() -> None:
    for number in range(huffman.MEMO_ENTRIES + 10):
        huffman.decode_huffman(HUFFMAN.encode(b"%d" % number))
    assert 0 < len(huffman._memo) <= huffman.MEMO_ENTRIES
    long = HUFFMAN.encode(b"x" * 200)
    assert huffman.decode_huffman(long) == b"x" * 200 and long not in huffman._memo
