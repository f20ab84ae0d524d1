"""Runners for the external clients: ``nghttp -nva`` (accepts pushes, h2c only here because
it writes no TLS key log) and ``curl --http2`` (refuses pushes: SETTINGS_ENABLE_PUSH=0).

Their ground truth is reconstructed from the clients' own verbose output; see
captures/README.md for what that can and cannot tell.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from pushscope.vocabulary import Outcome

from . import site
from .pages import css_references, html_references
from .truth import PushFacts, judge


def page_references(path: str) -> dict[str, str]:
    """Paths the demo page at ``path`` references (HTML refs + CSS refs of its stylesheets),
    each mapped to the path of the resource that references it."""
    name = "index.html" if path in ("/", "/index.html") else path.lstrip("/")
    body = site.FILES.get(name)
    if body is None:
        return {}
    refs: dict[str, str] = {}
    for href in html_references(body):
        refs.setdefault(href, path)
        if href.endswith(".css"):
            for sub in css_references(site.FILES.get(href.lstrip("/"), b"")):
                refs.setdefault(sub, href)
    return refs


def tool_version(cmd: list[str], pattern: str) -> str:
    exe = shutil.which(cmd[0])
    if exe is None:
        return "missing"
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    m = re.search(pattern, p.stdout + p.stderr)
    return m.group(1) if m else "unknown"


# --------------------------------------------------------------------------------------
# nghttp
# --------------------------------------------------------------------------------------
_TS = r"\[\s*(?P<t>[\d.]+)\]"
_FRAME = re.compile(_TS + r" (?P<dir>send|recv) (?P<type>[A-Z_]+) frame <length=(?P<len>\d+), "
                    r"flags=0x(?P<flags>[0-9a-f]+), stream_id=(?P<sid>\d+)>")
_RECV_HDR = re.compile(_TS + r" recv \(stream_id=(?P<sid>\d+)\) (?P<name>:?[^:\s]+): (?P<value>.*)$")
_RECV_DATA = re.compile(_TS + r" recv \(stream_id=(?P<sid>\d+), length=(?P<len>\d+),")
_PROMISED = re.compile(r"promised_stream_id=(\d+)")
_INDENT_HDR = re.compile(r"^\s+(?P<name>:?[a-z0-9-]+): (?P<value>.*)$")


def parse_nghttp_verbose(text: str) -> dict:
    """Parse ``nghttp -v`` output into requests, pushes and per-stream responses."""
    requests: list[dict] = []
    pushes: list[dict] = []
    streams: dict[int, dict] = {}
    pending_promise_headers: dict[int, dict] = {}
    lines = text.splitlines()
    i = 0
    current_send_headers: dict | None = None
    while i < len(lines):
        line = lines[i]
        m = _FRAME.search(line)
        if m:
            current_send_headers = None
            ftype, sid, flags = m["type"], int(m["sid"]), int(m["flags"], 16)
            t_ms = round(float(m["t"]) * 1000, 3)
            if m["dir"] == "send" and ftype == "HEADERS":
                req = {"stream_id": sid, "method": None, "path": None, "scheme": None, "authority": None,
                       "started_ms": t_ms}
                requests.append(req)
                streams.setdefault(sid, {"body_bytes": 0, "status": None, "ended_ms": None})
                current_send_headers = req
            elif m["dir"] == "recv" and ftype == "PUSH_PROMISE":
                pm = None
                for nxt in lines[i + 1:i + 5]:
                    if nxt.startswith("["):
                        break
                    pm = pm or _PROMISED.search(nxt)
                if pm:
                    promised = int(pm.group(1))
                    h = pending_promise_headers.pop(sid, {})
                    pushes.append({"parent_stream_id": sid, "promised_stream_id": promised,
                                   "path": h.get(":path"), "scheme": h.get(":scheme"),
                                   "authority": h.get(":authority"), "promised_ms": t_ms})
                    streams.setdefault(promised, {"body_bytes": 0, "status": None, "ended_ms": None})
            elif m["dir"] == "recv" and ftype in ("DATA", "HEADERS") and flags & 0x1:
                st = streams.setdefault(sid, {"body_bytes": 0, "status": None, "ended_ms": None})
                st["ended_ms"], st["end_line"] = t_ms, i
            elif ftype == "RST_STREAM":
                streams.setdefault(sid, {"body_bytes": 0, "status": None, "ended_ms": None})[
                    "reset_by"] = "client" if m["dir"] == "send" else "server"
            i += 1
            continue
        if current_send_headers is not None:
            hm = _INDENT_HDR.match(line)
            if hm and hm["name"] in (":method", ":path", ":scheme", ":authority"):
                current_send_headers[hm["name"][1:]] = hm["value"]
        rm = _RECV_HDR.search(line)
        if rm:
            sid = int(rm["sid"])
            name, value = rm["name"], rm["value"]
            st = streams.setdefault(sid, {"body_bytes": 0, "status": None, "ended_ms": None})
            if name == ":status":
                st["status"] = int(value)
            elif name in (":method", ":path", ":scheme", ":authority"):
                # pseudo request headers received on a client stream = a PUSH_PROMISE in progress
                pending_promise_headers.setdefault(sid, {})[name] = value
        dm = _RECV_DATA.search(line)
        if dm:
            streams.setdefault(int(dm["sid"]), {"body_bytes": 0, "status": None, "ended_ms": None})[
                "body_bytes"] += int(dm["len"])
        i += 1
    return {"requests": requests, "pushes": pushes, "streams": streams}


def _waited_ms(pushed: dict, referrer: dict) -> float:
    """How long nghttp waited for a push it used: it parses a response as it arrives, so the reference is known once
    the referencing response has finished; a push finishing later (in wire order) was waited for from then."""
    if referrer.get("end_line") is not None and pushed.get("end_line", -1) > referrer["end_line"]:
        return round(max(0.0, pushed["ended_ms"] - referrer["ended_ms"]), 3)
    return 0.0


def run_nghttp(port: int, paths: tuple[str, ...], upgrade: bool, workdir: Path) -> dict:
    exe = shutil.which("nghttp")
    if exe is None:
        raise RuntimeError("nghttp not found")
    urls = [f"http://127.0.0.1:{port}{p}" for p in paths]
    cmd = [exe, "-nva", "-v"] + (["-u"] if upgrade else []) + urls
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    (workdir / "nghttp.log").write_text(p.stdout + p.stderr)
    if p.returncode != 0:
        raise RuntimeError(f"nghttp exited {p.returncode}: {p.stderr.strip()[-500:]}")
    parsed = parse_nghttp_verbose(p.stdout)
    referenced: dict[str, str] = {}
    for path in paths:
        for ref, referrer in page_references(path).items():
            referenced.setdefault(ref, referrer)
    requested_paths = {r["path"] for r in parsed["requests"]}
    # the stream that delivered each path (request or push), to find a reference's response
    delivered: dict[str, dict] = {}
    for r in parsed["requests"]:
        delivered.setdefault(r["path"], parsed["streams"].get(r["stream_id"], {}))
    for pp in parsed["pushes"]:
        delivered.setdefault(pp["path"], parsed["streams"].get(pp["promised_stream_id"], {}))
    requests, pushes = [], []
    for r in parsed["requests"]:
        st = parsed["streams"].get(r["stream_id"], {})
        requests.append({"connection_index": 0, "stream_id": r["stream_id"], "method": r["method"],
                         "url": f"{r['scheme']}://{r['authority']}{r['path']}", "status": st.get("status"),
                         "body_bytes": st.get("body_bytes", 0), "from_push": False,
                         "needed_ms": r["started_ms"], "ended_ms": st.get("ended_ms")})
    for pp in parsed["pushes"]:
        st = parsed["streams"].get(pp["promised_stream_id"], {})
        completed = st.get("ended_ms") is not None
        claimed = pp["path"] in referenced  # nghttp downloads every push: a referenced one is used
        wait_ms = _waited_ms(st, delivered.get(referenced[pp["path"]], {})) if claimed and completed else None
        outcome, reason = judge(PushFacts(requested_anyway=pp["path"] in requested_paths, completed=completed,
                                          claimed=claimed, wait_ms=wait_ms))
        pushes.append({"connection_index": 0, "client_port": None, "load_index": 0,
                       "parent_stream_id": pp["parent_stream_id"],
                       "promised_stream_id": pp["promised_stream_id"],
                       "url": f"{pp['scheme']}://{pp['authority']}{pp['path']}",
                       "outcome": outcome, "reason": reason, "client_action": "received",
                       "had_fresh_copy": False, "promised_ms": pp["promised_ms"], "completed": completed,
                       "status": st.get("status"), "body_bytes": st.get("body_bytes", 0),
                       "ended_ms": st.get("ended_ms"), "reset_by": st.get("reset_by")})
        if outcome == Outcome.USED:
            pushes[-1]["wait_ms"] = wait_ms
            requests.append({"connection_index": 0, "stream_id": pp["promised_stream_id"], "method": "GET",
                             "url": pushes[-1]["url"], "status": st.get("status"),
                             "body_bytes": st.get("body_bytes", 0), "from_push": True,
                             "needed_ms": pp["promised_ms"], "ended_ms": st.get("ended_ms")})
    return {"tls": None, "transport": "h2c-upgrade" if upgrade else "h2c-prior-knowledge",
            "client_t0_epoch": round(t0, 6),
            "connections": [{"index": 0, "client_port": None, "enable_push": True,
                             "alpn": "h2c", "tls": None}],
            "pushes": pushes, "requests": requests, "cache_hits": [],
            "client_version": tool_version([exe, "--version"], r"nghttp2/(\S+)"),
            "client_command": " ".join(cmd)}


# --------------------------------------------------------------------------------------
# curl
# --------------------------------------------------------------------------------------
def run_curl(port: int, paths: tuple[str, ...], keylog: Path, workdir: Path) -> dict:
    exe = shutil.which("curl")
    if exe is None:
        raise RuntimeError("curl not found")
    cmd = [exe, "--http2", "-k", "-sS", "-v"]
    for p in paths:
        cmd += ["-o", "/dev/null", "-w", r"%{http_code} %{size_download} %{local_port} %{http_version}\n",
                f"https://127.0.0.1:{port}{p}"]
    env = dict(os.environ, SSLKEYLOGFILE=str(keylog))
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=env)
    (workdir / "curl.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"curl exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    stream_ids = [int(x) for x in re.findall(r"Using Stream ID: (\d+)", proc.stderr)]
    tls = re.search(r"SSL connection using TLSv([\d.]+)", proc.stderr)
    rows = [line.split() for line in proc.stdout.splitlines() if line.strip()]
    requests, ports = [], []
    for i, (p, row) in enumerate(zip(paths, rows, strict=False)):
        status, size, local_port, http_version = row
        ports.append(int(local_port))
        requests.append({"connection_index": 0, "stream_id": stream_ids[i] if i < len(stream_ids) else None,
                         "method": "GET", "url": f"https://127.0.0.1:{port}{p}", "status": int(status),
                         "body_bytes": int(size), "from_push": False, "http_version": http_version})
    if len(set(ports)) > 1:
        raise RuntimeError(f"curl used more than one connection: {ports}")
    return {"tls": tls.group(1) if tls else None, "transport": "tls", "client_t0_epoch": round(t0, 6),
            "connections": [{"index": 0, "client_port": ports[0] if ports else None, "enable_push": False,
                             "alpn": "h2", "tls": tls.group(1) if tls else None}],
            "pushes": [], "requests": requests, "cache_hits": [],
            "client_version": tool_version([exe, "--version"], r"curl (\S+)"),
            "client_command": " ".join(cmd[:5]) + " ... " + " ".join(f"https://127.0.0.1:{port}{p}" for p in paths)}
