"""The search index: each distinct text kept once, read as a dict of texts by exchange id, searched once per text."""

from __future__ import annotations

import io
import pickle
import sys
from array import array
from pathlib import Path

import pytest
from fake_capture import fake_analyse, fake_events

from pushscope.model.builder import CaptureBuilder
from pushscope.model.compact import compact
from pushscope.model.entities import Capture, Exchange
from pushscope.pipeline import load_capture
from pushscope.safe_text import visible
from pushscope.tui.searching import NUMBER, SearchTexts, _search_text, search_texts
from pushscope.tui.view import FilterState, build_view, filter_rows
from pushscope.tui.view_cache import read_texts, write_texts

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
# h2 with pushes on two connections, h3, HTTP/1.1 over TLS and in the clear
REAL = ("nginx-second-connection", "h3-two-connections", "h1-nginx-tls", "h1-apache-clear", "apache-cancel")


def _capture(extra: int = 0) -> Capture:
    builder = CaptureBuilder("capture", "shop.pcapng")
    for item in fake_events(extra):
        if hasattr(item, "at") or type(item).__name__ == "Diagnostic":
            builder.apply(item)  # type: ignore[arg-type]
    return fake_analyse(builder.capture)


def _one_text_each(capture: Capture) -> dict[int, str]:
    """What the index stands for: a text made for every exchange on its own."""
    push_urls = {p.exchange_id: p.url for p in capture.pushes if p.exchange_id is not None}
    return {e.id: _search_text(visible(e.url or push_urls.get(e.id, "")), e) for e in capture.exchanges}


@pytest.mark.parametrize("name", REAL)
def test_the_index_reads_as_one_text_per_exchange_on_real_captures(name: str) -> None:
    capture = load_capture(str(CAPTURES / f"{name}.pcapng"), str(CAPTURES / f"{name}.keys"))
    assert capture.exchanges
    texts = search_texts(capture)
    assert dict(texts) == _one_text_each(capture)
    assert texts == _one_text_each(capture) and len(texts) == len(capture.exchanges)


def _fetched_on_every_connection(connections: int) -> Capture:
    """The same two resources asked for on every connection, as a load repeated many times is."""
    capture = Capture("capture")
    for number in range(connections):
        for stream, path in ((1, "/index.html"), (3, "/style.css")):
            request = [(":method", "GET"), (":path", path), (":authority", "shop.example"), (":scheme", "https")]
            response = [(":status", "200"), ("date", f"Tue, 01 Dec 2026 08:00:0{number % 3} GMT")]
            capture.exchanges.append(Exchange(id=len(capture.exchanges), connection_id=f"t{number}", protocol="h2",
                                              stream_id=stream, request_headers=request, response_headers=response))
    return capture


def test_equal_texts_are_kept_once() -> None:
    capture = _fetched_on_every_connection(60)
    expected = _one_text_each(capture)
    assert len(set(expected.values())) == 6  # two paths, three dates
    # Equal lists made separately (as a load makes them), then one list each (as compacting makes them): the same.
    for made in ("separately", "compacted"):
        if made == "compacted":
            compact(capture)
        texts = search_texts(capture)
        assert texts == expected and len(texts) == 120
        assert len(texts.distinct) - 1 == 6 and len(texts.numbers) == 120
        kept: dict[str, str] = {}
        assert all(kept.setdefault(texts[i], texts[i]) is texts[i] for i in texts)  # one object for equal texts


def test_the_same_header_lists_under_another_url_make_another_text() -> None:
    capture = Capture("capture")
    request, response = [(":path", "/a")], [(":status", "200")]  # no :authority: the URL takes the assumed one
    for number, authority in enumerate(("a.example", "b.example", "a.example")):
        capture.exchanges.append(Exchange(id=number, connection_id=f"t{number}", protocol="h2", stream_id=1,
                                          request_headers=request, response_headers=response,
                                          ).with_rare(assumed_authority=authority))
    texts = search_texts(capture)
    assert texts == _one_text_each(capture) and len(texts.distinct) - 1 == 2
    assert texts.finder("b.example")(1) and not texts.finder("b.example")(0)


def test_it_reads_as_a_dict_of_the_exchanges_with_texts() -> None:
    capture = Capture("capture")
    capture.exchanges = [Exchange(id=0, connection_id="t0", protocol="h2", stream_id=1),  # no URL, no headers
                         Exchange(id=2, connection_id="t0", protocol="h2", stream_id=3,
                                  request_headers=[(":path", "/a"), (":authority", "example.com")])]
    texts = search_texts(capture)
    assert dict(texts) == {0: "", 2: "https://example.com/a\n:path: /a\n:authority: example.com"}
    assert list(texts) == [0, 2] and len(texts) == 2
    assert 0 in texts and 1 not in texts and -1 not in texts and 3 not in texts and "0" not in texts
    with pytest.raises(KeyError):
        texts[1]
    assert texts.get(7, "none") == "none"
    finder = texts.finder("example")
    assert [finder(i) for i in range(-1, 5)] == [False, False, False, True, False, False]


def test_a_search_looks_in_each_distinct_text_and_finds_what_a_search_of_every_text_finds() -> None:
    capture = _capture(extra=30)
    texts = search_texts(capture)
    rows = build_view(capture).rows
    # The same texts, one each: what a search of every text finds.
    one_each = _one_text_each(capture)
    numbers = array(NUMBER, [0]) * (max(one_each) + 1)
    for number, exchange_id in enumerate(one_each, start=1):
        numbers[exchange_id] = number
    unshared = SearchTexts(["", *one_each.values()], numbers)
    assert unshared == texts
    for needle in ("font/woff2", "get", "/r/", "text/css", ": 200", "nothing-like-it", "secret", "x0a"):
        finder = texts.finder(needle)
        assert {i for i in texts if finder(i)} == {i for i, text in one_each.items() if needle in text}
        assert filter_rows(rows, FilterState(search=needle), texts) == \
            filter_rows(rows, FilterState(search=needle), unshared)


def test_kept_and_read_back_whole_and_refused_when_broken() -> None:
    texts = search_texts(_capture(extra=5))
    kept = io.BytesIO()
    write_texts(texts, kept)
    assert read_texts(io.BytesIO(kept.getvalue())) == texts
    # Numbers past the texts' end, or cut mid-number: never an index into nothing.
    broken = io.BytesIO()
    pickler = pickle.Pickler(broken)
    for piece in ((2, sys.byteorder, 4), ["", "a"], array(NUMBER, [0, 1, 2]).tobytes()):
        pickler.dump(piece)
    with pytest.raises(ValueError):
        read_texts(io.BytesIO(broken.getvalue()))
    cut = io.BytesIO()
    pickler = pickle.Pickler(cut)
    for piece in ((2, sys.byteorder, 4), ["", "a"], array(NUMBER, [0, 1]).tobytes()[:-1]):
        pickler.dump(piece)
    with pytest.raises(ValueError):
        read_texts(io.BytesIO(cut.getvalue()))
    # Written by a machine of the other byte order (a shared cache directory): refused, not misread.
    other = io.BytesIO()
    pickler = pickle.Pickler(other)
    for piece in ((2, "big" if sys.byteorder == "little" else "little", 4), ["", "a"], array(NUMBER, [0]).tobytes()):
        pickler.dump(piece)
    with pytest.raises(ValueError):
        read_texts(io.BytesIO(other.getvalue()))
    for distinct, numbers in ((["x"], array(NUMBER, [0])), ([], array(NUMBER)), (["", "a"], array("b", [1]))):
        with pytest.raises(ValueError):
            SearchTexts(distinct, numbers)
