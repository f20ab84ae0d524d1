"""StreamReassembler: STREAM frames as a capture shows them in, each byte once and in order out."""

from __future__ import annotations

import random

from pushscope.decode.reassembly import Gap, StreamReassembler

DATA = bytes(range(256)) * 8


def test_in_order_frames_are_delivered_at_once() -> None:
    stream = StreamReassembler()
    first = stream.receive(0, DATA[:100], False, 1.0)
    second = stream.receive(100, DATA[100:250], True, 2.0)
    assert (first.data, first.fin, first.at) == (DATA[:100], False, 1.0)
    assert (second.data, second.fin, second.at) == (DATA[100:250], True, 2.0)
    assert stream.gaps() == []


def test_out_of_order_frames_wait_for_the_hole_and_take_its_time() -> None:
    stream = StreamReassembler()
    assert stream.receive(200, DATA[200:300], True, 1.0).data == b""
    assert stream.receive(100, DATA[100:200], False, 2.0).data == b""
    assert stream.gaps() == [Gap(0, 100)]
    completed = stream.receive(0, DATA[:100], False, 3.0)
    assert completed.data == DATA[:300]
    assert completed.fin and completed.at == 3.0
    assert stream.gaps() == []


def test_retransmission_is_delivered_once() -> None:
    stream = StreamReassembler()
    stream.receive(0, DATA[:100], False, 1.0)
    again = stream.receive(0, DATA[:100], False, 2.0)
    assert again.data == b"" and again.duplicate_bytes == 100 and not again.conflict


def test_repacketised_overlaps_fill_only_what_is_missing() -> None:
    stream = StreamReassembler()
    stream.receive(0, DATA[:50], False, 1.0)
    stream.receive(80, DATA[80:120], False, 2.0)
    merged = stream.receive(30, DATA[30:150], False, 3.0)
    assert merged.data == DATA[50:150]
    assert merged.duplicate_bytes == 20 + 40
    assert stream.delivered == 150


def test_conflicting_retransmission_keeps_the_first_copy_and_says_so() -> None:
    stream = StreamReassembler()
    stream.receive(10, b"abcdef", False, 1.0)
    clash = stream.receive(10, b"abXdef", False, 2.0)
    assert clash.conflict
    assert stream.receive(0, DATA[:10], False, 3.0).data == DATA[:10] + b"abcdef"


def test_empty_fin_frame_ends_the_stream() -> None:
    stream = StreamReassembler()
    stream.receive(0, b"hello", False, 1.0)
    end = stream.receive(5, b"", True, 2.0)
    assert end.data == b"" and end.fin and end.at == 2.0
    assert not stream.receive(5, b"", True, 3.0).fin  # reported once


def test_data_past_the_final_size_is_cut_and_flagged() -> None:
    stream = StreamReassembler()
    stream.receive(0, b"12345", True, 1.0)
    late = stream.receive(3, b"45678", False, 2.0)
    assert late.beyond_final_size and late.data == b""


def test_gap_left_at_the_end_is_reported_not_raised() -> None:
    stream = StreamReassembler()
    stream.receive(0, DATA[:100], False, 1.0)
    stream.receive(200, DATA[200:300], False, 2.0)
    stream.receive(400, DATA[400:450], True, 3.0)
    assert stream.gaps() == [Gap(100, 200), Gap(300, 400)]
    assert stream.buffered_bytes == 150


def test_fin_known_but_tail_missing_is_a_gap() -> None:
    stream = StreamReassembler()
    stream.receive(0, DATA[:100], False, 1.0)
    stream.receive(100, b"", True, 2.0)
    assert stream.gaps() == []
    tail = StreamReassembler()
    tail.receive(0, DATA[:100], False, 1.0)
    tail.receive(300, DATA[300:310], True, 2.0)
    assert tail.gaps() == [Gap(100, 300)]


def test_random_shuffled_duplicated_frames_reassemble_exactly() -> None:
    rng = random.Random(7)
    frames = []
    position = 0
    while position < len(DATA):
        size = rng.randint(1, 90)
        frames.append((position, DATA[position : position + size]))
        position += size
    # retransmissions at other boundaries, then shuffle everything
    frames += [(start, DATA[start : start + rng.randint(1, 200)]) for start in rng.sample(range(len(DATA)), 40)]
    rng.shuffle(frames)
    stream = StreamReassembler()
    out = bytearray()
    fin_seen = False
    for index, (offset, chunk) in enumerate(frames):
        delivery = stream.receive(offset, chunk, offset + len(chunk) == len(DATA), float(index))
        out += delivery.data
        fin_seen = fin_seen or delivery.fin
        assert not delivery.conflict
    assert bytes(out) == DATA and fin_seen
    assert stream.gaps() == []
