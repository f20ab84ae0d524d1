"""The experiment's HTML report: one offline page with a plotly distribution per profile (every run as a point,
box per strategy and metric), the statistics tables, and every run's waterfall (CSS bars, in a fold).

Everything from the server (URLs, statuses) is escaped with ``html.escape``; plotly only gets strategy, metric
and profile names, escaped too (it renders a subset of HTML in hover and tick text), and its JSON encoder writes
``<``, ``>`` and ``/`` as ``\\u`` escapes so nothing can close the script element.
"""

from __future__ import annotations

from typing import Any

from pushscope.experiment.profiles import rate_text
from pushscope.export.html_report import esc, html_page

STRATEGY_COLOURS = {"push": "#2a7", "no-push": "#888", "preload": "#37c"}
SOURCE_COLOURS = {"network": "#37c", "push": "#2a7", "cache": "#bbb"}
METRIC_NAMES = {"document_ms": "document", "render_blocking_ms": "render-blocking", "all_subresources_ms": "all"}
MAX_WATERFALL_ROWS = 60


def _distribution_figure(report: dict[str, Any], profile: str) -> dict[str, Any]:
    import plotly.graph_objects as go

    figure = go.Figure()
    for strategy in report["options"]["strategies"]:
        xs: list[str] = []
        ys: list[float] = []
        runs = [r for r in report["runs"] if r["profile"] == profile and r["strategy"] == strategy and r["ok"]]
        for run in runs:
            for key, name in METRIC_NAMES.items():
                if run[key] is not None:
                    xs.append(name)
                    ys.append(run[key])
        figure.add_trace(go.Box(x=xs, y=ys, name=esc(strategy), boxpoints="all", jitter=0.4, pointpos=0,
                                marker={"color": STRATEGY_COLOURS.get(strategy, "#a60"), "size": 5},
                                hovertemplate="%{y:.0f} ms<extra>" + esc(strategy) + "</extra>"))
    figure.update_layout(boxmode="group", height=380, margin={"l": 60, "r": 20, "t": 30, "b": 40},
                         yaxis={"title": {"text": "ms from the start of the run"}, "rangemode": "tozero"},
                         template="plotly_white", legend={"orientation": "h", "y": 1.1})
    return figure.to_plotly_json()


def _plot_script(element: str, figure: dict[str, Any]) -> str:
    from plotly.io.json import to_json_plotly

    data, layout = to_json_plotly(figure.get("data", [])), to_json_plotly(figure.get("layout", {}))
    config = to_json_plotly({"responsive": True, "displaylogo": False, "showLink": False})
    return f'Plotly.newPlot(document.getElementById("{element}"),{data},{layout},{config});'


def _stats_table(report: dict[str, Any], profile: dict[str, Any]) -> str:
    head = "<tr><th>strategy</th>" + "".join(f"<th>{esc(n)} ms<br>median [IQR]</th>" for n in METRIC_NAMES.values())
    rows = [head + "</tr>"]
    for strategy in report["options"]["strategies"]:
        cells = []
        for key in ("document", "render_blocking", "all_subresources"):
            summary = profile["strategies"][strategy][key]
            cells.append("<td>-</td>" if summary is None else
                         f"<td>{summary['median']:.0f} [{summary['q1']:.0f}–{summary['q3']:.0f}] "
                         f"<span class=muted>n={summary['n']}</span></td>")
        rows.append(f"<tr><td>{esc(strategy)}</td>{''.join(cells)}</tr>")
    comparisons = []
    for difference in profile["comparisons"]["render_blocking"]:
        low, high = difference["ci95"]
        verdict = "interval includes zero: no winner" if difference["includes_zero"] else "interval excludes zero"
        comparisons.append(f"<tr><td>{esc(difference['a'])} − {esc(difference['b'])}</td>"
                           f"<td>{difference['median_difference']:.0f} ms</td><td>{low:.0f} to {high:.0f} ms</td>"
                           f"<td>{esc(verdict)}</td></tr>")
    table = f"<table>{''.join(rows)}</table>"
    if comparisons:
        table += ("<table><tr><th>render-blocking, pair</th><th>median difference</th><th>bootstrap 95 % CI</th>"
                  f"<th></th></tr>{''.join(comparisons)}</table>")
    return table


