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
from typing import Any

from pushscope.export.html_waterfall import REQUEST_COLOUR, rel_ms, waterfall_figure
from pushscope.export.json_report import report_dict
from pushscope.export.wording import cost_phrases
from pushscope.model.entities import Capture
from pushscope.presentation import OUTCOME_COLOURS, OUTCOMES
from pushscope.safe_text import visible
from pushscope.units import fmt_bytes, fmt_ms

__all__ = ["OUTCOME_COLOURS", "REQUEST_COLOUR", "html_page", "render_html", "render_html_report", "waterfall_figure"]
PLOT_ID = "waterfall"


def esc(value: object) -> str:
    """Escape anything from a capture for HTML text or attribute values."""
    return html.escape(visible(value), quote=True)


def _sha256(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii") + "'"


def html_page(title: str, body: str, scripts: list[str] | tuple[str, ...] = ()) -> str:
    """A complete page. ``title`` is escaped here; ``body`` must already be escaped. Scripts are allowed by hash."""
    sources = " ".join(_sha256(s) for s in scripts) or "'none'"
    csp = (f"default-src 'none'; script-src {sources}; style-src 'unsafe-inline'; img-src data: blob:; "
           "font-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'")
    script_tags = "".join(f"<script>{s}</script>\n" for s in scripts)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n{script_tags}</body>\n</html>\n"
    )


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


def _summary_table(report: dict[str, Any]) -> str:
    rows = []
    for outcome in OUTCOMES:
        pushes = [p for p in report["pushes"] if p["outcome"] == outcome]
        saved = sum(p["cost"]["saved_time"] or 0.0 for p in pushes)
        added = sum(p["cost"]["competed_delay"] or 0.0 for p in pushes)
        rows.append(
            f"<tr><td>{badge(outcome)}</td><td class=n>{len(pushes)}</td>"
            f"<td class=n>{esc(fmt_bytes(sum(p['pushed_bytes'] for p in pushes)))}</td>"
            f"<td class=n>{esc(fmt_bytes(sum(p['cost']['wasted_bytes'] for p in pushes)))}</td>"
            f"<td class=n>{esc(fmt_ms(saved))}</td><td class=n>{esc(fmt_ms(added))}</td></tr>"
        )
    s = report["summary"]
    head = ("<tr><th>outcome</th><th>pushes</th><th>pushed bytes</th><th>wasted bytes</th><th>time saved</th>"
            "<th>time added</th></tr>")
    line = (f"<p>{s['connections']} connections, {s['requests']} requests, {s['pushes']} pushes; "
            f"wasted {esc(fmt_bytes(s['wasted_bytes']))}, cache-duplicated "
            f"{esc(fmt_bytes(s['cache_duplicated_bytes']))}, time saved {esc(fmt_ms(s['time_saved']))}, "
            f"time added {esc(fmt_ms(s['time_added']))}, capture length {esc(fmt_ms(s['duration']))}.</p>")
    return f"{line}<table id=summary>{head}{''.join(rows)}</table>"


def _connections_table(report: dict[str, Any]) -> str:
    rows = []
    for c in report["connections"]:
        push_ok = c.get("push_allowed", True)  # reports written before the field existed: assume allowed
        rows.append(
            f"<tr><td>{esc(c['id'])}</td><td>{esc(c['protocol'])}</td><td>{esc(c['client'])} → "
            f"{esc(c['server'])}</td><td>{esc(c['tls_version'] or c['transport'])}</td><td>{esc(c['sni'] or '-')}"
            f"</td><td>{esc(c['alpn'] or '-')}</td><td>{'yes' if push_ok else 'no'}</td>"
            f"<td class=n>{esc(fmt_bytes(c['bytes_sent']['client']))} / {esc(fmt_bytes(c['bytes_sent']['server']))}"
            f"</td><td>{esc(c['close'] or '-')}</td></tr>"
        )
    head = ("<tr><th>id</th><th>protocol</th><th>client → server</th><th>TLS</th><th>SNI</th><th>ALPN</th>"
            "<th>push allowed</th><th>sent client / server</th><th>close</th></tr>")
    return f"<table id=connections>{head}{''.join(rows)}</table>"


def _pushes_table(report: dict[str, Any]) -> str:
    if not report["pushes"]:
        return "<p class=muted>No server push in this capture.</p>"
    t0 = report["started_at"] or 0.0
    rows = []
    for p in report["pushes"]:
        ident = f"push ID {p['push_id']}" if p["push_id"] is not None else f"stream {p['promised_stream_id']}"
        evidence = "".join(
            f"<li>{'' if e['at'] is None else rel_ms(e['at'], t0) + ' '}{esc(e['text'])}</li>" for e in p["evidence"]
        )
        costs = cost_phrases(p)
        reset = p["reset"]
        reset_text = f"{reset['frame']} by {reset['by']} {reset['code']}" if reset else "-"
        advice = p["advice_text"] or p["advice"]
        rows.append(
            f"<tr><td class=n>{p['id']}</td><td>{esc(p['connection'])}<br>{esc(ident)}</td>"
            f"<td class=url>{esc(p['url'])}</td><td>{esc(p['status'] or '-')}</td><td>{badge(p['outcome'])}</td>"
            f"<td>{esc(p['reason'] or '-')}<div class=muted>{esc(p['reason_detail'])}</div></td>"
            f"<td>{'<br>'.join(esc(c) for c in costs)}</td><td>{esc(reset_text)}</td>"
            f"<td><ul class=ev>{evidence}</ul></td><td>{esc(advice or '-')}</td></tr>"
        )
    head = ("<tr><th>#</th><th>connection</th><th>URL</th><th>status</th><th>outcome</th><th>why</th>"
            "<th>cost</th><th>reset</th><th>evidence</th><th>advice</th></tr>")
    return f"<table id=pushes>{head}{''.join(rows)}</table>"


