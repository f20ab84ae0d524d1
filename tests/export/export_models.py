"""Hand-built captures for the export tests: every outcome, resets and cancels, HTTP/2 and HTTP/3 (push IDs).

Built directly from the model dataclasses so the tests never depend on capture files or on the verdict rules.
A uniquely named module (not conftest) so test files can import it without clashing with other conftests.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pushscope.decode.h2_names import FRAME_TYPES
from pushscope.decode.h3_frames import FRAME_NAMES
from pushscope.events import ConversationAccounted, Diagnostic, Endpoint
from pushscope.model.entities import (
    Capture,
    Connection,
    Evidence,
    Exchange,
    FrameRecord,
    Push,
    PushCost,
    Reset,
)

# Frame codes by name: the names used here mean the same code in HTTP/2 and HTTP/3 (MAX_PUSH_ID is HTTP/3's).
FRAME = {name: code for code, name in [*FRAME_TYPES.items(), *FRAME_NAMES.items()] if code < 0x20}
T0 = 1_700_000_000.0
COOKIE_SECRET = "sessionid=c00k1e-s3cr3t-value"
SET_COOKIE_SECRET = "token=set-c00kie-s3cr3t; HttpOnly"
AUTH_SECRET = "Bearer auth-s3cr3t-t0ken"
XSS_URL_PAYLOAD = "<script>document.title='pwned'</script>"
XSS_HEADER_PAYLOAD = "<img src=x onerror=\"document.title='pwned'\">"
REPO = Path(__file__).resolve().parents[2]
PUBLIC = REPO.parent / "shared" / "captures" / "public"
PUBLIC_H2 = [
    PUBLIC / "ws-http2-follow-multistream-dsb" / "http2_follow_multistream.pcapng",
    PUBLIC / "foxio-http2-with-cookies-dsb" / "http2-with-cookies.pcapng",
]
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


def _req(path: str, authority: str = "example.test", method: str = "GET", extra=()) -> list[tuple[str, str]]:
    return [(":method", method), (":scheme", "https"), (":authority", authority), (":path", path), *extra]


def _resp(status: int, ctype: str, extra=()) -> list[tuple[str, str]]:
    return [(":status", str(status)), ("content-type", ctype), *extra]


def _exchange(capture: Capture, conn: str, proto: str, sid: int | None, path: str, start: float, end: float | None,
              ctype: str, body: int, *, pushed: bool = False, push_id: int | None = None, status: int = 200,
              req_extra=(), resp_extra=(), authority: str = "example.test") -> Exchange:
    ex = Exchange(len(capture.exchanges), conn, proto, sid, pushed=pushed,  # type: ignore[arg-type]
                  request_headers=_req(path, authority, extra=req_extra),
                  response_headers=_resp(status, ctype, resp_extra),
                  request_start=T0 + start, request_end=T0 + start,
                  response_start=T0 + start + 0.010, response_end=None if end is None else T0 + end,
                  request_header_bytes=40, response_header_bytes=30, body_bytes=body,
                  first_data_at=T0 + start + 0.012).with_rare(push_id=push_id)
    who = "server"
    if not pushed:
        ex.frames.append(FrameRecord(T0 + start, "client", FRAME["HEADERS"], 40, ("END_HEADERS", "END_STREAM")))
    ex.frames.append(FrameRecord(T0 + start + 0.010, who, FRAME["HEADERS"], 30, ("END_HEADERS",)))
    ex.frames.append(FrameRecord(T0 + start + 0.012, who, FRAME["DATA"], body, ("END_STREAM",) if end else ()))
    capture.exchanges.append(ex)
    return ex


def _push(capture: Capture, ex: Exchange, parent: int, at: float, outcome: str, reason: str, *,
          push_id: int | None = None, reset: Reset | None = None, wasted: int = 0, saved: float | None = None,
          delay: float | None = None) -> Push:
    push = Push(len(capture.pushes), ex.connection_id, ex.protocol, parent, ex.stream_id, T0 + at,
                promise_headers=list(ex.request_headers), promise_wire_bytes=38,
                references=[(parent, T0 + at)], exchange_id=ex.id, outcome=outcome,  # type: ignore
                reason=reason,
                evidence=[Evidence("promise", f"PUSH_PROMISE for {ex.path} on stream {parent}", T0 + at, ex.id,
                                   parent)],
                cost=PushCost(pushed_bytes=ex.body_bytes + ex.response_header_bytes,
                              header_bytes=ex.response_header_bytes, body_bytes=ex.body_bytes, duration=0.02,
                              competed_bytes=500 if delay else 0, competed_delay=delay, saved_time=saved,
                              wasted_bytes=wasted),
                advice="preload" if outcome != "used" else "", advice_text=f"advice for {reason}",
                ).with_rare(push_id=push_id, reset=reset, reason_detail=f"detail for {reason}")
    ex.reset = reset
    capture.pushes.append(push)
    return push


def build_capture(xss: bool = False, later_load_at: float | None = None) -> Capture:
    """Two connections: h2 (used, wasted+RST_STREAM, cache-duplicated, unknown) and h3 (used, CANCEL_PUSH).

    ``later_load_at``: a second page load that many seconds later, on a third connection (t2), after idle time.
    """
    cap = Capture(source="capture", name="hand-built.pcapng", started_at=T0, ended_at=T0 + 0.5)
    h2 = Connection("t0", 0, Endpoint("10.0.0.1", 50000), Endpoint("10.0.0.2", 443), "tls", T0, protocol="h2",
                    tls_version="TLS 1.3", sni="example.test", alpn="h2", decrypted=True, closed_at=T0 + 0.5,
                    close_how="fin")
    h2.settings = {"client": {"ENABLE_PUSH": 1, "INITIAL_WINDOW_SIZE": 65535},
                   "server": {"MAX_CONCURRENT_STREAMS": 100}}
    h2.bytes_sent = {"client": 900, "server": 30000}
    h2.goaways = [("server", 8, "NO_ERROR", T0 + 0.49)]
    h2.frames = [FrameRecord(T0 + 0.001, "client", FRAME["SETTINGS"], 12),
                 FrameRecord(T0 + 0.002, "server", FRAME["SETTINGS"], 6),
                 FrameRecord(T0 + 0.003, "client", FRAME["SETTINGS"], 0, ("ACK",)),
                 FrameRecord(T0 + 0.49, "server", FRAME["GOAWAY"], 8)]
    h3 = Connection("q0", 1, Endpoint("::1", 50001), Endpoint("::1", 443), "quic", T0 + 0.1, protocol="h3",
                    tls_version="TLS 1.3", sni="example.test", alpn="h3", decrypted=True, max_push_id=8)
    h3.settings = {"client": {"QPACK_MAX_TABLE_CAPACITY": 4096}, "server": {"QPACK_MAX_TABLE_CAPACITY": 4096}}
    # On each side's control stream (client 2, server 3), as the HTTP/3 decoder records them.
    h3.frames = [FrameRecord(T0 + 0.101, "client", FRAME["SETTINGS"], 4, (), 2),
                 FrameRecord(T0 + 0.102, "client", FRAME["MAX_PUSH_ID"], 1, (), 2),
                 FrameRecord(T0 + 0.103, "server", FRAME["SETTINGS"], 4, (), 3)]
    cap.connections = {"t0": h2, "q0": h3}
    doc_path = "/index.html?lang=en&q=1" + (XSS_URL_PAYLOAD if xss else "")
    doc_extra = [("x-evil", XSS_HEADER_PAYLOAD)] if xss else []
    doc = _exchange(cap, "t0", "h2", 1, doc_path, 0.010, 0.100, "text/html", 12000,
                    req_extra=[("cookie", COOKIE_SECRET), ("authorization", AUTH_SECRET)],
                    resp_extra=[("set-cookie", SET_COOKIE_SECRET), *doc_extra])
    del doc
    css = _exchange(cap, "t0", "h2", 2, "/style.css", 0.015, 0.060, "text/css", 4000, pushed=True)
    _push(cap, css, 1, 0.015, "used", "claimed", saved=0.040)
    js = _exchange(cap, "t0", "h2", 4, "/app.js", 0.016, None, "application/javascript", 3000, pushed=True)
    _push(cap, js, 1, 0.016, "wasted", "rejected", wasted=3030,
          reset=Reset("client", 8, "CANCEL", T0 + 0.030, "RST_STREAM"), delay=0.004)
    img = _exchange(cap, "t0", "h2", 6, "/logo.png", 0.017, 0.090, "image/png", 9000, pushed=True)
    _push(cap, img, 1, 0.017, "cache-duplicated", "already-cached")
    font = _exchange(cap, "t0", "h2", 8, "/font.woff2", 0.018, 0.095, "font/woff2", 5000, pushed=True)
    _push(cap, font, 1, 0.018, "unknown", "")
    _exchange(cap, "t0", "h2", 3, "/style.css", 0.120, 0.130, "text/css", 4000)
    # HTTP/3: a document, a used push (push ID 0) and a push cancelled by the client before its stream opened.
    _exchange(cap, "q0", "h3", 0, "/h3.html", 0.110, 0.200, "text/html", 8000)
    h3css = _exchange(cap, "q0", "h3", 15, "/h3.css", 0.115, 0.180, "text/css", 2000, pushed=True, push_id=0)
    _push(cap, h3css, 0, 0.115, "used", "claimed", push_id=0, saved=0.030)
    h3js = _exchange(cap, "q0", "h3", None, "/h3.js", 0.116, None, "text/javascript", 0, pushed=True, push_id=1)
    h3js.response_headers, h3js.response_start, h3js.frames = [], None, []
    _push(cap, h3js, 0, 0.116, "wasted", "rejected", push_id=1, wasted=0,
          reset=Reset("client", 0, "CANCEL_PUSH", T0 + 0.118, "CANCEL_PUSH"))
    cap.diagnostics = [Diagnostic(level="info", message="2 TLS sessions, 2 decrypted"),
                       Diagnostic(level="warning",
                                  message="push <b>" + ("<script>alert(1)</script>" if xss else "") + "</b> odd",
                                  connection_id="t0", code="odd")]
    cap.conversations = [
        ConversationAccounted(transport="tcp", client=Endpoint("10.0.0.1", 50000), server=Endpoint("10.0.0.2", 443),
                              status="decoded", packets=40, bytes=52000, protocol="h2", how="handshake", reason="",
                              connection_id="t0", first_at=T0, last_at=T0 + 0.5, conversation_id="t0"),
        ConversationAccounted(transport="udp", client=Endpoint("10.0.0.1", 50001), server=Endpoint("10.0.0.2", 443),
                              status="undecodable", packets=766, bytes=700_000, protocol="", how="",
                              reason="1-RTT packets not decrypted", connection_id=None, first_at=T0, last_at=T0 + 0.9,
                              conversation_id="q3"),
        ConversationAccounted(transport="udp", client=Endpoint("10.0.0.1", 40000), server=Endpoint("10.0.0.53", 53),
                              status="not-web", packets=2, bytes=90, protocol="", how="", reason="DNS",
                              connection_id=None, first_at=T0, last_at=T0 + 0.01, conversation_id="q4")]
    if later_load_at is not None:
        _later_load(cap, later_load_at)
    cap.analysed = True
    return cap


def _later_load(cap: Capture, at: float) -> None:
    conn = Connection("t2", 2, Endpoint("10.0.0.1", 50002), Endpoint("10.0.0.2", 443), "tls", T0 + at,
                      protocol="h2", tls_version="TLS 1.3", sni="example.test", alpn="h2", decrypted=True,
                      closed_at=T0 + at + 0.3, close_how="fin")
    cap.connections["t2"] = conn
    _exchange(cap, "t2", "h2", 1, "/second.html", at + 0.010, at + 0.080, "text/html", 6000)
    css = _exchange(cap, "t2", "h2", 2, "/second.css", at + 0.012, at + 0.050, "text/css", 1500, pushed=True)
    _push(cap, css, 1, at + 0.012, "used", "claimed", saved=0.020)
    cap.ended_at = T0 + at + 0.3


def dump_dom(html_path: Path, tmp: Path) -> tuple[str, str]:
    """Load a page in headless Chromium, let it run, and return (DOM after scripts, browser log)."""
    import subprocess

    from pushscope.export.png_report import chromium_command

    assert CHROMIUM is not None
    command = chromium_command(CHROMIUM, str(tmp / "profile"), "--enable-logging=stderr", "--v=0", "--dump-dom",
                               html_path.as_uri())
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, result.stderr


def whole_documents(capture: Capture, redact: bool = True) -> dict[str, str]:
    """JSON (compact), HAR, qlog and HTML each as one string from its whole dict: the text their streamed writers
    must reproduce."""
    import json

    from pushscope.export.har import har_dict
    from pushscope.export.html_report import render_html_report
    from pushscope.export.json_report import report_dict
    from pushscope.export.qlog import qlog_dict
    from pushscope.safe_text import json_visible

    return {
        "json": json.dumps(report_dict(capture, redact=redact)) + "\n",
        "har": json_visible(json.dumps(har_dict(capture, redact=redact), indent=2, ensure_ascii=False)) + "\n",
        "qlog": json_visible(json.dumps(qlog_dict(capture, redact=redact), indent=1, ensure_ascii=False)) + "\n",
        "html": render_html_report(report_dict(capture, redact=redact)),
    }
