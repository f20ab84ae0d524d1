"""The HTML report's waterfall: a plotly figure of every exchange on one time axis, readable on any capture.

Long idle gaps (over ``timescale.GAP`` with nothing in flight) are collapsed and marked as breaks on the axis,
so a capture of several page loads minutes apart still gives each load the width of the plot; buttons show one
page load on its own, and a range slider zooms anywhere. Bars are at least ``MIN_BAR_SHARE`` of the visible
span wide, the axis starts at 0, and times in the hover text are real capture times. Every string from the
capture is escaped (plotly renders a subset of HTML in hover and tick text).
"""

from __future__ import annotations

import bisect
import heapq
import html
import math
from collections.abc import Iterator
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
# Bars drawn at most (22 px each): past it the page says how many it shows; the tables list every exchange.
WATERFALL_ROWS = 5000


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def figure_rows(report: dict[str, Any], limit: int | None = None) -> tuple[list[dict[str, Any]], int, float | None]:
    """One row per exchange with a known moment, grouped by connection (in connection order), then by start: the
    first ``limit`` of them (all without one), how many there are and the earliest start of all. The report's
    lists are read once each."""
    order = {conn["id"]: conn["index"] for conn in report["connections"]}
    pushes = {p["exchange"]: _figure_push(p) for p in report["pushes"] if p["exchange"] is not None}
    counted: list[Any] = [0, None]  # rows, earliest start

    def rows() -> Iterator[dict[str, Any]]:
        for ex in report["exchanges"]:
            start = _first(ex["request_start"], ex["response_start"], ex["response_end"])
            push = pushes.get(ex["id"])
            if start is None and push is not None:
                start = push["promised_at"]
            if start is None:
                continue
            reset = ex["reset"] or (push["reset"] if push else None)
            end = _first(ex["response_end"], reset["at"] if reset else None, report["ended_at"]) or start
            counted[0] += 1
            counted[1] = start if counted[1] is None else min(counted[1], start)
            yield {"ex": {key: ex[key] for key in _FIGURE_EXCHANGE}, "push": push, "start": start,
                   "end": max(end, start), "reset": reset}

    def order_key(row: dict[str, Any]) -> tuple[int, str, float, int]:
        return order.get(row["ex"]["connection"], 1 << 30), row["ex"]["connection"], row["start"], row["ex"]["id"]

    # Only the rows drawn are held: the first ``limit`` in order, picked as they come.
    chosen = sorted(rows(), key=order_key) if limit is None else heapq.nsmallest(limit, rows(), key=order_key)
    return chosen, counted[0], counted[1]


# What the figure reads of an exchange and of a push (their header lists and evidence are left behind).
_FIGURE_EXCHANGE = ("id", "connection", "stream_id", "push_id", "pushed", "method", "url", "status", "body_bytes",
                    "response_header_bytes", "content_type", "response_start", "response_end")


def _figure_push(push: dict[str, Any]) -> dict[str, Any]:
    return {"outcome": push["outcome"], "reason": push["reason"], "reason_detail": push["reason_detail"][:200],
            "promised_at": push["promised_at"], "pushed_bytes": push["pushed_bytes"],
            "cost": {"wasted_bytes": push["cost"]["wasted_bytes"]}, "references": push["references"],
            "parent_stream_id": push["parent_stream_id"], "url": push["url"][:_URL_HOVER_LIMIT],
            "reset": push["reset"]}


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
    """The plotly figure (as a dict) and the number of bars it draws: one per exchange with a known moment, up to
    WATERFALL_ROWS."""
    figure, bars, _total = waterfall(report, WATERFALL_ROWS)
    return figure, bars


def waterfall(report: dict[str, Any], limit: int | None) -> tuple[dict[str, Any], int, int]:
    """The plotly figure (as a dict), the number of bars it draws (the first ``limit`` rows) and of rows in all."""
    import plotly.graph_objects as go

    rows, total, earliest = figure_rows(report, limit)
    t0 = _first(report["started_at"], earliest) or 0.0
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
    # Shapes and notes set at once: plotly's add_shape revalidates every shape so far, quadratic in connections.
    lines, notes = _breaks(axis)
    decorations = {"shapes": _connection_bands(rows) + lines, "annotations": notes}
    fig.update_layout(**{key: value for key, value in decorations.items() if value})
    fig.update_layout(**_layout(rows, labels, axis))
    return fig.to_plotly_json(), len(rows), total


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


def _breaks(axis: Axis) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A dashed line and an "≈ idle" note at each collapsed gap, so no one reads the axis as continuous."""
    lines, notes = [], []
    for axis_at, gap_start, gap_end in axis.scale.break_marks():
        x = axis_at * 1000 + axis.scale.shown_gap * 500
        lines.append({"type": "line", "xref": "x", "x0": x, "x1": x, "yref": "paper", "y0": 0, "y1": 1,
                      "line": {"color": "#999", "width": 1, "dash": "dot"}})
        notes.append({"x": x, "xref": "x", "y": 1, "yref": "paper", "yanchor": "top", "xanchor": "left",
                      "showarrow": False, "text": esc(f"≈ {fmt_duration(gap_end - gap_start)} idle"),
                      "font": {"size": 10, "color": "#777"}})
    return lines, notes


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


def _connection_bands(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Shade alternate connections so rows read as groups; the connection ID also starts every row label."""
    bounds: list[tuple[int, int]] = []
    for i, row in enumerate(rows):
        if bounds and rows[bounds[-1][0]]["ex"]["connection"] == row["ex"]["connection"]:
            bounds[-1] = (bounds[-1][0], i)
        else:
            bounds.append((i, i))
    return [{"type": "rect", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": first - 0.5, "y1": last + 0.5,
             "fillcolor": "rgba(70,100,160,0.07)", "line": {"width": 0}, "layer": "below"}
            for first, last in bounds[::2]]