def _waterfall(run: dict[str, Any]) -> str:
    rows = run["waterfall"][:MAX_WATERFALL_ROWS]
    end = max([row["end_ms"] or 0 for row in rows] + [1.0])
    lines = []
    for row in rows:
        start, stop = row["start_ms"] or 0.0, row["end_ms"] or 0.0
        left, width = 100 * start / end, max(0.3, 100 * (stop - start) / end)
        colour = SOURCE_COLOURS.get(row["source"], "#a60")
        lines.append(f"<div class=wf><span class=wfurl title=\"{esc(row['url'])}\">{esc(row['url'][-60:])}</span>"
                     f"<span class=wfbar><span style=\"left:{left:.2f}%;width:{width:.2f}%;background:{colour}\">"
                     f"</span></span><span class=muted>{esc(row['source'])} {start:.0f}–{stop:.0f} ms</span></div>")
    title = (f"{esc(run['strategy'])} run {run['round'] + 1}: render-blocking "
             f"{_ms(run['render_blocking_ms'])}, all {_ms(run['all_subresources_ms'])}"
             + ("" if run["ok"] else f" — failed: {esc(run['error'])}"))
    return f"<details><summary>{title}</summary>{''.join(lines)}</details>"


def _number(value: Any, unit: str) -> str:
    return "?" if not isinstance(value, (int, float)) else f"{value:.1f} {unit}"


def _rate(value: Any) -> str:
    return "?" if not isinstance(value, (int, float)) else esc(rate_text(float(value)))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


WATERFALL_CSS = ("<style>.wf{display:flex;gap:.6em;align-items:center;font:12px monospace}"
                 ".wfurl{width:28em;overflow:hidden;white-space:nowrap;text-overflow:ellipsis}"
                 ".wfbar{position:relative;flex:1;height:10px;background:#f3f3f3}"
                 ".wfbar span{position:absolute;top:0;height:10px}</style>")


def render_experiment_html(report: dict[str, Any]) -> str:
    import plotly.offline

    options = report["options"]
    scripts = [plotly.offline.get_plotlyjs()]
    sections = []
    for number, profile in enumerate(report["profiles"]):
        element = f"distribution-{number}"
        scripts.append(_plot_script(element, _distribution_figure(report, profile["name"])))
        path = profile["measured_path"] or {}
        measured = (f"measured {esc(path.get('protocol', '?')).upper()}: RTT {_number(path.get('rtt_ms'), 'ms')}, "
                    f"{_rate(path.get('down_bps'))} down, {_rate(path.get('up_bps'))} up") if path else \
            "path not measured (--no-path-check)"
        runs = [r for r in report["runs"] if r["profile"] == profile["name"]]
        sections.append(
            f"<h2>{esc(profile['name'])}</h2><p class=muted>{esc(profile['meaning'])} · {measured}</p>"
            f"<p><b>{esc(profile['sentence'])}</b></p><div id=\"{element}\" style=\"width:100%;height:380px\"></div>"
            f"{_stats_table(report, profile)}<h3>Runs</h3>{''.join(_waterfall(r) for r in runs)}")
    title = f"pushscope experiment: {options['url']}"
    body = (f"{WATERFALL_CSS}<h1>{esc(title)}</h1><p class=muted>HTTP/{esc(options['http'])}, {esc(options['cache'])} "
            f"cache, {esc(options['runs'])} runs per strategy and profile, interleaved · shaper: "
            f"{esc(report['shaper']['kind'])}; {esc(report['shaper']['note'])}</p>{''.join(sections)}")
    return html_page(title, body, scripts)
