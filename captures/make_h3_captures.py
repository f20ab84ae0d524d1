#!/usr/bin/env python3
"""Regenerate the pushscope HTTP/3 capture lab.

    python captures/make_h3_captures.py --out captures/ [--only NAME ...] [--list]

For each scenario: start the aioquic HTTP/3 push server on a free 127.0.0.1 UDP port (4433 when free), start
dumpcap on ``lo`` filtered to that port, run the aioquic client, stop the capture, and write

    OUT/NAME.pcapng      the capture
    OUT/NAME.keys        the client's TLS key log (QUIC secrets)
    OUT/NAME.truth.json  the client's ground truth (every push's outcome and reason, every request)

Each result is cross-checked by decoding the capture with pushscope's own tshark QUIC reader: every request
the client made and every push it was promised must be found, with the same push IDs.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from h3lab import CLIENT_NAME, CLIENT_VERSION, SERVER_NAME  # noqa: E402
from h3lab.client import run_client  # noqa: E402
from h3lab.scenarios import SCENARIOS, Scenario  # noqa: E402
from h3lab.server import SERVER_VERSION, LabServer, free_udp_port, lab_site  # noqa: E402
from lab import certs, runner  # noqa: E402  (the HTTP/2 lab's certificate helper and command line)
from lab.capture import Capture, cut_before, pushes_unknown_after_cut  # noqa: E402

HOST = "127.0.0.1"


async def _serve_and_load(sc: Scenario, port: int, cert: certs.CertPair, keys: Path) -> tuple[dict, list]:
    server = LabServer(HOST, port, str(cert.cert), str(cert.key), lab_site(), sc.server_options)
    await server.start()
    try:
        truth = await asyncio.wait_for(run_client(HOST, port, sc.client_options, keys), timeout=60)
    finally:
        server.close()
    return truth, server.log


def run_scenario(sc: Scenario, out: Path, work: Path, cert: certs.CertPair, verify: bool) -> dict:
    port = free_udp_port(HOST)
    pcap, keys = work / f"{sc.name}.pcapng", work / f"{sc.name}.keys"
    with Capture(pcap, port, host=HOST, transport="udp"):
        client_truth, server_log = asyncio.run(_serve_and_load(sc, port, cert, keys))
    if keys.stat().st_size == 0:
        raise RuntimeError("the client wrote no key log")
    if sc.cut_after_handshake:
        cut_before(pcap, client_truth["cut_at"])
    truth = {
        "scenario": sc.name,
        "description": sc.description,
        "server": SERVER_NAME,
        "server_version": SERVER_VERSION,
        "server_options": {"push_paths": list(sc.server_options.push_paths),
                           "push_delay": sc.server_options.push_delay,
                           "cancel_paths": list(sc.server_options.cancel_paths),
                           "foreign_paths": list(sc.server_options.foreign_paths)},
        "client": CLIENT_NAME,
        "client_version": CLIENT_VERSION,
        "tls": client_truth.pop("tls"),
        "transport": client_truth.pop("transport"),
        "server_port": port,
        **client_truth,
        "server_pushes": [{"push_id": p.push_id, "push_stream_id": p.stream_id, "path": p.path,
                           "cancelled_by_client": p.cancelled_by_client, "stopped_by_client": p.stopped_by_client,
                           "cancelled_by_server": p.cancelled_by_server,
                           "sent": p.sent, "reset": p.reset} for p in server_log],
        "client_options": {"connections": [list(c) for c in sc.client_options.connections],
                           "cancel_paths": list(sc.client_options.cancel_paths),
                           "stop_paths": list(sc.client_options.stop_paths),
                           "cancel_cached": sc.client_options.cancel_cached},
        "generated_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    problems = [f"connection {c['index']}: {e}" for c in truth["connections"] for e in c["errors"]]
    seen = None
    if verify:
        seen = decode_capture(pcap, keys, port)
        problems += compare(truth, seen)
    if sc.cut_after_handshake:
        truth = pushes_unknown_after_cut(truth, truth["cut_at"])
    return {"truth": truth, "seen": seen, "problems": problems,
            "size": runner.write_outputs(out, sc.name, pcap, keys, truth)}


def decode_capture(pcap: Path, keys: Path, port: int) -> dict:
    """What pushscope's capture reader finds (tshark, and its own trial decryption where tshark cannot):
    requests, promises, refusals, per client port."""
    from pushscope.events import (
        ConnectionOpened,
        HeadersReceived,
        PushCancelled,
        PushPromiseReceived,
        StopSendingReceived,
        StreamReset,
    )
    from pushscope.sources.capture_file import read_capture

    events = list(read_capture(str(pcap), str(keys), quic_ports=[port]))
    ports = {e.connection_id: e.client.port for e in events if isinstance(e, ConnectionOpened)}
    seen: dict = {"requests": set(), "promises": set(), "cancels": set(), "server_cancels": set(), "stops": set(),
                  "resets": set()}
    for e in events:
        port_of = ports.get(getattr(e, "connection_id", ""), 0)
        if isinstance(e, HeadersReceived) and e.sender == "client":
            headers = dict(e.headers)
            seen["requests"].add((port_of, e.stream_id, headers.get(":path")))
        elif isinstance(e, PushPromiseReceived):
            seen["promises"].add((port_of, e.stream_id, e.push_id, dict(e.headers).get(":path")))
        elif isinstance(e, PushCancelled):
            seen["cancels" if e.sender == "client" else "server_cancels"].add((port_of, e.push_id))
        elif isinstance(e, StopSendingReceived) and e.push_id is not None:
            seen["stops"].add((port_of, e.push_id))
        elif isinstance(e, StreamReset) and e.push_id is not None:
            seen["resets"].add((port_of, e.push_id))
    return seen


def compare(truth: dict, seen: dict) -> list[str]:
    problems = []
    for request in truth["requests"]:
        if request["from_push"]:
            continue
        key = (truth["connections"][request["connection_index"]]["client_port"], request["stream_id"],
               "/" + request["url"].split("/", 3)[3])
        if key not in seen["requests"]:
            problems.append(f"request {key} not decoded from the capture")
    for push in truth["pushes"]:
        key = (push["client_port"], push["parent_stream_id"], push["push_id"], "/" + push["url"].split("/", 3)[3])
        if key not in seen["promises"]:
            problems.append(f"push promise {key} not decoded from the capture")
        refusal = {"cancelled": "cancels", "refused": "cancels", "stop-sending": "stops"}.get(push["client_action"])
        if refusal and (push["client_port"], push["push_id"]) not in seen[refusal]:
            problems.append(f"{push['client_action']} of push {push['push_id']} not seen in the capture")
        if push.get("server_cancelled") and (push["client_port"], push["push_id"]) not in seen["server_cancels"]:
            problems.append(f"the server's CANCEL_PUSH of push {push['push_id']} not seen in the capture")
    return problems


def describe(result: dict) -> str:
    truth, seen = result["truth"], result["seen"]
    requests = sum(1 for r in truth["requests"] if not r["from_push"])
    text = (f"  {truth['server']} {truth['server_version']}, conns={len(truth['connections'])}, "
            f"requests={requests}, pushes={len(truth['pushes'])}, {result['size']} B")
    if seen is not None:
        text += f", decoded: requests={len(seen['requests'])} promises={len(seen['promises'])}"
    return text + runner.outcome_counts(truth["pushes"])


def prepare(base: Path, selected: list[Scenario]) -> runner.RunScenario:
    cert = certs.make_cert(base / "cert")
    return lambda sc, out, work, verify: run_scenario(sc, out, work, cert, verify)


LAB = runner.Lab(
    description=__doc__, default_out=HERE, scenarios=SCENARIOS, prepare=prepare, describe=describe,
    list_line=lambda sc: f"{sc.name:20} {sc.description}", retries=1,
    verify_help="skip decoding the capture with pushscope", workdir_prefix="pushscope-h3lab-",
)


def main(argv: list[str] | None = None) -> int:
    return runner.main(LAB, argv)


if __name__ == "__main__":
    sys.exit(main())
