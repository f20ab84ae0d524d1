#!/usr/bin/env python3
"""Regenerate the pushscope HTTP/2 capture lab.

    python captures/make_captures.py --out captures/ [--only NAME ...] [--list]

For each scenario: start a real server (nginx / h2o / apache2 / nghttpd) on a free
127.0.0.1 port from a temp dir, start dumpcap on ``lo`` filtered to that port, run the
client, stop the capture, stop the server, and write

    OUT/NAME.pcapng      the capture
    OUT/NAME.keys        NSS key log (empty for cleartext h2c)
    OUT/NAME.truth.json  the client's ground truth (every push's outcome and reason)

Each result is cross-checked with tshark. A scenario whose server/client binary is missing
is skipped with a clear message; the exit status is non-zero only if a selected scenario
failed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from lab import CLIENT_NAME, CLIENT_VERSION, certs, runner, site, truth  # noqa: E402
from lab.capture import finish_key_log, free_port, record  # noqa: E402
from lab.cut import cut_after_load, cut_before, truth_after_handshake_cut  # noqa: E402
from lab.extclients import run_curl, run_nghttp  # noqa: E402
from lab.h2client import run_client  # noqa: E402
from lab.scenarios import SCENARIOS, Scenario  # noqa: E402
from lab.servers import SERVERS, TSHARK_HTTP_PORTS  # noqa: E402
from lab.verify import compare, summarize, summarize_with_pushscope, tshark_path  # noqa: E402

HOST = "127.0.0.1"


def missing_binaries(sc: Scenario) -> list[str]:
    missing = []
    server_cls = SERVERS[sc.server]
    if server_cls.available() is None:
        missing.append(server_cls.binary)
    if sc.client in ("nghttp", "curl") and shutil.which(sc.client) is None:
        missing.append(sc.client)
    if sc.server_tls and shutil.which("openssl") is None:
        missing.append("openssl")
    return missing


def _fill_ports_from_capture(document: dict, seen: dict) -> None:
    """nghttp does not report its local port: take it from the capture's SYN."""
    if len(seen["client_ports"]) != len(document["connections"]):
        return
    for conn, cport in zip(document["connections"], seen["client_ports"], strict=True):
        if conn.get("client_port") is None:
            conn["client_port"] = cport
            conn["client_port_source"] = "capture"
    by_index = {c["index"]: c["client_port"] for c in document["connections"]}
    for p in document["pushes"]:
        if p.get("client_port") is None:
            p["client_port"] = by_index.get(p["connection_index"])


def _run_client(sc: Scenario, port: int, keys: Path, work: Path) -> dict:
    """The scenario's client against 127.0.0.1:``port``; the client part of the truth document."""
    if sc.client == "h2client":
        client_truth = run_client(HOST, port, sc.client_options,
                                  keys if sc.client_options.transport == "tls" else None)
        return {**client_truth, "client_version": CLIENT_VERSION}
    if sc.client == "nghttp":
        return run_nghttp(port, sc.paths, sc.nghttp_upgrade, work)
    if sc.client == "curl":
        return run_curl(port, sc.paths, keys, work)
    raise ValueError(f"unknown client {sc.client!r}")


def _client_options(sc: Scenario) -> dict:
    o = sc.client_options
    return {"enable_push": o.enable_push, "connections": [list(c) for c in o.connections],
            "cancel_paths": list(o.cancel_paths), "cancel_cached": o.cancel_cached,
            "rerequest_paths": list(o.rerequest_paths), "keep_cookies": o.keep_cookies,
            "prefetch_paths": list(o.prefetch_paths), "tls_version": o.tls_version}


def _cross_check(sc: Scenario, document: dict, pcap: Path, keys: Path, port: int) -> tuple[dict, list[str]]:
    """What tshark (or, for a capture cut after its handshake, pushscope's reader) sees, and how it differs from
    the truth. Fills in what the client could not know (nghttp's ports; pushes curl's server made anyway)."""
    if sc.client_options.settle:  # cut after the handshake: only pushscope's trial decryption reads it
        seen = summarize_with_pushscope(pcap, keys)
    else:
        seen = summarize(pcap, port, sc.transport, keys if sc.transport == "tls" else None)
    _fill_ports_from_capture(document, seen)
    if sc.client == "curl":
        # curl disabled push; anything promised anyway is wasted/push-disabled
        outcome, reason = truth.judge(truth.PushFacts(push_disabled=True))
        for cport, parent, promised in seen["push_promises"]:
            document["pushes"].append({"connection_index": 0, "client_port": cport, "parent_stream_id": parent,
                                       "promised_stream_id": promised, "url": None, "outcome": outcome,
                                       "reason": reason, "client_action": "ignored", "had_fresh_copy": False,
                                       "source": "capture"})
    return seen, compare(document, seen)


