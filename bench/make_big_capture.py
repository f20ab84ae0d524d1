#!/usr/bin/env python3
"""Make a large HTTP/2-over-TLS capture with server push, from a real server on loopback.

    bench/make_big_capture.py [--connections 2000] [--streams-per-connection 10] [--out bench/out/big.pcapng]

What it does, all in a fresh temp dir and only on 127.0.0.1:

* makes a throw-away self-signed certificate with the openssl CLI and a small site (``index.html`` that links
  ``/style.css``, ``/app.js`` and the ``/r/N.txt`` resources; ``/unused.js`` is linked nowhere);
* starts ``nghttpd`` on a free port, configured to push ``/style.css``, ``/app.js`` and ``/unused.js`` with
  ``/index.html``;
* starts ``dumpcap -i lo -f 'tcp port PORT' -B 64`` and waits for "Capturing on";
* runs a client written with the ``h2`` library over ``ssl`` (TLS 1.3, ``SSLContext.keylog_filename`` writes the
  key log beside the capture as ``big.keys``): N connections, several at a time on threads. Each connection asks
  for ``/index.html`` (the server pushes three resources with it), accepts the pushes, then asks for the other
  M-1 resources at once, reads every stream to its end, sends GOAWAY and closes TLS and TCP cleanly;
* stops dumpcap with SIGTERM, waits for it, and prints the capture's size, packet count (capinfos) and the time.
"""

from __future__ import annotations

import argparse
import os
import random
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import h2.config
import h2.connection
import h2.events

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "out" / "big.pcapng"
PUSHED = ["/style.css", "/app.js", "/unused.js"]
HOST = "127.0.0.1"


# --------------------------------------------------------------------------------------------------- site

def make_site(docroot: Path, resources: int, seed: int = 7) -> list[str]:
    """Write the site; return the paths the client asks for after /index.html (``/r/1.txt`` ...)."""
    rng = random.Random(seed)
    (docroot / "r").mkdir(parents=True, exist_ok=True)
    paths = [f"/r/{i}.txt" for i in range(1, resources + 1)]
    links = "\n".join(f'    <img src="{p}" alt="">' for p in paths)
    (docroot / "index.html").write_text(
        "<!doctype html>\n<html><head><title>pushscope bench</title>\n"
        '  <link rel="stylesheet" href="/style.css">\n  <script src="/app.js" defer></script>\n'
        f"</head><body>\n  <h1>bench page</h1>\n{links}\n</body></html>\n",
        encoding="utf-8",
    )
    (docroot / "style.css").write_text("body { font-family: sans-serif; }\n" + "/* pad */\n" * 80, encoding="utf-8")
    (docroot / "app.js").write_text("console.log('app');\n" + "// pad\n" * 150, encoding="utf-8")
    (docroot / "unused.js").write_text("console.log('never used');\n" + "// pad\n" * 100, encoding="utf-8")
    for p in paths:
        size = rng.randint(200, 1500)
        (docroot / p.lstrip("/")).write_text(("resource " + p + "\n") * (size // 20 + 1), encoding="utf-8")
    return paths


def make_cert(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-days", "2", "-subj", "/CN=127.0.0.1/O=pushscope bench",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {HOST}:{port} within {timeout}s")


@contextmanager
def nghttpd(port: int, docroot: Path, cert: Path, key: Path, workers: int) -> Iterator[subprocess.Popen[bytes]]:
    exe = shutil.which("nghttpd")
    if exe is None:
        raise SystemExit("error: nghttpd not found (apt-get install nghttp2-server)")
    command = [exe, "-a", HOST, "-d", str(docroot), "-n", str(workers),
               f"-p/index.html={','.join(PUSHED)}", str(port), str(key), str(cert)]
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, proc)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Dumpcap:
    out: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    stderr: str = ""

    def start(self, timeout: float = 10.0) -> None:
        exe = shutil.which("dumpcap")
        if exe is None:
            raise SystemExit("error: dumpcap not found (apt-get install tshark)")
        if self.out.exists():
            self.out.unlink()
        self.proc = subprocess.Popen(
            [exe, "-i", "lo", "-f", f"tcp port {self.port}", "-B", "64", "-n", "-w", str(self.out)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        assert self.proc.stderr is not None
        fd = self.proc.stderr.fileno()
        buf = b""
        deadline = time.monotonic() + timeout
        while b"Capturing on" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise RuntimeError(f"dumpcap did not start: {buf.decode(errors='replace')}")
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 4096)
                if not chunk:
                    self.proc.wait()
                    raise RuntimeError(f"dumpcap exited ({self.proc.returncode}): {buf.decode(errors='replace')}")
                buf += chunk
        self.stderr = buf.decode(errors="replace")
        time.sleep(0.2)  # the first SYN must land inside the capture

    def stop(self) -> None:
        if self.proc is None:
            return
        time.sleep(0.5)  # let the last FIN/ACKs through
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=60)
        self.stderr += (err or b"").decode(errors="replace")
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


# --------------------------------------------------------------------------------------------------- client

@dataclass
class Totals:
    lock: threading.Lock = field(default_factory=threading.Lock)
    connections: int = 0
    requests: int = 0
    pushes: int = 0
    responses: int = 0
    body_bytes: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, requests: int, pushes: int, responses: int, body: int) -> None:
        with self.lock:
            self.connections += 1
            self.requests += requests
            self.pushes += pushes
            self.responses += responses
            self.body_bytes += body


