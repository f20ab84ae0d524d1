"""Every report format behind one function, ``render_report``: used by ``pushscope report`` and the inspector's
export.

Everything heavy (plotly, Chromium) is imported inside it, so importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterator

from pushscope.model.entities import Capture

FORMATS = ("text", "json", "html", "har", "qlog", "png")


def render_report(capture: Capture, fmt: str, *, redact: bool = True) -> str | bytes:
    """The report in ``fmt`` (one of FORMATS); bytes for png, text otherwise."""
    if fmt == "text":
        from pushscope.export.text_report import render_text

        return render_text(capture, redact=redact)
    if fmt == "json":
        from pushscope.export.json_report import render_json

        return render_json(capture, redact=redact)
    if fmt == "html":
        from pushscope.export.html_report import render_html

        return render_html(capture, redact=redact)
    if fmt == "har":
        from pushscope.export.har import render_har

        return render_har(capture, redact=redact)
    if fmt == "qlog":
        from pushscope.export.qlog import render_qlog

        return render_qlog(capture, redact=redact)
    if fmt == "png":
        from pushscope.export.png_report import render_png

        return render_png(capture, redact=redact)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def report_chunks(capture: Capture, fmt: str, *, redact: bool = True) -> str | bytes | Iterator[str]:
    """The report as ``write_output`` takes it: JSON, HAR, qlog and HTML as pieces of text made as they are written
    (a few exchanges, one entry, connection or table row at a time, so a large capture's document is never held
    whole); the same text as ``render_report``."""
    if fmt == "json":
        from pushscope.export.json_report import json_chunks

        return json_chunks(capture, redact=redact)
    if fmt == "har":
        from pushscope.export.har import har_chunks

        return har_chunks(capture, redact=redact)
    if fmt == "qlog":
        from pushscope.export.qlog import qlog_chunks

        return qlog_chunks(capture, redact=redact)
    if fmt == "html":
        from pushscope.export.html_report import html_chunks

        return html_chunks(capture, redact=redact)
    return render_report(capture, fmt, redact=redact)