def run_scenario(sc: Scenario, out: Path, work: Path, cert: certs.CertPair | None, docroot: Path,
                 verify: bool) -> dict:
    port = free_port(HOST, prefer=TSHARK_HTTP_PORTS if sc.transport == "h2c-prior-knowledge" else ())
    server = SERVERS[sc.server](workdir=work / "server", docroot=docroot, cert=cert if sc.server_tls else None,
                                port=port, tls=sc.server_tls, options=dict(sc.server_options))
    pcap, keys = work / f"{sc.name}.pcapng", work / f"{sc.name}.keys"
    client_truth = record(pcap, port, lambda: _run_client(sc, port, keys, work), server=server)
    if sc.client_options.settle:
        cut_before(pcap, client_truth["cut_at"])
    finish_key_log(keys, tls=sc.transport == "tls")

    document = truth.stamped({
        "scenario": sc.name,
        "description": sc.description,
        "server": sc.server,
        "server_version": server.version(),
        "server_options": dict(sc.server_options),
        "client": CLIENT_NAME if sc.client == "h2client" else sc.client,
        "client_version": client_truth.pop("client_version", None),
        "tls": client_truth.pop("tls"),
        "transport": client_truth.pop("transport"),
        "server_port": port,
        **client_truth,
        **({"client_options": _client_options(sc)} if sc.client == "h2client" else {}),
    })

    problems: list[str] = []
    seen = None
    if verify and tshark_path() is not None:
        seen, problems = _cross_check(sc, document, pcap, keys, port)
    if sc.cut_after_load is not None and not problems:
        document = cut_after_load(pcap, document, sc.cut_after_load)
    if sc.client_options.settle:
        document = truth_after_handshake_cut(document, document["cut_at"])
    for c in document["connections"]:
        errs = c.get("errors") or []
        problems += [f"connection {c['index']}: {e}" for e in errs]
        if errs:
            problems.append(f"connection {c['index']}: closed_by={c.get('closed_by')} "
                            f"goaway_from_server={c.get('goaway_from_server')}")

    return {"truth": document, "seen": seen, "problems": problems,
            "size": truth.write_outputs(out, sc.name, pcap, keys, document)}


def describe(result: dict) -> str:
    document, seen = result["truth"], result["seen"]
    n_req = sum(1 for r in document["requests"] if not r.get("from_push"))
    parts = [f"{document['server']} {document['server_version']}", f"tls={document['tls']}", document["transport"],
             f"conns={len(document['connections'])}", f"requests={n_req}", f"pushes={len(document['pushes'])}"]
    if seen is not None:
        parts.append(f"tshark: HEADERS={len(seen['client_headers'])} PUSH_PROMISE={len(seen['push_promises'])}")
    parts.append(f"{result['size']} B")
    return "  " + ", ".join(parts) + truth.outcome_counts(document["pushes"])


def prepare(base: Path, selected: list[Scenario]) -> runner.RunScenario:
    """The site and (for TLS scenarios) the certificate every scenario shares."""
    docroot = site.write_site(base / "www")
    cert = certs.make_cert(base / "cert") if any(s.server_tls for s in selected) else None
    return lambda sc, out, work, verify: run_scenario(sc, out, work, cert, docroot, verify)


LAB = runner.Lab(
    description=__doc__, default_out=HERE, scenarios=SCENARIOS, prepare=prepare, describe=describe,
    list_line=lambda sc: f"{sc.name:26} {sc.server:8} {sc.client:9} {sc.transport:20} {sc.description}",
    missing=missing_binaries, retries=2, verify_help="skip the tshark cross-check",
    workdir_prefix="pushscope-lab-",
)


def main(argv: list[str] | None = None) -> int:
    return runner.main(LAB, argv)


if __name__ == "__main__":
    sys.exit(main())
