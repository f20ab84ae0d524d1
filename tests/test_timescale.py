"""``activity_spans`` and ``spans_of``: the sweep over starts and ends sorted apart gives the spans that merging the
sorted (start, end) pairs gives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pushscope.timescale import activity_spans, spans_of


def merged_pairs(intervals: list[tuple[float, float]], gap: float) -> list[tuple[float, float]]:
    """The reference: the pairs sorted, each merged into the last span when it starts within ``gap`` of its end."""
    spans: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        end = max(end, start)
        if spans and start - spans[-1][1] <= gap:
            if end > spans[-1][1]:
                spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


# Moments on a coarse grid as well as anywhere: equal starts, equal ends, an end equal to a later start, and gaps of
# exactly ``gap`` come up often.
moments = st.one_of(st.integers(-8, 40).map(lambda n: n / 4),
                    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))
intervals = st.lists(st.tuples(moments, moments), max_size=30)


@settings(max_examples=1000, deadline=None)
@given(intervals, st.sampled_from([0.0, 0.25, 0.5, 1.0, 7.5]))
def test_the_sweep_gives_the_spans_merging_pairs_gives(pairs: list[tuple[float, float]], gap: float) -> None:
    assert activity_spans(pairs, gap) == merged_pairs(pairs, gap)


def test_spans_known_by_hand() -> None:
    assert activity_spans([]) == []
    assert activity_spans([(5.0, 1.0)]) == [(5.0, 5.0)]  # an end before its start counts as the start
    # Nested, touching within the gap, and apart by more than it.
    pairs = [(0.0, 10.0), (1.0, 2.0), (10.5, 11.0), (11.6, 12.0), (20.0, 20.0), (20.0, 21.0)]
    assert activity_spans(pairs, 0.5) == [(0.0, 11.0), (11.6, 12.0), (20.0, 21.0)]
    assert activity_spans(pairs, 0.6) == [(0.0, 12.0), (20.0, 21.0)]
    assert activity_spans(pairs, 0.0) == [(0.0, 10.0), (10.5, 11.0), (11.6, 12.0), (20.0, 21.0)]


def test_spans_of_sorts_its_lists_in_place_and_refuses_unpaired_moments() -> None:
    starts, ends = [3.0, 0.0, 1.0], [4.0, 0.5, 1.0]
    assert spans_of(starts, ends, 0.5) == [(0.0, 1.0), (3.0, 4.0)]
    assert starts == [0.0, 1.0, 3.0] and ends == [0.5, 1.0, 4.0]
    with pytest.raises(ValueError):
        spans_of([1.0], [], 0.5)


def test_many_intervals_make_no_pair_each() -> None:
    """The point of the sweep: spans of 200,000 intervals without a tuple per interval (tracemalloc's peak stays
    far below 200,000 pairs of 64 bytes)."""
    import tracemalloc

    count = 200_000
    starts = [i * 0.001 for i in range(count)]
    ends = [at + 0.0005 for at in starts]
    tracemalloc.start()
    try:
        spans = spans_of(starts, ends, 0.5)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert spans == [(0.0, ends[-1])]
    assert peak < 1_000_000  # a pair per interval would be 12.8 MB