def client_context(keylog: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # our own throw-away certificate, loopback only
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_alpn_protocols(["h2"])
    ctx.keylog_filename = str(keylog)
    return ctx


def _client_socket(port: int, client_port: int) -> socket.socket:
    """A TCP connection to the server, from ``client_port`` when one is given (0: any). A fixed port that an earlier
    connection still holds in TIME_WAIT (a run a moment before, or another program's connection that the kernel gave
    it) is bound anyway (SO_REUSEADDR): the new connection has another peer, so nothing is mistaken for the old."""
    if not client_port:
        return socket.create_connection((HOST, port), timeout=30)
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        raw.settimeout(30)
        raw.bind((HOST, client_port))
        raw.connect((HOST, port))
    except BaseException:
        raw.close()
        raise
    return raw


def one_connection(ctx: ssl.SSLContext, port: int, paths: list[str], totals: Totals,
                   client_port: int = 0) -> None:
    authority = f"{HOST}:{port}"
    raw = _client_socket(port, client_port)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock = ctx.wrap_socket(raw, server_hostname=HOST)
    try:
        if sock.selected_alpn_protocol() != "h2":
            raise RuntimeError(f"ALPN gave {sock.selected_alpn_protocol()!r}, not h2")
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        conn.initiate_connection()
        open_streams: set[int] = set()
        counts = {"requests": 0, "pushes": 0, "responses": 0, "body": 0}

        def request(path: str) -> int:
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, [(":method", "GET"), (":scheme", "https"), (":authority", authority),
                                    (":path", path), ("user-agent", "pushscope-bench/1"),
                                    ("accept", "*/*")], end_stream=True)
            open_streams.add(sid)
            counts["requests"] += 1
            return sid

        def pump() -> None:
            """Read until every open stream (requests and pushes) has ended."""
            while open_streams:
                data = sock.recv(65536)
                if not data:
                    raise RuntimeError(f"server closed with {len(open_streams)} streams open")
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.PushedStreamReceived):
                        open_streams.add(event.pushed_stream_id)
                        counts["pushes"] += 1
                    elif isinstance(event, h2.events.ResponseReceived):
                        counts["responses"] += 1
                    elif isinstance(event, h2.events.DataReceived):
                        counts["body"] += len(event.data)
                        conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    elif isinstance(event, h2.events.StreamEnded | h2.events.StreamReset):
                        open_streams.discard(event.stream_id)
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        raise RuntimeError(f"GOAWAY from server: {event.error_code}")
                out = conn.data_to_send()
                if out:
                    sock.sendall(out)

        request("/index.html")
        sock.sendall(conn.data_to_send())
        pump()  # the page and its pushes, as a browser would have them before it parses the page
        for path in paths:
            request(path)
        sock.sendall(conn.data_to_send())
        pump()
        conn.close_connection()
        sock.sendall(conn.data_to_send())
        totals.add(counts["requests"], counts["pushes"], counts["responses"], counts["body"])
        try:
            sock.settimeout(2)
            sock.unwrap()  # TLS close_notify, both ways
        except (OSError, ssl.SSLError):
            pass
    finally:
        sock.close()


