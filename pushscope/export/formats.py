"""Every report format behind one function, ``render_report``: used by ``pushscope report`` and the inspector's
export.

Everything heavy (plotly, Chromium) is imported inside it, so importing this module stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any, cast

from pushscope.model.entities import Capture

FORMATS = ("text", "json", "html", "har", "qlog", "png")


# Each renderer is imported only when its format is asked for (a text report never imports plotly).
_RENDERERS = {
    "text": ("text_report", "render_text"),
    "json": ("json_report", "render_json"),
    "html": ("html_report", "render_html"),
    "har": ("har", "render_har"),
    "qlog": ("qlog", "render_qlog"),
    "png": ("png_report", "render_png"),
}
# The formats written in pieces as they are made (a few exchanges, one entry, connection or table row at a time).
_CHUNKERS = {
    "json": ("json_report", "json_chunks"),
    "har": ("har", "har_chunks"),
    "qlog": ("qlog", "qlog_chunks"),
    "html": ("html_report", "html_chunks"),
}


def _imported(module: str, function: str) -> Callable[..., Any]:
    return cast(Callable[..., Any], getattr(importlib.import_module(f"pushscope.export.{module}"), function))


def render_report(capture: Capture, fmt: str, *, redact: bool = True) -> str | bytes:
    """The report in ``fmt`` (one of FORMATS); bytes for png, text otherwise."""
    if fmt not in _RENDERERS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return cast(str | bytes, _imported(*_RENDERERS[fmt])(capture, redact=redact))


def report_chunks(capture: Capture, fmt: str, *, redact: bool = True) -> str | bytes | Iterator[str]:
    """The report as ``write_output`` takes it: JSON, HAR, qlog and HTML as pieces of text made as they are written
    (so a large capture's document is never held whole); the same text as ``render_report``."""
    if fmt in _CHUNKERS:
        return cast(Iterator[str], _imported(*_CHUNKERS[fmt])(capture, redact=redact))
    return render_report(capture, fmt, redact=redact)
