"""The HTML report: self-contained, escaped, and drawn by plotly in a real (headless) browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from export_models import (
    AUTH_SECRET,
    CHROMIUM,
    COOKIE_SECRET,
    SET_COOKIE_SECRET,
    XSS_HEADER_PAYLOAD,
    XSS_URL_PAYLOAD,
    build_capture,
    dump_dom,
)

from pushscope.export.html_report import html_page, render_html, waterfall_figure
from pushscope.export.json_report import report_dict

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (CI installs it)")


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(build_capture())


@pytest.fixture(scope="module")
def xss_page() -> str:
    return render_html(build_capture(xss=True))


def test_self_contained_offline(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert "<script src" not in page.lower()
    outside_bundle = page.split("<script>", 1)[0] + page.rsplit("<script>", 1)[1]
    assert "cdn.plot.ly" not in outside_bundle and "https://" not in outside_bundle.replace("https://example.test", "")
    assert len(page) > 2_000_000, "plotly.js must be embedded"
    assert "Content-Security-Policy" in page and "connect-src 'none'" in page


def test_sections_and_tables(page: str) -> None:
    for marker in ('id="waterfall"', "id=summary", "id=pushes", "id=connections", "id=exchanges", "id=diagnostics"):
        assert marker in page
    for outcome in ("used", "wasted", "cache-duplicated", "unknown"):
        assert f">{outcome}</span>" in page
    assert "advice for rejected" in page
    assert "PUSH_PROMISE for /app.js on stream 1" in page
    assert "CANCEL_PUSH by client" in page


def test_bar_count_matches_exchanges(page: str) -> None:
    capture = build_capture()
    figure, bars = waterfall_figure(report_dict(capture))
    assert bars == len(capture.exchanges)
    assert f'data-bars="{bars}"' in page
    names = [t["name"] for t in figure["data"]]
    assert names[:5] == ["request", "push: used", "push: wasted", "push: cache-duplicated", "push: unknown"]
    assert "PUSH_PROMISE" in names and "reset / cancel" in names
    bar_points = sum(len(t["y"]) for t in figure["data"] if t["type"] == "bar")
    assert bar_points == bars
    promise = next(t for t in figure["data"] if t["name"] == "PUSH_PROMISE")
    assert len(promise["x"]) == len(capture.pushes)
    resets = next(t for t in figure["data"] if t["name"] == "reset / cancel")
    assert len(resets["x"]) == 2


def test_rows_grouped_by_connection() -> None:
    figure, _ = waterfall_figure(report_dict(build_capture()))
    labels = figure["layout"]["yaxis"]["categoryarray"]
    conns = [label.split(" ", 1)[0] for label in labels]
    assert conns == sorted(conns, key=lambda c: {"t0": 0, "q0": 1}[c])
    assert len(set(labels)) == len(labels)


def test_hover_has_url_status_timings_verdict() -> None:
    figure, _ = waterfall_figure(report_dict(build_capture()))
    wasted = next(t for t in figure["data"] if t["name"] == "push: wasted")
    text = wasted["hovertext"][0]
    for part in ("https://example.test/app.js", "status 200", "start +", "first byte", "wasted", "rejected",
                 "RST_STREAM by client CANCEL"):
        assert part in text


def test_redacted_by_default(page: str) -> None:
    for secret in (COOKIE_SECRET, SET_COOKIE_SECRET, AUTH_SECRET, "c00k1e", "s3cr3t"):
        assert secret not in page
    assert "[redacted]" in page
    assert COOKIE_SECRET in render_html(build_capture(), redact=False)


def test_payloads_escaped_everywhere(xss_page: str) -> None:
    # Outside plotly's own bundle, no raw payload: not in tables, hover text, tick labels or the figure JSON.
    ours = xss_page.split("<script>", 1)[0] + xss_page.rsplit("</script>", 2)[-2].rsplit("<script>", 1)[-1]
    for payload in (XSS_URL_PAYLOAD, XSS_HEADER_PAYLOAD, "<script>alert(1)</script>", "<b>"):
        assert payload not in ours
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in xss_page
    assert "&lt;img src=x onerror=" in xss_page
    # The figure JSON in <script> writes < > / as \u escapes: no "</script" can close the block early.
    plot_script = xss_page.rsplit("<script>", 1)[1].split("</script>", 1)[0]
    assert "</" not in plot_script and "<" not in plot_script
    assert xss_page.lower().count("<script>") == 2


@needs_chromium
def test_chromium_renders_bars_and_scripts_do_not_run(tmp_path: Path) -> None:
    capture = build_capture(xss=True)
    path = tmp_path / "report.html"
    path.write_text(render_html(capture), encoding="utf-8")
    dom, log = dump_dom(path, tmp_path)
    title = re.search(r"<title>(.*?)</title>", dom, re.S)
    assert title and title.group(1).startswith("pushscope: ")
    assert "pwned" not in (title.group(1) if title else "")
    expected = len(capture.exchanges)
    assert f'data-bars="{expected}"' in dom
    assert f'data-rendered-bars="{expected}"' in dom, "plotly did not draw one bar per exchange"
    assert dom.count('<g class="point">') == 2 * expected  # the main plot, and the range slider's copy
    assert "rangeslider-container" in dom
    assert re.search(r'data-page-height="\d+"', dom), "the PNG export reads the page height from here"
    assert "<img" not in dom, "the header payload became an element"
    assert "<script>document.title" not in dom and "&lt;script&gt;document.title" in dom
    assert "Refused to" not in log, "the page's own scripts must satisfy its CSP"
    assert "Uncaught" not in log


@needs_chromium
def test_csp_blocks_an_unescaped_script(tmp_path: Path) -> None:
    """Defence in depth: even a script that slipped through escaping is refused (only hashed scripts run)."""
    ok = "document.body.setAttribute('data-ok','1');"
    body = "<p>x</p><script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"
    path = tmp_path / "csp.html"
    path.write_text(html_page("csp", body, [ok]), encoding="utf-8")
    dom, log = dump_dom(path, tmp_path)
    assert 'data-ok="1"' in dom
    assert "<title>csp</title>" in dom and "pwned</title>" not in dom
    assert "Content Security Policy" in log


def test_empty_capture_page() -> None:
    from pushscope.model.entities import Capture

    page = render_html(Capture(source="capture", name="empty"))
    assert 'data-bars="0"' in page and "No server push" in page
    assert "<script>" not in page


def test_axis_starts_at_zero_with_a_range_slider() -> None:
    figure, _ = waterfall_figure(report_dict(build_capture()))
    xaxis = figure["layout"]["xaxis"]
    assert xaxis["range"][0] == 0 and xaxis["rangeslider"]["visible"]
    assert "updatemenus" not in figure["layout"]  # one page load: nothing to pick
    assert all(base >= 0 for t in figure["data"] if t["type"] == "bar" for base in t["base"])


def test_idle_gap_collapsed_and_each_page_load_has_a_view() -> None:
    figure, bars = waterfall_figure(report_dict(build_capture(later_load_at=600.0)))
    layout = figure["layout"]
    xaxis = layout["xaxis"]
    full = xaxis["range"][1]
    assert full < 1000, "ten idle minutes must not take the plot's width (ms on the collapsed axis)"
    assert any(text.startswith("600") for text in xaxis["ticktext"])
    assert any("idle" in a["text"] for a in layout["annotations"])
    buttons = layout["updatemenus"][0]["buttons"]
    assert [b["label"] for b in buttons] == ["all page loads", "load 1: /index.html?lang=en&amp;q=1",
                                             "load 2: /second.html"]
    first, second = (b["args"][0]["xaxis.range"] for b in buttons[1:])
    assert 0 <= first[0] < first[1] < second[1] <= full and first[0] < second[0] < first[1] + 10
    widths = [x for t in figure["data"] if t["type"] == "bar" for x in t["x"]]
    assert len(widths) == bars and min(widths) >= full / 1.02 * 0.004 * 0.99  # never a hairline


@needs_chromium
def test_chromium_draws_no_hairline_bars_and_the_load_buttons(tmp_path: Path) -> None:
    capture = build_capture(later_load_at=600.0)
    path = tmp_path / "loads.html"
    path.write_text(render_html(capture), encoding="utf-8")
    dom, log = dump_dom(path, tmp_path)
    expected = len(capture.exchanges)
    assert f'data-rendered-bars="{expected}"' in dom
    least = re.search(r'data-min-bar-px="([0-9.]+)"', dom)
    assert least and float(least.group(1)) >= 2.0, "a bar one pixel wide or less"
    assert dom.count('class="updatemenu-button"') == 3
    assert "Uncaught" not in log and "Refused to" not in log


def test_load_buttons_and_break_notes_are_escaped() -> None:
    page = render_html(build_capture(xss=True, later_load_at=600.0))
    plot_script = page.rsplit("<script>", 1)[1].split("</script>", 1)[0]
    assert "<" not in plot_script  # button labels and break notes included
    figure, _ = waterfall_figure(report_dict(build_capture(xss=True, later_load_at=600.0)))
    labels = [b["label"] for b in figure["layout"]["updatemenus"][0]["buttons"]]
    assert any("&lt;" in label for label in labels) and not any("<" in label for label in labels)
