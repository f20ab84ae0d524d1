"""A small HTTP/1.1 client for the capture lab: keep-alive, pipelined batches, TLS with a key log.

It writes its own ground truth (every request's method, URL, status and body bytes as it read them), parsing
responses itself, independently of pushscope's decoder. A connection runs a list of batches; the requests of
one batch are written in a single send (pipelined) and their responses are read in order.
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

Request = tuple[str, str, tuple[tuple[str, str], ...]]  # method, path, extra header fields
Batch = tuple[Request, ...]


@dataclass(frozen=True)
class H1Options:
    tls: bool = True
    # One entry per connection, each a tuple of batches.
    connections: tuple[tuple[Batch, ...], ...] = ()
    revalidate: bool = False  # send If-None-Match with the ETag a previous response gave for the same path


class _Reader:
    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buffer = sock, bytearray()

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buffer += data
        return bool(data)

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError("connection closed in a line")
        end = self.buffer.index(b"\r\n")
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 2]
        return line

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self._fill():
                raise ConnectionError("connection closed in a body")
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def until_close(self) -> bytes:
        while self._fill():
            pass
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def _read_response(reader: _Reader, method: str) -> tuple[int, dict[str, str], int, bool]:
    """(status, fields, body bytes after chunk framing is removed, chunked) of the next final response."""
    while True:
        status = int(reader.line().split(b" ")[1])
        fields: dict[str, str] = {}
        while line := reader.line():
            name, _, value = line.decode("latin-1").partition(":")
            fields[name.strip().lower()] = value.strip()
        if not 100 <= status < 200:
            break
    if method == "HEAD" or status in (204, 304):
        return status, fields, 0, False
    if "chunked" in fields.get("transfer-encoding", "").lower():
        total = 0
        while size := int(reader.line().split(b";")[0], 16):
            total += len(reader.exactly(size))
            reader.line()
        while reader.line():
            pass  # trailer fields
        return status, fields, total, True
    if "content-length" in fields:
        return status, fields, len(reader.exactly(int(fields["content-length"]))), False
    return status, fields, len(reader.until_close()), False


def run_h1_client(host: str, port: int, options: H1Options, keylog: Path | None) -> dict:
    scheme = "https" if options.tls else "http"
    authority = f"{host}:{port}"
    t0 = time.time()
    connections, requests = [], []
    etags: dict[str, str] = {}
    for index, batches in enumerate(options.connections):
        sock = socket.create_connection((host, port), timeout=10)
        alpn = None
        if options.tls:
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            context.set_alpn_protocols(["http/1.1"])
            if keylog is not None:
                context.keylog_filename = str(keylog)
            sock = context.wrap_socket(sock, server_hostname="localhost")
            alpn = sock.selected_alpn_protocol()
        client_port = sock.getsockname()[1]
        connections.append({"index": index, "client_port": client_port, "alpn": alpn, "errors": []})
        reader = _Reader(sock)
        for batch in batches:
            wire = b""
            for method, path, extra in batch:
                fields = [("Host", authority), ("User-Agent", "pushscope-lab-h1client/0.1"), *extra]
                if options.revalidate and path in etags:
                    fields.append(("If-None-Match", etags[path]))
                wire += f"{method} {path} HTTP/1.1\r\n".encode() + b"".join(
                    f"{k}: {v}\r\n".encode() for k, v in fields) + b"\r\n"
            sock.sendall(wire)
            for method, path, _ in batch:
                status, fields_in, body, chunked = _read_response(reader, method)
                if "etag" in fields_in:
                    etags[path] = fields_in["etag"]
                requests.append({"connection_index": index, "client_port": client_port, "method": method,
                                 "url": f"{scheme}://{authority}{path}", "status": status, "body_bytes": body,
                                 "chunked": chunked, "pipelined": len(batch) > 1,
                                 "content_encoding": fields_in.get("content-encoding")})
        sock.close()
    return {"tls": "1.3" if options.tls else None, "transport": "tls" if options.tls else "tcp",
            "client_t0_epoch": t0, "connections": connections, "requests": requests, "pushes": []}
