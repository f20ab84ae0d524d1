"""The HTML report: one self-contained, offline file with an interactive plotly waterfall and the push tables.

Built from ``report_dict`` so it shows exactly what the JSON contract says (redaction included). Every string
that comes from a capture is escaped: ``html.escape`` for the tables, and also for plotly's hover and tick text,
because plotly renders a subset of HTML there (it decodes entities into text nodes, so escaped text reads
right). The figure JSON is encoded by plotly's encoder, which writes ``<``, ``>`` and ``/`` as ``\\u`` escapes,
so no value can close the ``<script>`` it sits in. A Content-Security-Policy allows only the page's own scripts
(by hash) and no network at all, so even a missed escape could not run a script or fetch anything.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import Any, NamedTuple

from pushscope.export import html_waterfall
from pushscope.export.html_waterfall import REQUEST_COLOUR, rel_ms, waterfall_figure
from pushscope.export.json_report import report_dict, report_sections
from pushscope.export.wording import cost_phrases
from pushscope.model.entities import Capture
from pushscope.presentation import OUTCOME_COLOURS, OUTCOMES
from pushscope.safe_text import visible
from pushscope.units import fmt_bytes, fmt_ms

__all__ = ["OUTCOME_COLOURS", "REQUEST_COLOUR", "html_chunks", "html_page", "render_html", "render_html_report",
           "waterfall_figure"]
PLOT_ID = "waterfall"


def esc(value: object) -> str:
    """Escape anything from a capture for HTML text or attribute values."""
    return html.escape(visible(value), quote=True)


def _sha256(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii") + "'"


def html_page(title: str, body: str, scripts: list[str] | tuple[str, ...] = ()) -> str:
    """A complete page. ``title`` is escaped here; ``body`` must already be escaped. Scripts are allowed by hash."""
    return "".join(html_page_pieces(title, (body,), scripts))


def html_page_pieces(title: str, body: Iterable[str], scripts: list[str] | tuple[str, ...] = ()) -> Iterator[str]:
    """``html_page`` as pieces of text, the body's pieces written as they come."""
    sources = " ".join(_sha256(s) for s in scripts) or "'none'"
    csp = (f"default-src 'none'; script-src {sources}; style-src 'unsafe-inline'; img-src data: blob:; "
           "font-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'")
    yield (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
    )
    yield from body
    yield "\n"
    for script in scripts:
        yield from ("<script>", script, "</script>\n")
    yield "</body>\n</html>\n"


