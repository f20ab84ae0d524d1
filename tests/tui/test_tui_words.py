"""The inspector's words and numbers: one time unit per line, visible control characters, no markup."""

from __future__ import annotations

from pushscope.tui.fmt import unit_for


def test_one_unit_per_line() -> None:
    unit = unit_for([0.0105, 2.0173, None])
    assert unit.name == "s"
    assert [unit.offset(v) for v in (0.0105, 2.0173)] == ["+0.01 s", "+2.02 s"]
    assert unit_for([0.0105, 0.2]).offset(0.2) == "+200.0 ms"
    assert unit_for([0.0000105]).duration(0.0000105) == "10 µs"
    assert unit_for([]).name == "ms"


def test_idle_gaps_collapse_and_map_back() -> None:
    from pushscope.timescale import TimeScale, activity_spans

    spans = activity_spans([(0.0, 0.5), (0.2, 0.9), (60.0, 61.0), (61.5, 62.0), (300.0, 300.4)])
    assert spans == [(0.0, 0.9), (60.0, 62.0), (300.0, 300.4)]
    scale = TimeScale.collapsing(spans)
    assert scale.collapses and len(scale.breaks) == 2
    assert scale.to_axis(0.5) == 0.5
    second = scale.to_axis(60.0)
    assert 0.9 < second < 1.5  # the minute of idle time shrank to a short break
    assert scale.to_axis(61.0) - second == 1.0  # time inside a load keeps its length
    assert scale.to_time(scale.to_axis(61.25)) == 61.25
    assert scale.to_axis(300.4) < 4.0
    assert TimeScale().to_axis(5.0) == 5.0


def test_idle_connection_says_no_requests_not_unknown() -> None:
    from pushscope.tui.view import ConnectionInfo

    def info(protocol: str, alpn: str | None, requests: int) -> ConnectionInfo:
        return ConnectionInfo("t4", 4, protocol, "tls", "127.0.0.1:443", None, alpn, "1.3", True, requests, {})

    assert info("unknown", "h2", 0).protocol_label == "h2 (no requests)"
    assert info("h2", "h2", 0).protocol_label == "h2 (no requests)"
    assert info("h3", "h3", 2).protocol_label == "h3"
    assert info("unknown", None, 0).protocol_label == "unknown"  # nothing says what it is: unknown it stays


def test_summary_line_counts_requests_and_never_dangles() -> None:
    from pushscope.tui.widgets.summary import summary_content

    none = summary_content({"requests": 1, "pushes": 0}).plain.replace("\u00a0", " ")
    assert none == "1 request · no pushes"
    mixed = summary_content({"requests": 3, "pushes": 1, "pushes_by_outcome": {"used": 1}, "wasted_bytes": 0,
                             "time_saved": 2.5, "time_added": 0.004}).plain.replace("\u00a0", " ")
    assert mixed.startswith("3 requests · 1 push: ✔used 1")
    assert "saved 2.50 s" in mixed and "added 0.004 s" in mixed  # one unit on the line, nothing lost


def test_http1_requests_are_numbered_not_streams() -> None:
    from pushscope.model.entities import Exchange
    from pushscope.tui.widgets.detail import _stream_words

    assert _stream_words(Exchange(0, "t0", "http/1.1", 3)) == "request 2 on the connection"
    assert _stream_words(Exchange(1, "t0", "h2", 3)) == "stream 3"
    assert _stream_words(Exchange(2, "q1", "h3", None)) == "stream -"