def _exchanges_table(report: dict[str, Any]) -> str:
    rows = []
    for ex in report["exchanges"]:
        headers = "".join(f"<tr><td>{esc(n)}</td><td class=url>{esc(v)}</td></tr>"
                          for n, v in ex["request_headers"] + [["", ""]] + ex["response_headers"])
        rows.append(
            f"<tr><td class=n>{ex['id']}</td><td>{esc(ex['connection'])}</td><td class=n>{esc(ex['stream_id'])}</td>"
            f"<td>{'push' if ex['pushed'] else esc(ex['method'])}</td><td>{esc(ex['status'] or '-')}</td>"
            f"<td class=n>{esc(fmt_bytes(ex['body_bytes']))}</td><td class=url>{esc(ex['url'])}"
            f"<details><summary>headers</summary><table>{headers}</table></details></td></tr>"
        )
    head = ("<tr><th>#</th><th>conn</th><th>stream</th><th>method</th><th>status</th><th>body</th>"
            "<th>URL</th></tr>")
    return f"<table id=exchanges>{head}{''.join(rows)}</table>"


def _diagnostics(report: dict[str, Any]) -> str:
    if not report["diagnostics"]:
        return "<p class=muted>None.</p>"
    items = "".join(
        f"<li class=diag-{esc(d['level'])}>[{esc(d['level'])}] {esc(d['message'])}"
        f"{' (' + esc(d['connection']) + ')' if d['connection'] else ''}</li>" for d in report["diagnostics"]
    )
    return f"<ul id=diagnostics>{items}</ul>"


ANOMALIES_SHOWN = 50  # per connection; the JSON report has them all


def _anomalies(report: dict[str, Any]) -> str:
    """What broken or hostile peers did, per connection (a header list over the limit, lost framing, ...)."""
    rows = []
    for conn in report["connections"]:
        anomalies = conn.get("anomalies") or []
        for item in anomalies[:ANOMALIES_SHOWN]:
            rows.append(f"<tr><td>{esc(conn['id'])}</td><td>{esc(item['by'])}</td>"
                        f"<td class=n>{esc(item['stream_id'] if item['stream_id'] is not None else '-')}</td>"
                        f"<td>{esc(item['message'])}</td></tr>")
        if len(anomalies) > ANOMALIES_SHOWN:
            rows.append(f"<tr><td>{esc(conn['id'])}</td><td colspan=3 class=muted>... and "
                        f"{len(anomalies) - ANOMALIES_SHOWN} more (all in the JSON report)</td></tr>")
    if not rows:
        return "<p class=muted>None.</p>"
    head = "<tr><th>conn</th><th>by</th><th>stream</th><th>anomaly</th></tr>"
    return f"<table id=anomalies>{head}{''.join(rows)}</table>"


def _probe(report: dict[str, Any]) -> str:
    if "probe" not in report:
        return ""
    from pushscope.export.probe_report import probe_html

    return probe_html(report, esc)


def render_html_report(report: dict[str, Any]) -> str:
    """The page for a report dict (``report_dict`` output, or a JSON report read back)."""
    import plotly.offline

    figure, bars = waterfall_figure(report)
    scripts: list[str] = []
    if bars:
        scripts = [plotly.offline.get_plotlyjs(), _plot_script(figure)]
        plot = f'<div id="{PLOT_ID}" data-bars="{bars}" style="width:100%;height:{figure["layout"]["height"]}px">'
        plot += "</div>"
    else:
        plot = f'<div id="{PLOT_ID}" data-bars="0"><p class=muted>No exchanges to draw.</p></div>'
    title = f"pushscope: {report['name'] or report['source']}"
    body = (
        f"<h1>{esc(title)}</h1><p class=muted>pushscope {esc(report['pushscope'])} · bars are exchanges, "
        "grouped by connection; pushed rows are coloured by outcome; ▶ marks a PUSH_PROMISE, × a reset or cancel."
        f"</p>{plot}<h2>Pushes by outcome</h2>{_summary_table(report)}<h2>Pushes</h2>{_pushes_table(report)}"
        f"{_probe(report)}"
        f"<h2>Connections</h2>{_connections_table(report)}<h2>Exchanges</h2>{_exchanges_table(report)}"
        f"<h2>Diagnostics</h2>{_diagnostics(report)}<h2>Protocol anomalies</h2>{_anomalies(report)}"
    )
    return html_page(title, body, scripts)


def render_html(capture: Capture, *, redact: bool = True) -> str:
    return render_html_report(report_dict(capture, redact=redact))