_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.2em 2em;color:#222;background:#fff}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.15em;margin:1.4em 0 .4em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.3em 0;font-size:13px}th,td{border:1px solid #ddd;padding:3px 7px;
text-align:left;vertical-align:top}th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
.url{word-break:break-all;max-width:38em}#pushes td.url{min-width:16em}.muted{color:#777}
ul.ev{margin:0;padding-left:1.1em}
.badge{display:inline-block;padding:0 .5em;border-radius:.6em;color:#fff;font-weight:600;white-space:nowrap}
.diag-error{color:#b00}.diag-warning{color:#a60}details summary{cursor:pointer;color:#456}
"""


def badge(outcome: str) -> str:
    colour = OUTCOME_COLOURS.get(outcome, "#777")
    return f'<span class="badge" style="background:{colour}">{esc(outcome)}</span>'


# --- waterfall (built in html_waterfall) ----------------------------------------------------------------


def _plot_script(figure: dict[str, Any]) -> str:
    from plotly.io.json import to_json_plotly

    data, layout = to_json_plotly(figure.get("data", [])), to_json_plotly(figure.get("layout", {}))
    config = to_json_plotly({"responsive": True, "displaylogo": False, "showLink": False})
    # After rendering, write how many bars plotly drew into the main plot (the range slider draws them again)
    # and the narrowest one's width in pixels, so a headless browser test can compare them with data-bars (what
    # this module meant to draw); and the page height, so the PNG export can fit it.
    return (
        f'(function(){{var el=document.getElementById("{PLOT_ID}");'
        f"Plotly.newPlot(el,{data},{layout},{config}).then(function(){{"
        'var bars=el.querySelectorAll(".cartesianlayer .barlayer .point path"),least=Infinity;'
        "bars.forEach(function(b){least=Math.min(least,b.getBBox().width);});"
        'el.setAttribute("data-rendered-bars",String(bars.length));'
        'el.setAttribute("data-min-bar-px",String(bars.length?Math.round(least*10)/10:0));'
        'var root=document.documentElement;root.setAttribute("data-page-height",String(root.scrollHeight));});})();'
    )


# --- tables ---------------------------------------------------------------------------------------------------


def _summary_table(summary: dict[str, Any], pushes: Iterable[dict[str, Any]]) -> str:
    counts = {outcome: 0 for outcome in OUTCOMES}
    pushed, wasted = dict(counts), dict(counts)
    saved: dict[str, list[float]] = {outcome: [] for outcome in OUTCOMES}
    added: dict[str, list[float]] = {outcome: [] for outcome in OUTCOMES}
    for p in pushes:
        outcome = next((o for o in OUTCOMES if p["outcome"] == o), None)
        if outcome is None:
            continue
        counts[outcome] += 1
        pushed[outcome] += p["pushed_bytes"]
        wasted[outcome] += p["cost"]["wasted_bytes"]
        saved[outcome].append(p["cost"]["saved_time"] or 0.0)  # summed at the end, as sum() adds
        added[outcome].append(p["cost"]["competed_delay"] or 0.0)
    rows = [
        f"<tr><td>{badge(outcome)}</td><td class=n>{counts[outcome]}</td>"
        f"<td class=n>{esc(fmt_bytes(pushed[outcome]))}</td><td class=n>{esc(fmt_bytes(wasted[outcome]))}</td>"
        f"<td class=n>{esc(fmt_ms(sum(saved[outcome])))}</td><td class=n>{esc(fmt_ms(sum(added[outcome])))}</td></tr>"
        for outcome in OUTCOMES
    ]
    s = summary
    head = ("<tr><th>outcome</th><th>pushes</th><th>pushed bytes</th><th>wasted bytes</th><th>time saved</th>"
            "<th>time added</th></tr>")
    line = (f"<p>{s['connections']} connections, {s['requests']} requests, {s['pushes']} pushes; "
            f"wasted {esc(fmt_bytes(s['wasted_bytes']))}, cache-duplicated "
            f"{esc(fmt_bytes(s['cache_duplicated_bytes']))}, time saved {esc(fmt_ms(s['time_saved']))}, "
            f"time added {esc(fmt_ms(s['time_added']))}, capture length {esc(fmt_ms(s['duration']))}.</p>")
    return f"{line}<table id=summary>{head}{''.join(rows)}</table>"


def _table(table_id: str, head: str, rows: Iterable[str], empty: str | None = None) -> Iterator[str]:
    """``<table id=...>`` with its head and rows as they come; ``empty`` instead of a table with no rows."""
    opened = False
    for row in rows:
        if not opened:
            yield f"<table id={table_id}>{head}"
            opened = True
        yield row
    if opened:
        yield "</table>"
    elif empty is None:
        yield f"<table id={table_id}>{head}</table>"
    else:
        yield empty


def _connection_rows(connections: Iterable[dict[str, Any]]) -> Iterator[str]:
    for c in connections:
        push_ok = c.get("push_allowed", True)  # reports written before the field existed: assume allowed
        yield (
            f"<tr><td>{esc(c['id'])}</td><td>{esc(c['protocol'])}</td><td>{esc(c['client'])} → "
            f"{esc(c['server'])}</td><td>{esc(c['tls_version'] or c['transport'])}</td><td>{esc(c['sni'] or '-')}"
            f"</td><td>{esc(c['alpn'] or '-')}</td><td>{'yes' if push_ok else 'no'}</td>"
            f"<td class=n>{esc(fmt_bytes(c['bytes_sent']['client']))} / {esc(fmt_bytes(c['bytes_sent']['server']))}"
            f"</td><td>{esc(c['close'] or '-')}</td></tr>"
        )


CONNECTIONS_HEAD = ("<tr><th>id</th><th>protocol</th><th>client → server</th><th>TLS</th><th>SNI</th><th>ALPN</th>"
                    "<th>push allowed</th><th>sent client / server</th><th>close</th></tr>")


def _push_rows(pushes: Iterable[dict[str, Any]], t0: float) -> Iterator[str]:
    for p in pushes:
        ident = f"push ID {p['push_id']}" if p["push_id"] is not None else f"stream {p['promised_stream_id']}"
        evidence = "".join(
            f"<li>{'' if e['at'] is None else rel_ms(e['at'], t0) + ' '}{esc(e['text'])}</li>" for e in p["evidence"]
        )
        costs = cost_phrases(p)
        reset = p["reset"]
        reset_text = f"{reset['frame']} by {reset['by']} {reset['code']}" if reset else "-"
        advice = p["advice_text"] or p["advice"]
        yield (
            f"<tr><td class=n>{p['id']}</td><td>{esc(p['connection'])}<br>{esc(ident)}</td>"
            f"<td class=url>{esc(p['url'])}</td><td>{esc(p['status'] or '-')}</td><td>{badge(p['outcome'])}</td>"
            f"<td>{esc(p['reason'] or '-')}<div class=muted>{esc(p['reason_detail'])}</div></td>"
            f"<td>{'<br>'.join(esc(c) for c in costs)}</td><td>{esc(reset_text)}</td>"
            f"<td><ul class=ev>{evidence}</ul></td><td>{esc(advice or '-')}</td></tr>"
        )


PUSHES_HEAD = ("<tr><th>#</th><th>connection</th><th>URL</th><th>status</th><th>outcome</th><th>why</th>"
               "<th>cost</th><th>reset</th><th>evidence</th><th>advice</th></tr>")


HEADER_ROWS_KEPT = 20_000  # escaped header rows reused across exchanges: bounded whatever a capture sends


def _exchange_rows(exchanges: Iterable[dict[str, Any]]) -> Iterator[str]:
    header_rows: dict[tuple[str, str], str] = {}  # the same header pair is escaped once
    for ex in exchanges:
        rows = []
        for name, value in chain(ex["request_headers"], (("", ""),), ex["response_headers"]):
            row = header_rows.get((name, value))
            if row is None:
                row = f"<tr><td>{esc(name)}</td><td class=url>{esc(value)}</td></tr>"
                if len(header_rows) >= HEADER_ROWS_KEPT:
                    header_rows.clear()
                header_rows[name, value] = row
            rows.append(row)
        headers = "".join(rows)
        yield (
            f"<tr><td class=n>{ex['id']}</td><td>{esc(ex['connection'])}</td><td class=n>{esc(ex['stream_id'])}</td>"
            f"<td>{'push' if ex['pushed'] else esc(ex['method'])}</td><td>{esc(ex['status'] or '-')}</td>"
            f"<td class=n>{esc(fmt_bytes(ex['body_bytes']))}</td><td class=url>{esc(ex['url'])}"
            f"<details><summary>headers</summary><table>{headers}</table></details></td></tr>"
        )


EXCHANGES_HEAD = ("<tr><th>#</th><th>conn</th><th>stream</th><th>method</th><th>status</th><th>body</th>"
                  "<th>URL</th></tr>")


def _diagnostics(report: dict[str, Any]) -> str:
    if not report["diagnostics"]:
        return "<p class=muted>None.</p>"
    items = "".join(
        f"<li class=diag-{esc(d['level'])}>[{esc(d['level'])}] {esc(d['message'])}"
        f"{' (' + esc(d['connection']) + ')' if d['connection'] else ''}</li>" for d in report["diagnostics"]
    )
    return f"<ul id=diagnostics>{items}</ul>"


ANOMALIES_SHOWN = 50  # per connection; the JSON report has them all


def _anomaly_rows(connections: Iterable[dict[str, Any]]) -> Iterator[str]:
    """What broken or hostile peers did, per connection (a header list over the limit, lost framing, ...)."""
    for conn in connections:
        anomalies = conn.get("anomalies") or []
        for item in anomalies[:ANOMALIES_SHOWN]:
            yield (f"<tr><td>{esc(conn['id'])}</td><td>{esc(item['by'])}</td>"
                   f"<td class=n>{esc(item['stream_id'] if item['stream_id'] is not None else '-')}</td>"
                   f"<td>{esc(item['message'])}</td></tr>")
        if len(anomalies) > ANOMALIES_SHOWN:
            yield (f"<tr><td>{esc(conn['id'])}</td><td colspan=3 class=muted>... and "
                   f"{len(anomalies) - ANOMALIES_SHOWN} more (all in the JSON report)</td></tr>")


ANOMALIES_HEAD = "<tr><th>conn</th><th>by</th><th>stream</th><th>anomaly</th></tr>"


def _probe(report: dict[str, Any]) -> str:
    if "probe" not in report:
        return ""
    from pushscope.export.probe_report import probe_html

    return probe_html(report, esc)


class ReportParts(NamedTuple):
    """A report for the page: its short sections in ``report``, and each long list read (again) by calling its
    function, so a capture's report is made one entry at a time for each use rather than held whole."""

    report: dict[str, Any]
    connections: Callable[[], Iterable[dict[str, Any]]]
    exchanges: Callable[[], Iterable[dict[str, Any]]]
    pushes: Callable[[], Iterable[dict[str, Any]]]


def render_html_report(report: dict[str, Any]) -> str:
    """The page for a report dict (``report_dict`` output, or a JSON report read back)."""
    parts = ReportParts(report, lambda: report["connections"], lambda: report["exchanges"], lambda: report["pushes"])
    return "".join(_page(parts))


def _capture_parts(capture: Capture, redact: bool) -> ReportParts:
    def section(key: str) -> Callable[[], Iterable[dict[str, Any]]]:
        return lambda: report_sections(capture, redact=redact)[key]

    report = {key: value for key, value in report_sections(capture, redact=redact).items()
              if key not in ("connections", "exchanges", "pushes", "conversations")}
    return ReportParts(report, section("connections"), section("exchanges"), section("pushes"))


def html_chunks(capture: Capture, *, redact: bool = True) -> Iterator[str]:
    """The page as pieces of text, its tables written a row at a time; a probe's (small) report is made whole,
    since its own section reads the report again."""
    if capture.probed:
        yield render_html_report(report_dict(capture, redact=redact))
        return
    yield from _page(_capture_parts(capture, redact))


def render_html(capture: Capture, *, redact: bool = True) -> str:
    return "".join(html_chunks(capture, redact=redact))


def _plot(parts: ReportParts) -> tuple[str, list[str]]:
    """The waterfall's ``<div>`` (and a note when it shows only the first rows) and the scripts that draw it."""
    import plotly.offline

    report = parts.report
    drawn = {"connections": parts.connections(), "pushes": parts.pushes(), "exchanges": parts.exchanges(),
             "started_at": report["started_at"], "ended_at": report["ended_at"]}
    figure, bars, total = html_waterfall.waterfall(drawn, html_waterfall.WATERFALL_ROWS)
    if not bars:
        return f'<div id="{PLOT_ID}" data-bars="0"><p class=muted>No exchanges to draw.</p></div>', []
    scripts = [plotly.offline.get_plotlyjs(), _plot_script(figure)]
    plot = f'<div id="{PLOT_ID}" data-bars="{bars}" style="width:100%;height:{figure["layout"]["height"]}px">'
    plot += "</div>"
    if bars < total:
        plot += (f"<p class=muted id=waterfall-shown>The waterfall shows the first {bars} of {total} exchanges "
                 "(in connection order); the tables below list them all.</p>")
    return plot, scripts


def _page(parts: ReportParts) -> Iterator[str]:
    report = parts.report
    plot, scripts = _plot(parts)  # first: the page's head allows its scripts by hash
    title = f"pushscope: {report['name'] or report['source']}"
    body: tuple[Iterable[str], ...] = (
        (f"<h1>{esc(title)}</h1><p class=muted>pushscope {esc(report['pushscope'])} · bars are exchanges, "
         "grouped by connection; pushed rows are coloured by outcome; ▶ marks a PUSH_PROMISE, × a reset or cancel."
         f"</p>{plot}<h2>Pushes by outcome</h2>{_summary_table(report['summary'], parts.pushes())}<h2>Pushes</h2>",),
        _table("pushes", PUSHES_HEAD, _push_rows(parts.pushes(), report["started_at"] or 0.0),
               "<p class=muted>No server push in this capture.</p>"),
        (_probe(report), "<h2>Connections</h2>"),
        _table("connections", CONNECTIONS_HEAD, _connection_rows(parts.connections())),
        ("<h2>Exchanges</h2>",),
        _table("exchanges", EXCHANGES_HEAD, _exchange_rows(parts.exchanges())),
        (f"<h2>Diagnostics</h2>{_diagnostics(report)}<h2>Protocol anomalies</h2>",),
        _table("anomalies", ANOMALIES_HEAD, _anomaly_rows(parts.connections()), "<p class=muted>None.</p>"),
    )
    yield from html_page_pieces(title, (piece for pieces in body for piece in pieces), scripts)
