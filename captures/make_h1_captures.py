#!/usr/bin/env python3
"""Regenerate the pushscope HTTP/1.1 captures.

    python captures/make_h1_captures.py --out captures/ [--only NAME ...] [--list]

Real servers (nginx, apache2) speak HTTP/1.1 only, on a free 127.0.0.1 port; dumpcap records ``lo`` filtered to
that port while the lab's HTTP/1.1 client (captures/lab/h1client.py) makes keep-alive and pipelined requests,
over TLS 1.3 (ALPN http/1.1, key log written) or cleartext. Text is compressed by the server and so comes
chunked. Writes NAME.pcapng, NAME.keys (empty for cleartext) and NAME.truth.json (every request's method, URL,
status and body bytes as the client read them; no pushes: HTTP/1.1 has none). Each capture is cross-checked
with tshark's own HTTP dissector (the same requests, in the same number).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from lab import certs, runner, site, truth  # noqa: E402
from lab.capture import finish_key_log, free_port, record  # noqa: E402
from lab.h1client import H1Options, run_h1_client  # noqa: E402
from lab.servers import SERVERS  # noqa: E402
from lab.verify import tshark_http1_requests, tshark_path  # noqa: E402

HOST = "127.0.0.1"
GZIP = (("Accept-Encoding", "gzip"),)
PAGE_LOAD = (
    (("GET", "/index.html", GZIP),),
    (("GET", "/style.css", GZIP), ("GET", "/app.js", GZIP), ("HEAD", "/logo.png", ()), ("GET", "/font.woff2", ())),
)
REVISIT = ((("GET", "/index.html", GZIP), ("GET", "/style.css", GZIP)),)


@dataclass(frozen=True)
class H1Scenario:
    name: str
    server: str
    description: str
    server_options: dict = field(default_factory=dict)
    client_options: H1Options = field(default_factory=H1Options)


SCENARIOS = (
    H1Scenario("h1-nginx-tls", "nginx",
               "nginx HTTP/1.1 only over TLS 1.3 (ALPN http/1.1), gzip: the page, then its assets pipelined on "
               "the same keep-alive connection (a HEAD among them); a second connection revalidates with "
               "If-None-Match (304s).",
               {"mode": "push", "http1": True},
               H1Options(tls=True, connections=(PAGE_LOAD, REVISIT), revalidate=True)),
    H1Scenario("h1-apache-clear", "apache",
               "apache2 HTTP/1.1 only, cleartext, mod_deflate on the page (gzip with a length): the page and "
               "its assets pipelined on one keep-alive connection.",
               {"mode": "link", "http1": True},
               H1Options(tls=False, connections=(PAGE_LOAD,))),
)


def run_scenario(sc: H1Scenario, out: Path, work: Path, cert: certs.CertPair | None, docroot: Path,
                 verify: bool) -> dict:
    port = free_port(HOST)
    tls = sc.client_options.tls
    server = SERVERS[sc.server](workdir=work / "server", docroot=docroot, cert=cert if tls else None, port=port,
                                tls=tls, options=dict(sc.server_options))
    pcap, keys = work / f"{sc.name}.pcapng", work / f"{sc.name}.keys"
    client_truth = record(pcap, port, lambda: run_h1_client(HOST, port, sc.client_options, keys if tls else None),
                          server=server)
    finish_key_log(keys, tls=tls)
    document = truth.stamped({"scenario": sc.name, "description": sc.description, "server": sc.server,
                              "server_version": server.version(), "server_options": dict(sc.server_options),
                              "client": "pushscope-lab-h1client", "server_port": port, **client_truth})
    problems: list[str] = []
    seen = None
    if verify and tshark_path() is not None:
        seen = tshark_http1_requests(pcap, port, keys if tls else None)
        made = sorted(f"{r['method']} {r['url'].split(str(port), 1)[1]}" for r in document["requests"])
        if seen != made:
            problems.append(f"tshark sees requests {seen}, the client made {made}")
    return {"truth": document, "seen": seen, "problems": problems,
            "size": truth.write_outputs(out, sc.name, pcap, keys, document)}


def describe(result: dict) -> str:
    document = result["truth"]
    chunked = sum(1 for r in document["requests"] if r["chunked"])
    return (f"  {document['server']} {document['server_version']}, {document['transport']}, "
            f"conns={len(document['connections'])}, requests={len(document['requests'])} ({chunked} chunked), "
            f"{result['size']} B")


def prepare(base: Path, selected: list[H1Scenario]) -> runner.RunScenario:
    docroot = site.write_site(base / "www")
    cert = certs.make_cert(base / "cert") if any(s.client_options.tls for s in selected) else None
    return lambda sc, out, work, verify: run_scenario(sc, out, work, cert, docroot, verify)


LAB = runner.Lab(
    description=__doc__, default_out=HERE, scenarios=SCENARIOS, prepare=prepare, describe=describe,
    list_line=lambda sc: f"{sc.name:20} {sc.server:8} {sc.description}",
    missing=lambda sc: [] if SERVERS[sc.server].available() else [SERVERS[sc.server].binary],
    retries=2, verify_help="skip the tshark cross-check", workdir_prefix="pushscope-h1lab-",
)


def main(argv: list[str] | None = None) -> int:
    return runner.main(LAB, argv)


if __name__ == "__main__":
    sys.exit(main())
