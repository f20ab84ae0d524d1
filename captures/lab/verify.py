"""Cross-check a capture against its truth file with tshark (PUSH_PROMISEs, requests, resets)."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path


def tshark_path() -> str | None:
    return shutil.which("tshark")


def decode_args(port: int, transport: str, keys: Path | None) -> list[str]:
    """tshark options that make a lab capture decode (TLS key log / decode-as for h2c)."""
    if transport == "tls":
        args = ["-d", f"tcp.port=={port},tls"]
        if keys is not None:
            args += ["-o", f"tls.keylog_file:{keys}"]
        return args
    if transport == "h2c-upgrade":
        return ["-d", f"tcp.port=={port},http"]
    return ["-d", f"tcp.port=={port},http2"]


def _split(v: str) -> list[str]:
    return [x for x in v.split(",") if x != ""] if v else []


def summarize(pcap: Path, port: int, transport: str, keys: Path | None) -> dict:
    """What tshark sees: per client port, the client's HEADERS stream ids, PUSH_PROMISEs
    (parent, promised), RST_STREAMs in both directions and GOAWAYs."""
    exe = tshark_path()
    if exe is None:
        raise RuntimeError("tshark not found")
    fields = ["tcp.srcport", "tcp.dstport", "tcp.flags.syn", "tcp.flags.ack", "http2.type", "http2.streamid",
              "http2.push_promise.promised_stream_id", "http.request.method", "http.response.code"]
    cmd = [exe, "-n", "-r", str(pcap), *decode_args(port, transport, keys), "-T", "fields",
           "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in fields:
        cmd += ["-e", f]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"tshark failed: {p.stderr.strip()[-500:]}")
    out: dict = {"client_ports": [], "client_headers": [], "push_promises": [], "client_rst": [],
                 "server_rst": [], "goaway": Counter(), "http1_requests": [], "frames": Counter(),
                 "packets": 0}
    for line in p.stdout.splitlines():
        cols = (line.split("\t") + [""] * len(fields))[:len(fields)]
        src, dst, syn, ack, types, sids, promised, h1req, _h1resp = cols
        out["packets"] += 1
        if not src:
            continue
        src_i, dst_i = int(src), int(dst)
        from_client = dst_i == port
        cport = src_i if from_client else dst_i
        if syn in ("1", "True") and ack in ("0", "False") and from_client and cport not in out["client_ports"]:
            out["client_ports"].append(cport)
        if h1req and from_client:
            out["http1_requests"].append((cport, h1req))
        t_list, s_list, p_list = _split(types), _split(sids), _split(promised)
        if len(t_list) != len(s_list):
            # a record without a stream id (should not happen); fall back to types only
            s_list = (s_list + ["-1"] * len(t_list))[:len(t_list)]
        p_iter = iter(p_list)
        for t, s in zip(t_list, s_list, strict=True):
            t_i, s_i = int(t), int(s)
            out["frames"][(("c" if from_client else "s"), t_i)] += 1
            if t_i == 1 and from_client:
                out["client_headers"].append((cport, s_i))
            elif t_i == 5 and not from_client:
                out["push_promises"].append((cport, s_i, int(next(p_iter, "-1"))))
            elif t_i == 3:
                (out["client_rst"] if from_client else out["server_rst"]).append((cport, s_i))
            elif t_i == 7:
                out["goaway"]["client" if from_client else "server"] += 1
    return out


def compare(truth: dict, seen: dict) -> list[str]:
    """Mismatches between the truth document and what tshark saw (empty list = consistent)."""
    problems: list[str] = []
    ports = {c["index"]: c["client_port"] for c in truth["connections"]}
    t_push = sorted((ports.get(p["connection_index"]), p["parent_stream_id"], p["promised_stream_id"])
                    for p in truth["pushes"] if p.get("client_action") != "not-on-wire")
    s_push = sorted(seen["push_promises"])
    if t_push != s_push:
        problems.append(f"PUSH_PROMISE mismatch: truth {t_push} vs capture {s_push}")
    t_req = sorted((ports.get(r["connection_index"]), r["stream_id"]) for r in truth["requests"]
                   if not r.get("from_push") and not r.get("via_upgrade"))
    s_req = sorted(seen["client_headers"])
    if t_req != s_req:
        problems.append(f"request HEADERS mismatch: truth {t_req} vs capture {s_req}")
    t_rst = sorted((ports.get(p["connection_index"]), p["promised_stream_id"]) for p in truth["pushes"]
                   if p.get("client_action") == "cancelled")
    s_rst = sorted(x for x in seen["client_rst"] if x[1] % 2 == 0)
    if t_rst != s_rst:
        problems.append(f"client RST_STREAM on pushes mismatch: truth {t_rst} vs capture {s_rst}")
    t_ports = sorted(p for p in ports.values() if p is not None)
    if t_ports and t_ports != sorted(seen["client_ports"]):
        problems.append(f"client ports mismatch: truth {t_ports} vs capture {seen['client_ports']}")
    if truth.get("transport") == "h2c-upgrade" and not seen["http1_requests"]:
        problems.append("no HTTP/1.1 upgrade request in the capture")
    return problems


def summarize_with_pushscope(pcap: Path, keys: Path | None) -> dict:
    """As :func:`summarize`, from pushscope's own reading: for a capture tshark cannot decrypt (cut after its
    handshake), which pushscope opens by trying the key log's secrets."""
    from pushscope.events import ConnectionOpened, HeadersReceived, PushPromiseReceived
    from pushscope.sources.capture_file import read_capture

    out: dict = {"client_ports": [], "client_headers": [], "push_promises": [], "client_rst": [],
                 "server_rst": [], "goaway": Counter(), "http1_requests": [], "frames": Counter(), "packets": 0}
    port_of: dict[str, int] = {}
    for event in read_capture(str(pcap), str(keys) if keys else None):
        if isinstance(event, ConnectionOpened):
            port_of[event.connection_id] = event.client.port
            out["client_ports"].append(event.client.port)
        elif isinstance(event, HeadersReceived) and event.sender == "client":
            out["client_headers"].append((port_of.get(event.connection_id), event.stream_id))
        elif isinstance(event, PushPromiseReceived):
            out["push_promises"].append((port_of.get(event.connection_id), event.stream_id,
                                         event.promised_stream_id))
    return out
