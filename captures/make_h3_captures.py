#!/usr/bin/env python3
"""Regenerate the pushscope HTTP/3 capture lab.

    python captures/make_h3_captures.py --out captures/ [--only NAME ...] [--list]

For each scenario: start the aioquic HTTP/3 push server on a free 127.0.0.1 UDP port (4433 when free), start
dumpcap on ``lo`` filtered to that port, run the aioquic client, stop the capture, and write

    OUT/NAME.pcapng      the capture
    OUT/NAME.keys        the client's TLS key log (QUIC secrets)
    OUT/NAME.truth.json  the client's ground truth (every push's outcome and reason, every request)

Each result is cross-checked by decoding the capture with pushscope's own tshark QUIC reader (``lab.verify``):
every request the client made and every push it was promised must be found, with the same push IDs. Only the
decoded frames are compared, never pushscope's verdicts: the truth is the client's own (``lab.truth``).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from h3lab import CLIENT_NAME, CLIENT_VERSION, SERVER_NAME  # noqa: E402
from h3lab.client import run_client  # noqa: E402
from h3lab.scenarios import SCENARIOS, Scenario  # noqa: E402
from h3lab.server import PREFERRED_PORT, SERVER_VERSION, LabServer, lab_site  # noqa: E402
from lab import certs, runner, truth  # noqa: E402  (the HTTP/2 lab's certificate, command line and truth)
from lab.capture import finish_key_log, free_port, record  # noqa: E402
from lab.cut import cut_before, truth_after_handshake_cut  # noqa: E402
from lab.verify import compare_h3, pushscope_view  # noqa: E402

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
    port = free_port(HOST, prefer=(PREFERRED_PORT,), transport="udp")
    pcap, keys = work / f"{sc.name}.pcapng", work / f"{sc.name}.keys"
    client_truth, server_log = record(pcap, port, lambda: asyncio.run(_serve_and_load(sc, port, cert, keys)),
                                      transport="udp")
    finish_key_log(keys, tls=True)
    if sc.cut_after_handshake:
        cut_before(pcap, client_truth["cut_at"])
    document = truth.stamped({
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
    })
    problems = [f"connection {c['index']}: {e}" for c in document["connections"] for e in c["errors"]]
    seen = None
    if verify:
        seen = pushscope_view(pcap, keys, quic_ports=[port])
        problems += compare_h3(document, seen)
    if sc.cut_after_handshake:
        document = truth_after_handshake_cut(document, document["cut_at"])
    return {"truth": document, "seen": seen, "problems": problems,
            "size": truth.write_outputs(out, sc.name, pcap, keys, document)}


def describe(result: dict) -> str:
    document, seen = result["truth"], result["seen"]
    requests = sum(1 for r in document["requests"] if not r["from_push"])
    text = (f"  {document['server']} {document['server_version']}, conns={len(document['connections'])}, "
            f"requests={requests}, pushes={len(document['pushes'])}, {result['size']} B")
    if seen is not None:
        text += f", decoded: requests={len(seen['requests'])} promises={len(seen['promises'])}"
    return text + truth.outcome_counts(document["pushes"])


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
