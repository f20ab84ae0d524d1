"""The HTML report's waterfall: a plotly figure of every exchange on one time axis, readable on any capture.

Long idle gaps (over ``timescale.GAP`` with nothing in flight) are collapsed and marked as breaks on the axis,
so a capture of several page loads minutes apart still gives each load the width of the plot; buttons show one
page load on its own, and a range slider zooms anywhere. Bars are at least ``MIN_BAR_SHARE`` of the visible
span wide, the axis starts at 0, and times in the hover text are real capture times. Every string from the
capture is escaped (plotly renders a subset of HTML in hover and tick text).
"""

from __future__ import annotations

import bisect
import html
import math
from typing import Any

from pushscope.presentation import OUTCOME_COLOURS, OUTCOMES
from pushscope.timescale import TimeScale, activity_spans
from pushscope.units import fmt_bytes, fmt_duration, fmt_ms

REQUEST_COLOUR = "#4a78c2"
MIN_BAR_SHARE = 0.004  # of the whole axis: 4 px on a 1000 px plot, never a hairline
TICKS_TOTAL = 10  # tick labels across the whole axis
_URL_HOVER_LIMIT = 140
_LABEL_LIMIT = 48
_LOAD_LABEL_LIMIT = 28


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def figure_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per exchange with a known moment, grouped by connection (in connection order), then by start."""
    order = {conn["id"]: conn["index"] for conn in report["connections"]}
    pushes = {p["exchange"]: p for p in report["pushes"] if p["exchange"] is not None}
    rows = []
    for ex in report["exchanges"]:
        start = _first(ex["request_start"], ex["response_start"], ex["response_end"])
        push = pushes.get(ex["id"])
        if start is None and push is not None:
            start = push["promised_at"]
        if start is None:
            continue
        reset = ex["reset"] or (push["reset"] if push else None)
        end = _first(ex["response_end"], reset["at"] if reset else None, report["ended_at"]) or start
        rows.append({"ex": ex, "push": push, "start": start, "end": max(end, start), "reset": reset})
    rows.sort(key=lambda r: (order.get(r["ex"]["connection"], 1 << 30), r["ex"]["connection"], r["start"],
                             r["ex"]["id"]))
    return rows


def _path(ex: dict[str, Any]) -> str:
    path = ex["url"].split("://", 1)[-1]
    return path[path.find("/"):] if "/" in path else path


def _label(ex: dict[str, Any]) -> str:
    path = _cut(_path(ex), _LABEL_LIMIT)
    where = f"s{ex['stream_id']}" if ex["stream_id"] is not None else f"push {ex['push_id']}"
    return esc(f"{ex['connection']} #{ex['id']} {where} {'⇠ ' if ex['pushed'] else ''}{path or '(no request)'}")


def rel_ms(at: float | None, t0: float) -> str:
    return "-" if at is None else esc(f"+{(at - t0) * 1000:.1f} ms")


def _hover(row: dict[str, Any], t0: float) -> str:
    ex, push, reset = row["ex"], row["push"], row["reset"]
    url = _cut(ex["url"], _URL_HOVER_LIMIT)
    ids = f"stream {ex['stream_id']}" + (f", push ID {ex['push_id']}" if ex["push_id"] is not None else "")
    lines = [
        f"<b>{esc(ex['method'] or 'PUSH')} {esc(url)}</b>",
        f"status {esc(ex['status'] or '-')} · body {esc(fmt_bytes(ex['body_bytes']))}"
        f" · headers {esc(fmt_bytes(ex['response_header_bytes']))} · {esc(ex['content_type'] or '')}",
        f"connection {esc(ex['connection'])} · {esc(ids)}",
        "start " + rel_ms(row["start"], t0) + " · first byte " + rel_ms(ex["response_start"], t0)
        + " · end " + rel_ms(ex["response_end"], t0) + f" ({esc(fmt_ms(row['end'] - row['start']))})",
    ]
    if push is not None:
        lines.append(f"pushed: <b>{esc(push['outcome'])}</b> · {esc(push['reason'] or 'no reason given')}")
        if push["reason_detail"]:
            lines.append(esc(push["reason_detail"][:200]))
        lines.append(f"promised {rel_ms(push['promised_at'], t0)} · pushed {esc(fmt_bytes(push['pushed_bytes']))}"
                     f" · wasted {esc(fmt_bytes(push['cost']['wasted_bytes']))}")
    if reset is not None:
        lines.append(f"{esc(reset['frame'])} by {esc(reset['by'])} {esc(reset['code'])} at {rel_ms(reset['at'], t0)}")
    return "<br>".join(lines)


class Axis:
    """Capture moments (epoch seconds) to x positions (ms since the capture start, idle gaps collapsed)."""

    def __init__(self, rows: list[dict[str, Any]], t0: float) -> None:
        self.t0 = t0
        self.spans = activity_spans((r["start"] - t0, r["end"] - t0) for r in rows)
        self.scale = TimeScale.collapsing(self.spans)

    def x(self, at: float) -> float:
        return self.scale.to_axis(at - self.t0) * 1000

    @property
    def end(self) -> float:
        return self.scale.to_axis(self.spans[-1][1]) * 1000 if self.spans else 0.0

    def load_range(self, i: int) -> list[float]:
        start, end = self.spans[i]
        lo, hi = self.scale.to_axis(start) * 1000, self.scale.to_axis(end) * 1000
        pad = max((hi - lo) * 0.04, 0.05)
        return [max(lo - pad, 0.0), hi + pad]

    def ticks(self) -> tuple[list[float], list[str]]:
        """Tick positions and labels in real capture time, a few per activity span, one unit on the whole axis."""
        values: list[float] = []
        texts: list[str] = []
        seconds = bool(self.spans) and self.spans[-1][1] >= 1
        whole = max(self.end / 1000, 1e-6)
        for start, end in self.spans:
            # Ticks in proportion to the room the span takes on the axis, so a short load's labels never pile up.
            share = (end - start) / whole
            count = int(TICKS_TOTAL * share)
            if values and count < 2:
                values.append(self.scale.to_axis(start) * 1000)
                texts.append(esc(_offset(start, max(end - start, 1e-4), seconds)))
                continue
            step = _nice_step(max(end - start, 1e-4) / max(count, 1))
            tick = math.floor(start / step) * step
            if tick < start - 1e-12 and values:  # a later load: label its own start first
                tick = start
            while tick <= end + step * 0.5:
                values.append(self.scale.to_axis(tick) * 1000)
                texts.append(esc(_offset(tick, step, seconds)))
                tick = (math.floor(tick / step + 1e-9) + 1) * step
        return values, texts


def _nice_step(raw: float) -> float:
    exponent = math.floor(math.log10(raw))
    for step in (1, 2, 2.5, 5, 10):
        if step * 10**exponent >= raw:
            return step * 10**exponent
    return 10 ** (exponent + 1)


def _offset(at: float, step: float, seconds: bool) -> str:
    """``600.05 s`` or ``250 ms``: enough decimals for ``step`` to show, so neighbouring ticks never read alike."""
    if at == 0:
        return "0"
    value, unit_step, unit = (at, step, "s") if seconds else (at * 1000, step * 1000, "ms")
    decimals = max(0, -math.floor(math.log10(unit_step))) + (1 if unit_step * 10 ** max(
        0, -math.floor(math.log10(unit_step))) % 1 else 0)
    return f"{value:.{min(decimals, 6)}f} {unit}"


def _loads(rows: list[dict[str, Any]], axis: Axis) -> list[str]:
    """A short name per activity span: the first request in it (a document, usually)."""
    names: list[str | None] = [None] * len(axis.spans)
    starts = [s for s, _e in axis.spans]
    for row in sorted(rows, key=lambda r: r["start"]):
        if row["push"] is not None:
            continue
        i = max(bisect.bisect_right(starts, row["start"] - axis.t0 + 1e-12) - 1, 0)
        if names[i] is None:
            names[i] = _path(row["ex"])
    return [_cut(n or "(pushes only)", _LOAD_LABEL_LIMIT) for n in names]


def waterfall_figure(report: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The plotly figure (as a dict) and the number of bars it draws: one per exchange with a known moment."""
    import plotly.graph_objects as go

    rows = figure_rows(report)
    t0 = _first(report["started_at"], min((r["start"] for r in rows), default=None)) or 0.0
    axis = Axis(rows, t0)
    min_width = max(axis.end * MIN_BAR_SHARE, 0.05)
    labels = [_label(r["ex"]) for r in rows]
    fig = go.Figure()
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        key = "request" if row["push"] is None else row["push"]["outcome"]
        groups.setdefault(key, []).append(i)
    for key in ("request", *OUTCOMES):
        members = groups.get(key, [])
        if not members:
            continue
        fig.add_trace(go.Bar(
            orientation="h", name="request" if key == "request" else f"push: {key}",
            y=[labels[i] for i in members],
            base=[axis.x(rows[i]["start"]) for i in members],
            x=[max(axis.x(rows[i]["end"]) - axis.x(rows[i]["start"]), min_width) for i in members],
            marker_color=REQUEST_COLOUR if key == "request" else OUTCOME_COLOURS[key],
            hovertext=[_hover(rows[i], t0) for i in members], hovertemplate="%{hovertext}<extra></extra>",
        ))
    _add_markers(fig, rows, labels, axis)
    _add_connection_bands(fig, rows)
    _add_breaks(fig, axis)
    fig.update_layout(**_layout(rows, labels, axis))
    return fig.to_plotly_json(), len(rows)


