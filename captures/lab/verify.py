"""Cross-check a capture against its truth file: the client's truth must be on the wire.

HTTP/2 is read with tshark's own dissector (:func:`summarize`: PUSH_PROMISEs, the client's HEADERS and
RST_STREAMs); HTTP/1.1 with tshark's HTTP dissector (:func:`tshark_http1_requests`). A capture tshark cannot
decrypt (cut after its handshake) and HTTP/3 are read with pushscope's capture reader (:func:`pushscope_view`):
only the events it decodes are compared, never its verdicts, so the truth stays the client's own.
"""

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


def pushscope_view(pcap: Path, keys: Path | None, quic_ports: list[int] | None = None) -> dict:
    """What pushscope's capture reader decodes, per client port: client ports (in order of connection), requests
    ``(port, stream_id, path)``, promises ``(port, parent_stream_id, promised_stream_id, push_id, path)``, and the
    ``(port, push_id)`` of HTTP/3 refusals: the client's and the server's CANCEL_PUSH, STOP_SENDING, resets."""
    from pushscope.events import (
        ConnectionOpened,
        HeadersReceived,
        PushCancelled,
        PushPromiseReceived,
        StopSendingReceived,
        StreamReset,
    )
    from pushscope.sources.capture_file import read_capture

    view: dict = {"client_ports": [], "requests": [], "promises": [], "cancels": set(), "server_cancels": set(),
                  "stops": set(), "resets": set()}
    port_of: dict[str, int] = {}
    for event in read_capture(str(pcap), str(keys) if keys else None, quic_ports=quic_ports):
        port = port_of.get(getattr(event, "connection_id", ""), 0)
        if isinstance(event, ConnectionOpened):
            port_of[event.connection_id] = event.client.port
            view["client_ports"].append(event.client.port)
        elif isinstance(event, HeadersReceived) and event.sender == "client":
            view["requests"].append((port, event.stream_id, dict(event.headers).get(":path")))
        elif isinstance(event, PushPromiseReceived):
            view["promises"].append((port, event.stream_id, event.promised_stream_id, event.push_id,
                                     dict(event.headers).get(":path")))
        elif isinstance(event, PushCancelled):
            view["cancels" if event.sender == "client" else "server_cancels"].add((port, event.push_id))
        elif isinstance(event, StopSendingReceived) and event.push_id is not None:
            view["stops"].add((port, event.push_id))
        elif isinstance(event, StreamReset) and event.push_id is not None:
            view["resets"].add((port, event.push_id))
    return view


def summarize_with_pushscope(pcap: Path, keys: Path | None) -> dict:
    """As :func:`summarize`, from pushscope's own reading: for a capture tshark cannot decrypt (cut after its
    handshake), which pushscope opens by trying the key log's secrets."""
    view = pushscope_view(pcap, keys)
    return {"client_ports": view["client_ports"],
            "client_headers": [(port, stream_id) for port, stream_id, _ in view["requests"]],
            "push_promises": [(port, parent, promised) for port, parent, promised, _, _ in view["promises"]],
            "client_rst": [], "server_rst": [], "goaway": Counter(), "http1_requests": [], "frames": Counter(),
            "packets": 0}


def compare_h3(truth: dict, seen: dict) -> list[str]:
    """Mismatches between an HTTP/3 truth and :func:`pushscope_view`: every request and promise, with the same
    stream and push IDs, and every refusal the client or server made, must be on the wire."""
    problems = []
    requests = set(seen["requests"])
    promises = {(port, parent, push_id, path) for port, parent, _, push_id, path in seen["promises"]}
    for request in truth["requests"]:
        if request["from_push"]:
            continue
        key = (truth["connections"][request["connection_index"]]["client_port"], request["stream_id"],
               "/" + request["url"].split("/", 3)[3])
        if key not in requests:
            problems.append(f"request {key} not decoded from the capture")
    for push in truth["pushes"]:
        key = (push["client_port"], push["parent_stream_id"], push["push_id"], "/" + push["url"].split("/", 3)[3])
        if key not in promises:
            problems.append(f"push promise {key} not decoded from the capture")
        refusal = {"cancelled": "cancels", "refused": "cancels", "stop-sending": "stops"}.get(push["client_action"])
        if refusal and (push["client_port"], push["push_id"]) not in seen[refusal]:
            problems.append(f"{push['client_action']} of push {push['push_id']} not seen in the capture")
        if push.get("server_cancelled") and (push["client_port"], push["push_id"]) not in seen["server_cancels"]:
            problems.append(f"the server's CANCEL_PUSH of push {push['push_id']} not seen in the capture")
    return problems


def tshark_http1_requests(pcap: Path, port: int, keys: Path | None) -> list[str]:
    """``"METHOD /path"`` of every HTTP/1.1 request tshark's HTTP dissector sees on ``port``, sorted."""
    layer = "tls" if keys is not None else "tcp"
    command = [tshark_path() or "tshark", "-n", "-r", str(pcap), "-d", f"{layer}.port=={port},http",
               "-Y", "http.request", "-T", "fields", "-e", "http.request.method", "-e", "http.request.uri"]
    if keys is not None:
        command[2:2] = ["-o", f"tls.keylog_file:{keys}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    seen = []
    for line in out.splitlines():
        methods, _, uris = line.partition("\t")
        seen += [f"{m} {u}" for m, u in zip(methods.split(","), uris.split(","), strict=False) if m]
    return sorted(seen)
