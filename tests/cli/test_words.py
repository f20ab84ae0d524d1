"""Words and numbers in the text report: what it is of (a probe is not a capture), counts that agree in number."""

from __future__ import annotations

from pushscope.export.text_report import render_text
from pushscope.model.entities import Capture


def test_an_empty_probe_speaks_of_a_probe() -> None:
    text = render_text(Capture(source="probe", name="probe https://a.test/"))
    assert text.startswith("pushscope probe: probe https://a.test/")
    assert "(no PUSH_PROMISE in this probe)" in text and "capture" not in text
    assert "  0 connections, 0 requests, 0 pushes\n" in text  # no dangling "0 pushes: "


def test_counts_agree_in_number() -> None:
    text = render_text(Capture(source="capture", name="x.pcapng"))
    assert text.startswith("pushscope report: x.pcapng") and "(no PUSH_PROMISE in this capture)" in text
    from pushscope.export.text_report import counted

    assert [counted(1, "connection"), counted(2, "push", "pushes"), counted(0, "request")] == [
        "1 connection", "2 pushes", "0 requests"]