def _layout(rows: list[dict[str, Any]], labels: list[str], axis: Axis) -> dict[str, Any]:
    full = [0.0, max(axis.end * 1.02, 1.0)]
    xaxis: dict[str, Any] = {
        "title": {"text": "time since capture start" + (" (idle gaps collapsed: ≈)" if axis.scale.collapses
                                                         else " (ms)")},
        "zeroline": False, "range": full, "rangemode": "nonnegative",
        "rangeslider": {"visible": True, "thickness": 0.08, "range": full},
    }
    if axis.scale.collapses:
        xaxis["tickvals"], xaxis["ticktext"] = axis.ticks()
    layout: dict[str, Any] = {
        "barmode": "overlay", "height": 230 + 22 * max(len(rows), 3), "margin": {"l": 20, "r": 20, "t": 70, "b": 50},
        "xaxis": xaxis,
        "yaxis": {"type": "category", "categoryorder": "array", "categoryarray": labels, "autorange": "reversed",
                  "automargin": True, "tickfont": {"family": "monospace", "size": 11}, "fixedrange": True},
        "legend": {"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0},
        "hoverlabel": {"align": "left"}, "plot_bgcolor": "#fff", "template": "plotly_white",
    }
    if len(axis.spans) > 1:
        names = _loads(rows, axis)
        buttons = [{"label": "all page loads", "method": "relayout", "args": [{"xaxis.range": full}]}]
        buttons += [{"label": esc(f"load {i + 1}: {name}"), "method": "relayout",
                     "args": [{"xaxis.range": axis.load_range(i)}]} for i, name in enumerate(names)]
        layout["updatemenus"] = [{"type": "buttons", "direction": "right", "buttons": buttons, "showactive": True,
                                  "x": 0, "xanchor": "left", "y": 1.0, "yanchor": "bottom", "pad": {"b": 28},
                                  "font": {"size": 11}}]
    return layout


def _add_breaks(fig: Any, axis: Axis) -> None:
    """A dashed line and an "≈ idle" note at each collapsed gap, so no one reads the axis as continuous."""
    for axis_at, gap_start, gap_end in axis.scale.break_marks():
        x = axis_at * 1000 + axis.scale.shown_gap * 500
        fig.add_shape(type="line", xref="x", x0=x, x1=x, yref="paper", y0=0, y1=1,
                      line={"color": "#999", "width": 1, "dash": "dot"})
        fig.add_annotation(x=x, xref="x", y=1, yref="paper", yanchor="top", xanchor="left", showarrow=False,
                           text=esc(f"≈ {fmt_duration(gap_end - gap_start)} idle"), font={"size": 10,
                                                                                           "color": "#777"})


def _add_markers(fig: Any, rows: list[dict[str, Any]], labels: list[str], axis: Axis) -> None:
    import plotly.graph_objects as go

    t0 = axis.t0
    promise_x, promise_y, promise_text, reset_x, reset_y, reset_text = [], [], [], [], [], []
    for row, label in zip(rows, labels, strict=True):
        push, reset = row["push"], row["reset"]
        if push is not None:
            for ref in push["references"] or [{"stream_id": push["parent_stream_id"], "at": push["promised_at"]}]:
                if ref["at"] is None:
                    continue
                promise_x.append(axis.x(ref["at"]))
                promise_y.append(label)
                promise_text.append(f"PUSH_PROMISE on stream {esc(ref['stream_id'])} at {rel_ms(ref['at'], t0)}"
                                    f"<br>{esc(push['url'])[:_URL_HOVER_LIMIT]}")
        if reset is not None and reset["at"] is not None:
            reset_x.append(axis.x(reset["at"]))
            reset_y.append(label)
            reset_text.append(f"{esc(reset['frame'])} by {esc(reset['by'])}: {esc(reset['code'])}"
                              f" at {rel_ms(reset['at'], t0)}")
    if promise_x:
        fig.add_trace(go.Scatter(
            x=promise_x, y=promise_y, mode="markers", name="PUSH_PROMISE", hovertext=promise_text,
            hovertemplate="%{hovertext}<extra></extra>",
            marker={"symbol": "triangle-right", "size": 10, "color": "#222", "line": {"width": 1, "color": "#fff"}},
        ))
    if reset_x:
        fig.add_trace(go.Scatter(
            x=reset_x, y=reset_y, mode="markers", name="reset / cancel", hovertext=reset_text,
            hovertemplate="%{hovertext}<extra></extra>",
            marker={"symbol": "x-thin", "size": 11, "color": "#000", "line": {"width": 2.5, "color": "#000"}},
        ))


def _add_connection_bands(fig: Any, rows: list[dict[str, Any]]) -> None:
    """Shade alternate connections so rows read as groups; the connection ID also starts every row label."""
    bounds: list[tuple[int, int]] = []
    for i, row in enumerate(rows):
        if bounds and rows[bounds[-1][0]]["ex"]["connection"] == row["ex"]["connection"]:
            bounds[-1] = (bounds[-1][0], i)
        else:
            bounds.append((i, i))
    for first, last in bounds[::2]:
        fig.add_shape(type="rect", xref="paper", x0=0, x1=1, yref="y", y0=first - 0.5, y1=last + 0.5,
                      fillcolor="rgba(70,100,160,0.07)", line={"width": 0}, layer="below")
