"""Every format through ``render_report``: redaction holds everywhere, PNG via Chromium, real captures render."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from export_models import (
    AUTH_SECRET,
    CHROMIUM,
    COOKIE_SECRET,
    PUBLIC_H2,
    REPO,
    SET_COOKIE_SECRET,
    build_capture,
    whole_documents,
)

from pushscope.cli import main
from pushscope.export import json_report
from pushscope.export.formats import FORMATS, render_report, report_chunks

TEXT_FORMATS = [f for f in FORMATS if f != "png"]
SECRETS = (COOKIE_SECRET, SET_COOKIE_SECRET, AUTH_SECRET, "c00k1e", "s3cr3t")


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_secrets_redacted_by_default(fmt: str) -> None:
    out = render_report(build_capture(), fmt)
    assert isinstance(out, str) and out
    for secret in SECRETS:
        assert secret not in out, f"{secret!r} leaked into {fmt}"


@pytest.mark.parametrize("fmt", ["json", "html", "har", "qlog"])
def test_no_redact_keeps_values(fmt: str) -> None:
    out = render_report(build_capture(), fmt, redact=False)
    assert isinstance(out, str) and COOKIE_SECRET in out


def test_formats_import_is_light() -> None:
    """cli.py imports FORMATS at start-up: that must not load plotly or the capture pipeline."""
    import subprocess
    import sys

    code = ("import sys, pushscope.export.formats; "
            "bad = [m for m in ('plotly', 'pushscope.pipeline', 'textual') if m in sys.modules]; "
            "sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_unknown_format() -> None:
    with pytest.raises(ValueError):
        render_report(build_capture(), "pdf")


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (CI installs it)")
def test_png(tmp_path: Path) -> None:
    out = tmp_path / "report.png"
    out.write_bytes(render_report(build_capture(), "png"))  # type: ignore[arg-type]
    width, height = _png_size(out.read_bytes())
    assert width == 1400 and height >= 900
    assert out.stat().st_size > 20_000, "a blank page compresses far smaller than a drawn report"


def test_png_without_chromium(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    import shutil

    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark is not installed")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "tshark").symlink_to(tshark)  # a PATH with tshark and no Chromium
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.delenv("PUSHSCOPE_CHROMIUM", raising=False)
    capture = REPO / "captures" / "nginx-push-basic.pcapng"
    assert main(["report", str(capture), "-o", str(tmp_path / "x.png")]) == 4  # the format chosen by -o
    assert "needs Chromium" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def _captures() -> list:
    found = [pytest.param(p, p.with_suffix(".keys") if p.with_suffix(".keys").exists() else None, id=p.name)
             for p in sorted((REPO / "captures").glob("*.pcapng"))]
    found += [pytest.param(p, None, id=p.name) for p in PUBLIC_H2 if p.exists()]
    return found or [pytest.param(None, None, marks=pytest.mark.skip(reason="no capture files present"))]


@pytest.mark.slow
@pytest.mark.parametrize("path,keys", _captures())
def test_real_capture_all_formats(path: Path, keys: Path | None, monkeypatch: pytest.MonkeyPatch) -> None:
    import jsonschema

    from pushscope.pipeline import load_capture

    capture = load_capture(str(path), str(keys) if keys else None)
    cookies = [v for e in capture.exchanges for n, v in e.request_headers + e.response_headers
               if n in ("cookie", "set-cookie", "authorization") and len(v) > 8]
    qlog_schema = json.loads((REPO / "pushscope" / "export" / "qlog.schema.json").read_text(encoding="utf-8"))
    for fmt in TEXT_FORMATS:
        out = render_report(capture, fmt)
        assert isinstance(out, str)
        for value in cookies:
            assert value not in out, f"a cookie value leaked into {fmt}"
        if fmt == "qlog":
            jsonschema.Draft202012Validator(qlog_schema).validate(json.loads(out))
        if fmt == "html":
            assert f'data-bars="{sum(1 for e in capture.exchanges if e.request_start or e.response_start)}"' in out
    # As `report -o` writes them, piece by piece: the text of the whole document (JSON on its large-report path).
    monkeypatch.setattr(json_report, "LARGE_REPORT", -1)
    for redact in (True, False):
        for fmt, whole in whole_documents(capture, redact).items():
            assert "".join(report_chunks(capture, fmt, redact=redact)) == whole, f"streamed {fmt} differs"
