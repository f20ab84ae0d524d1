"""The one capture helper of the lab: dumpcap on the loopback interface, free ports, key logs, process ownership.

Every lab script records the same way (:func:`record`): the server it started (if any) listens on a free port
(:func:`free_port`, TCP for HTTP/1.1 and HTTP/2, UDP for QUIC), dumpcap records only that port on ``lo``, the
client makes its traffic, then dumpcap and the server are stopped by the PIDs we started (:func:`stop_process`).
The capture is started and confirmed ready ("Capturing on ..." on dumpcap's stderr) before any traffic, and
stopped with SIGINT (then waited for) so the pcapng is complete. :func:`finish_key_log` checks the client's key log.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class CaptureError(RuntimeError):
    pass


def dumpcap_path() -> str | None:
    return shutil.which("dumpcap")


def _port_free(host: str, port: int, transport: str) -> bool:
    kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    if transport == "udp":
        return True
    # a listener on the wildcard address or on another loopback address would also end up in a "tcp port N"
    # capture: make sure nothing answers there either
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) != 0


def free_port(host: str = "127.0.0.1", prefer: tuple[int, ...] = (), transport: str = "tcp") -> int:
    """A currently free TCP (or UDP) port on ``host``: the first free one of ``prefer``, else one the kernel picks."""
    if transport not in ("tcp", "udp"):
        raise ValueError(f"transport must be tcp or udp, not {transport!r}")
    for port in prefer:
        if _port_free(host, port, transport):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def listening(host: str, port: int) -> bool:
    """Whether a TCP socket listens on ``port``, asked of the kernel's socket table (Linux) instead of by connecting:
    a probe connection's close can come after dumpcap started and would show up in the capture as a connection."""
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False
    for table in tables:
        for line in table.read_text().splitlines()[1:] if table.exists() else ():
            fields = line.split()  # sl local_address rem_address st ...; st 0A is LISTEN
            if len(fields) > 3 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Stop a process we started, by its PID (``sig``, then SIGKILL after ``timeout``), and reap it."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def finish_key_log(keys: Path, tls: bool) -> None:
    """Leave ``keys`` as the scenario's key log: an empty file for cleartext, an error if a TLS or QUIC client
    wrote no secrets (the capture could not be decrypted)."""
    if not keys.exists():
        keys.write_text("")
    if tls and keys.stat().st_size == 0:
        raise CaptureError(f"the client wrote no key log to {keys}")


class Capture:
    """``with Capture(path, port): ...`` records ``tcp port PORT and host 127.0.0.1`` on ``lo``
    into ``path``; ``transport="udp"`` records the UDP port instead (QUIC)."""

    def __init__(self, out: Path, port: int, interface: str = "lo", ready_timeout: float = 10.0,
                 host: str = "127.0.0.1", transport: str = "tcp") -> None:
        if transport not in ("tcp", "udp"):
            raise ValueError(f"transport must be tcp or udp, not {transport!r}")
        self.out = Path(out)
        self.port = port
        self.host = host
        self.transport = transport
        self.interface = interface
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr_text = ""

    @property
    def capture_filter(self) -> str:
        return f"{self.transport} port {self.port} and host {self.host}"

    def start(self) -> None:
        exe = dumpcap_path()
        if exe is None:
            raise CaptureError("dumpcap not found (apt-get install wireshark-common / tshark)")
        if self.out.exists():
            self.out.unlink()
        self.proc = subprocess.Popen(
            [exe, "-i", self.interface, "-f", self.capture_filter, "-w", str(self.out), "-n"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        assert self.proc.stderr is not None
        fd = self.proc.stderr.fileno()
        deadline = time.monotonic() + self.ready_timeout
        buf = b""
        while b"Capturing on" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill()
                raise CaptureError(f"dumpcap did not report 'Capturing on' within {self.ready_timeout}s: "
                                   f"{buf.decode(errors='replace')}")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:  # dumpcap exited
                    self.proc.wait()
                    raise CaptureError(f"dumpcap exited ({self.proc.returncode}): {buf.decode(errors='replace')}")
                buf += chunk
        self.stderr_text = buf.decode(errors="replace")
        # dumpcap prints "Capturing on" right after activating the pcap handle; a short grace
        # period keeps the first SYN (or QUIC Initial) safely inside the capture.
        time.sleep(0.15)

    def stop(self, settle: float = 0.2) -> None:
        if self.proc is None:
            return
        # let the last FIN/ACKs (or CONNECTION_CLOSE datagrams) reach the ring buffer before stopping
        time.sleep(settle)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                _, err = self.proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                stop_process(self.proc, signal.SIGTERM, timeout=5)
                err = b""
            self.stderr_text += (err or b"").decode(errors="replace")
        self.proc = None
        if not self.out.exists() or self.out.stat().st_size == 0:
            raise CaptureError(f"dumpcap wrote no capture to {self.out}: {self.stderr_text}")

    def _kill(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, signal.SIGKILL)
        self.proc = None

    def __enter__(self) -> Capture:
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            try:
                self.stop(settle=0.0)
            except CaptureError:
                pass
        else:
            self.stop()


def record(pcap: Path, port: int, make_traffic: Callable[[], T], *,
           server: AbstractContextManager | None = None, transport: str = "tcp") -> T:
    """Start ``server`` (a context manager that starts and stops it, if any), record ``port`` on ``lo`` into
    ``pcap`` while ``make_traffic()`` runs, stop the capture and then the server; what ``make_traffic`` returned."""
    with server if server is not None else nullcontext(), Capture(pcap, port, transport=transport):
        return make_traffic()
