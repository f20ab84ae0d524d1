"""JSON, HAR, qlog and HTML are written piece by piece as they are made: the pieces must join to exactly the text
of the whole document, the direct JSON writer must equal json.dumps of the report's dicts, the HTML waterfall says
when it draws only the first rows, and the memory a streamed export holds must not grow with the capture as the
whole document does."""

from __future__ import annotations

import enum
import html
import json
import math
import tracemalloc
from pathlib import Path

import pytest
from export_models import T0, XSS_HEADER_PAYLOAD, _exchange, _push, build_capture, whole_documents

from pushscope.events import Endpoint
from pushscope.export import html_report, html_waterfall, json_report, json_text
from pushscope.export.formats import report_chunks
from pushscope.export.har import _start, har_chunks, har_dict
from pushscope.export.qlog import qlog_chunks
from pushscope.model.entities import Capture, Connection, Reset
from pushscope.output import write_output


def assert_streams_match(capture: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every streamed format (JSON on its large-report path) joins to the whole document, redacted or not."""
    monkeypatch.setattr(json_report, "LARGE_REPORT", -1)
    for redact in (True, False):
        for fmt, expected in whole_documents(capture, redact).items():
            chunks = report_chunks(capture, fmt, redact=redact)
            assert not isinstance(chunks, str | bytes), f"{fmt} is not streamed"
            assert "".join(chunks) == expected, f"{fmt} (redact={redact}) differs from the whole document"


def several_loads(loads: int) -> Capture:
    """``loads`` page loads, each on its own connection: a document, a pushed stylesheet, a script on another
    site (so HAR pages are chosen by site), a reset push; with hostile header bytes on every tenth."""
    cap = Capture(source="capture", name="loads.pcapng", started_at=T0, ended_at=T0 + loads + 1)
    for n in range(loads):
        conn = Connection(f"t{n}", n, Endpoint("10.0.0.1", 40000 + n), Endpoint("10.0.0.2", 443), "tls", T0 + n,
                          protocol="h2", alpn="h2", decrypted=True)
        cap.connections[conn.id] = conn
        site = f"site{n % 3}.test"
        odd = [("x-odd", "\x1b[2J\u202e\u00e9\U0001f600 \"quoted\" \\ back"), ("Cookie", "c=1")] if n % 10 == 0 else []
        _exchange(cap, conn.id, "h2", 1, f"/page{n}.html?a=b&c", n + 0.01, n + 0.2, "text/html", 5000 + n,
                  authority=site, req_extra=odd, resp_extra=[("date", "Mon, 30 Nov 2026 10:00:00 GMT")])
        css = _exchange(cap, conn.id, "h2", 2, f"/style{n % 5}.css", n + 0.02, n + 0.1, "text/css", 900,
                        pushed=True, authority=site)
        _push(cap, css, 1, n + 0.02, "used", "claimed", saved=0.01)
        js = _exchange(cap, conn.id, "h2", 4, "/app.js", n + 0.03, None, "text/javascript", 10, pushed=True,
                       authority=site)
        _push(cap, js, 1, n + 0.03, "wasted", "rejected", wasted=10,
              reset=Reset("client", 8, "CANCEL", T0 + n + 0.05, "RST_STREAM"))
        _exchange(cap, conn.id, "h2", 3, "/lib.js", n + 0.04, n + 0.15, "text/javascript", 300,
                  authority=f"site{(n + 1) % 3}.test")
    cap.analysed = True
    return cap


@pytest.mark.parametrize("model", ["hand-built", "hostile", "later-load", "several-loads", "empty"])
def test_streams_join_to_the_whole_document(model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    capture = {"hand-built": build_capture, "hostile": lambda: build_capture(xss=True),
               "later-load": lambda: build_capture(later_load_at=600.0), "several-loads": lambda: several_loads(12),
               "empty": lambda: Capture(source="capture", name="empty")}[model]()
    assert_streams_match(capture, monkeypatch)


def test_streamed_file_is_the_rendered_text(tmp_path: Path) -> None:
    """Through the atomic writer (how ``report -o FILE`` writes it): one piece per HAR entry, the same bytes."""
    capture = several_loads(6)
    pieces = list(har_chunks(capture))
    assert len(pieces) > len(capture.exchanges)
    for fmt, chunks in (("har", har_chunks(capture)), ("qlog", qlog_chunks(capture))):
        out = tmp_path / f"report.{fmt}"
        write_output(chunks, str(out))
        assert out.read_text(encoding="utf-8") == whole_documents(capture)[fmt]


class Word(enum.StrEnum):
    USED = "used"


class Number(enum.IntEnum):
    ONE = 1


@pytest.mark.parametrize("value", [None, True, False, 0, -7, 2**70, 0.1, -0.0, 1e300, 1.5e-7, math.nan, math.inf,
                                   -math.inf, "", "plain", "é\u202e\x1b\U0001f600\"\\\n", Word.USED, Number.ONE,
                                   [1, "a", None], {"k": 1.25}])
def test_value_text_is_json_dumps(value: object) -> None:
    assert json_text.value_text(value) == json.dumps(value)


def test_exchange_and_push_text_are_json_dumps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Header lists read once, pairs cached (and the cache emptied when full): the same text as the dicts."""
    monkeypatch.setattr(json_text, "PAIR_CACHE_LIMIT", 5)
    capture = several_loads(10)
    first = capture.exchanges[0]
    first.request_headers = [(":method", "POST"), (":method", "GET"), ("HOST", "a"), ("host", "b"),
                             (":path", "/first"), (":path", "/second"), (" Cookie", "x"), ["cookie", "list pair"]]
    first.response_headers = [(":status", "2x0"), ("content-type", " Text/HTML ; q=1"), ("Set-Cookie", "s")]
    first.unknown_fields = (":authority",)
    capture.exchanges[1].request_headers = []
    capture.exchanges[2].unknown_fields = (":path", ":scheme")
    capture.exchanges[3].assumed_authority = "assumed.test"
    capture.exchanges[4].request_start, capture.exchanges[4].response_end = math.nan, math.inf  # hostile times
    capture.exchanges[5].response_start = 1_700_000_000  # an int moment stays an int
    for redact in (True, False):
        headers = json_text.HeaderText(redact)
        for exchange in capture.exchanges:
            assert json_text.exchange_text(exchange, headers) == json.dumps(json_report.exchange_dict(exchange, redact))
    for push in capture.pushes:
        assert json_text.push_text(push, capture) == json.dumps(json_report.push_dict(push, capture))


def _pages_by_rule(capture: Capture) -> dict[int, str]:
    """The page of each exchange by its definition, pages checked one by one: the latest page started by the
    exchange's start, preferring a page of the same site (the HAR writer finds it by bisection)."""
    har = har_dict(capture)["log"]
    timed = sorted((e for e in capture.exchanges if _start(e) is not None), key=lambda e: (_start(e), e.id))
    docs = [e for e in timed if not e.pushed and e.content_type == "text/html"]
    refs = {}
    for exchange in timed:
        started = [(page, doc) for page, doc in zip(har["pages"], docs, strict=True)
                   if _start(doc) <= _start(exchange)] or [(har["pages"][0], docs[0])]
        same_site = [(page, doc) for page, doc in started if doc.authority == exchange.authority]
        refs[exchange.id] = (same_site or started)[-1][0]["id"]
    return refs


def test_har_pages_follow_the_rule() -> None:
    capture = several_loads(9)
    _exchange(capture, "t3", "h2", 9, "/before-any-page.js", -1.0, -0.5, "text/javascript", 5,
              authority="elsewhere.test")
    expected = _pages_by_rule(capture)
    entries = har_dict(capture)["log"]["entries"]
    pages = {(entry["connection"], entry["_stream_id"]): entry["pageref"] for entry in entries}
    assert len(pages) == len(capture.exchanges) and len(set(pages.values())) == 9
    for exchange in capture.exchanges:
        assert pages[exchange.connection_id, exchange.stream_id] == expected[exchange.id], exchange.url


def _streamed_peak(capture: Capture, fmt: str) -> tuple[int, int]:
    """tracemalloc's peak while the format is written to nowhere, and the length of the text written."""
    tracemalloc.start()
    try:
        length = sum(len(piece) for piece in report_chunks(capture, fmt))  # type: ignore[union-attr]
        return tracemalloc.get_traced_memory()[1], length
    finally:
        tracemalloc.stop()


def test_html_header_rows_reused_or_not_read_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    capture = build_capture(xss=True)
    page = "".join(report_chunks(capture, "html"))  # type: ignore[arg-type]
    monkeypatch.setattr(html_report, "HEADER_ROWS_KEPT", 1)  # every row escaped again, the cache emptied each time
    assert "".join(report_chunks(capture, "html")) == page  # type: ignore[arg-type]
    assert XSS_HEADER_PAYLOAD not in page and html.escape(XSS_HEADER_PAYLOAD) in page


def test_waterfall_says_when_it_shows_the_first_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    capture = several_loads(3)
    whole_figure, _ = html_waterfall.waterfall_figure(json_report.report_dict(capture))
    assert "waterfall-shown" not in "".join(report_chunks(capture, "html"))  # type: ignore[arg-type]
    monkeypatch.setattr(html_waterfall, "WATERFALL_ROWS", 5)
    page = "".join(report_chunks(capture, "html"))  # type: ignore[arg-type]
    assert 'data-bars="5"' in page
    assert "The waterfall shows the first 5 of 12 exchanges" in page
    assert page.count("<summary>headers</summary>") == 12  # the table still lists every exchange
    figure, bars = html_waterfall.waterfall_figure(json_report.report_dict(capture))
    assert bars == 5
    order = figure["layout"]["yaxis"]["categoryarray"]
    assert order == whole_figure["layout"]["yaxis"]["categoryarray"][:5]  # the first rows, in the same order


@pytest.mark.parametrize("fmt", ["json", "har", "qlog", "html"])
def test_streamed_memory_grows_far_less_than_the_document(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four times the page loads: the whole document's text alone would grow by what was written (its dicts by
    several times that); a streamed export holds one entry at a time, a fixed buffer and small indexes (HAR's
    pages, the page of each exchange), so its peak grows by a small part of it."""
    monkeypatch.setattr(json_report, "LARGE_REPORT", -1)
    monkeypatch.setattr(html_waterfall, "WATERFALL_ROWS", 100)  # a bounded figure, so only the tables grow
    _streamed_peak(several_loads(2), fmt)  # first imports and plotly's caches, not counted
    small_peak, small_length = _streamed_peak(several_loads(100), fmt)
    large_peak, large_length = _streamed_peak(several_loads(400), fmt)
    assert large_peak - small_peak < (large_length - small_length) / 2, (
        f"{fmt}: peak {small_peak} -> {large_peak} bytes while the text grew {small_length} -> {large_length}")
