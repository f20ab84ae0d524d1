"""Our HAR in the tools people open it with: validated by har-validator and drawn by PerfCascade (the HAR
waterfall library) in headless Chromium, one row per entry with its URL. The npm packages are installed into
tests/js/node_modules by ``scripts/setup.sh --test``; without them (or node, or Chromium) these tests skip."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from export_models import CHROMIUM, REPO, build_capture, dump_dom

from pushscope.export.har import render_har
from pushscope.pipeline import load_capture

JS = REPO / "tests" / "js"
NODE = shutil.which("node")
PERF_CASCADE = JS / "node_modules" / "perf-cascade" / "dist" / "perf-cascade.min.js"
HAR_VALIDATOR = JS / "node_modules" / "har-validator"
needs_validator = pytest.mark.skipif(NODE is None or not HAR_VALIDATOR.is_dir(),
                                     reason="node or har-validator missing (scripts/setup.sh --test installs them)")
needs_perf_cascade = pytest.mark.skipif(CHROMIUM is None or not PERF_CASCADE.is_file(),
                                        reason="chromium or perf-cascade missing (scripts/setup.sh --test)")
CAPTURES = ("nginx-push-basic", "h3-push-claimed", "nginx-cancel-cached", "apache-h2c-upgrade")

# After PerfCascade has drawn the HAR, the page writes what it drew into #result for the DOM dump to carry.
PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>perf-cascade</title>
<script>{library}</script></head><body><div id="out"></div><pre id="result">not run</pre>
<script type="application/json" id="har">{har}</script>
<script>
try {{
  const har = JSON.parse(document.getElementById("har").textContent);
  const rows = [];
  // PerfCascade draws one page at a time (its page selector): draw each and collect every page's rows.
  har.log.pages.forEach((page, selectedPage) => {{
    const svg = perfCascade.fromHar(har, {{selectedPage, showIndicatorIcons: true, showMimeTypeIcon: true}});
    document.getElementById("out").appendChild(svg);
    for (const fixed of svg.querySelectorAll("g.row-fixed")) {{
      const row = fixed.closest("a") || fixed.parentNode;  // each row is an <a> holding both halves
      const label = fixed.querySelector(".full-label text") || fixed.querySelector("text");
      const bars = [...row.querySelectorAll(".rect-holder rect")].map((r) => parseFloat(r.getAttribute("width")) || 0);
      // A click opens the row's details, where PerfCascade shows "Was pushed" from our _was_pushed.
      const closed = svg.textContent;
      row.dispatchEvent(new MouseEvent("click", {{bubbles: true}}));
      const details = svg.textContent.replace(closed, "");
      row.dispatchEvent(new MouseEvent("click", {{bubbles: true}}));
      rows.push({{page: page.id, url: label ? label.textContent : "", bars: bars.length,
                  drawn: bars.some((w) => w > 0), details: details.length,
                  pushShown: details.includes("Response was pushed by the server")}});
    }}
  }});
  document.getElementById("result").textContent = JSON.stringify({{ok: true, rows}});
}} catch (error) {{
  document.getElementById("result").textContent = JSON.stringify({{ok: false, error: String(error)}});
}}
</script></body></html>"""


def _har_of(name: str) -> str:
    capture = load_capture(str(REPO / "captures" / f"{name}.pcapng"), str(REPO / "captures" / f"{name}.keys"))
    return render_har(capture)


@pytest.fixture(scope="module")
def hars(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("har")
    out = {"model": folder / "model.har"}
    out["model"].write_text(render_har(build_capture()), encoding="utf-8")
    for name in CAPTURES:
        out[name] = folder / f"{name}.har"
        out[name].write_text(_har_of(name), encoding="utf-8")
    return out


@needs_validator
def test_har_validator_accepts_our_har(hars: dict[str, Path]) -> None:
    assert NODE is not None
    run = subprocess.run([NODE, str(JS / "validate_har.js"), *map(str, hars.values())], capture_output=True,
                         text=True, timeout=120, check=False)
    results = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(results) == len(hars), run.stderr
    assert [r for r in results if not r["valid"]] == []
    assert run.returncode == 0


@needs_validator
def test_har_validator_rejects_a_broken_har(tmp_path: Path) -> None:
    """The check can fail: a HAR without its entries' timings is refused."""
    assert NODE is not None
    har = json.loads(render_har(build_capture()))
    del har["log"]["entries"][0]["timings"]
    (tmp_path / "broken.har").write_text(json.dumps(har))
    run = subprocess.run([NODE, str(JS / "validate_har.js"), str(tmp_path / "broken.har")], capture_output=True,
                         text=True, timeout=60, check=False)
    assert run.returncode == 1 and "timings" in run.stdout


@needs_perf_cascade
@pytest.mark.parametrize("name", ["model", *CAPTURES])
def test_perf_cascade_draws_a_row_per_entry(name: str, hars: dict[str, Path], tmp_path: Path) -> None:
    har_text = hars[name].read_text(encoding="utf-8")
    page = tmp_path / "page.html"
    # "</" inside the JSON would end the script element: JSON allows "<\\/" for it.
    page.write_text(PAGE.format(library=PERF_CASCADE.read_text(encoding="utf-8"),
                                har=har_text.replace("</", "<\\/")), encoding="utf-8")
    dom, log = dump_dom(page, tmp_path)
    start = dom.index('<pre id="result">') + len('<pre id="result">')
    result = json.loads(_unescape(dom[start:dom.index("</pre>", start)]))
    assert result["ok"], result.get("error")
    entries = json.loads(har_text)["log"]["entries"]
    rows = result["rows"]
    assert len(rows) == len(entries) > 0
    # PerfCascade labels a row with its URL less the scheme.
    assert sorted(row["url"] for row in rows) == sorted(e["request"]["url"].split("://", 1)[-1] for e in entries)
    assert [row["page"] for row in rows] == [e["pageref"] for e in sorted(entries, key=lambda e: e["pageref"])]
    assert all(row["bars"] > 0 for row in rows), rows
    assert sum(row["drawn"] for row in rows) >= len(rows) // 2  # bars with a width, not empty rows
    # Our _was_pushed (WebPageTest's field) is what PerfCascade marks a pushed row by, in the row's details.
    assert all(row["details"] > 0 for row in rows)
    pushed = sorted(e["request"]["url"].split("://", 1)[-1] for e in entries if e["_was_pushed"] == 1)
    assert sorted(row["url"] for row in rows if row["pushShown"]) == pushed
    assert pushed or name in ("apache-h2c-upgrade",)


def _unescape(text: str) -> str:
    from html import unescape

    return unescape(text)