def run_clients(port: int, connections: int, paths: list[str], keylog: Path, concurrency: int,
                client_port: int = 0) -> Totals:
    ctx = client_context(keylog)
    totals = Totals()

    def task(index: int) -> None:
        try:
            # The first connection may come from a chosen port (one tshark assigns to another protocol).
            one_connection(ctx, port, paths, totals, client_port if index == 0 else 0)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            with totals.lock:
                totals.errors.append(f"{type(exc).__name__}: {exc}")

    done = 0
    step = max(1, connections // 10)
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for _ in pool.map(task, range(connections)):
            done += 1
            if done % step == 0:
                print(f"  {done}/{connections} connections", file=sys.stderr, flush=True)
    return totals


# --------------------------------------------------------------------------------------------------- main

def capinfos(path: Path) -> dict[str, str]:
    exe = shutil.which("capinfos")
    if exe is None:
        return {}
    result = subprocess.run([exe, "-M", "-c", "-d", "-u", str(path)], capture_output=True, text=True)
    info = {}
    for line in result.stdout.splitlines():
        if ":" in line:
            name, _, value = line.partition(":")
            info[name.strip()] = value.strip()
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--streams-per-connection", type=int, default=10,
                        help="requests per connection: /index.html plus M-1 others (pushes come on top)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--keys", type=Path, help="key log path (default: OUT with .keys)")
    parser.add_argument("--concurrency", type=int, default=16, help="connections open at once (threads)")
    parser.add_argument("--workers", type=int, default=2, help="nghttpd worker threads")
    parser.add_argument("--client-port", type=int, default=0,
                        help="the first connection's client port (default: any), e.g. 44818 (EtherNet/IP to tshark)")
    args = parser.parse_args(argv)
    if args.connections < 1 or args.streams_per_connection < 1:
        parser.error("--connections and --streams-per-connection must be at least 1")
    for tool in ("openssl", "nghttpd", "dumpcap"):
        if shutil.which(tool) is None:
            print(f"error: {tool} not found", file=sys.stderr)
            return 1

    out: Path = args.out.resolve()
    keys: Path = (args.keys or out.with_suffix(".keys")).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    keys.parent.mkdir(parents=True, exist_ok=True)
    if keys.exists():
        keys.unlink()

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pushscope-bench-") as tmp:
        tmpdir = Path(tmp)
        docroot = tmpdir / "htdocs"
        docroot.mkdir()
        paths = make_site(docroot, args.streams_per_connection - 1)
        cert, key = make_cert(tmpdir)
        port = free_port()
        print(f"nghttpd on {HOST}:{port}, {args.connections} connections x {args.streams_per_connection} "
              f"requests (+{len(PUSHED)} pushes each), {args.concurrency} at a time", file=sys.stderr)
        with nghttpd(port, docroot, cert, key, args.workers):
            cap = Dumpcap(out, port)
            cap.start()
            try:
                t0 = time.monotonic()
                totals = run_clients(port, args.connections, paths, keys, args.concurrency, args.client_port)
                client_seconds = time.monotonic() - t0
            finally:
                cap.stop()
    elapsed = time.monotonic() - started

    info = capinfos(out)
    size = out.stat().st_size
    dropped = [line.strip() for line in cap.stderr.splitlines() if "dropped" in line.lower()]
    print(f"capture:      {out}")
    print(f"key log:      {keys} ({sum(1 for _ in keys.open())} lines)")
    print(f"size:         {size / 1048576:.1f} MiB ({size} bytes)")
    print(f"packets:      {info.get('Number of packets', '?')}")
    print(f"connections:  {totals.connections} ok, {len(totals.errors)} failed")
    print(f"requests:     {totals.requests}, responses {totals.responses} (pushes included), "
          f"pushes {totals.pushes}, body {totals.body_bytes} bytes")
    print(f"client time:  {client_seconds:.1f} s ({totals.connections / client_seconds:.0f} connections/s)")
    print(f"total time:   {elapsed:.1f} s")
    for line in dropped:
        print(f"dumpcap:      {line}")
    if totals.errors:
        print("first errors: " + "; ".join(totals.errors[:5]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
