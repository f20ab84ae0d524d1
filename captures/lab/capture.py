"""dumpcap on the loopback interface, filtered to one TCP (HTTP/2 lab) or UDP (HTTP/3 lab) port.

The capture is started and confirmed ready ("Capturing on ..." on dumpcap's stderr)
before any traffic, and stopped with SIGINT (then waited for) so the pcapng is complete.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path


class CaptureError(RuntimeError):
    pass


def dumpcap_path() -> str | None:
    return shutil.which("dumpcap")


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
                self.proc.terminate()
                _, err = self.proc.communicate(timeout=5)
            self.stderr_text += (err or b"").decode(errors="replace")
        self.proc = None
        if not self.out.exists() or self.out.stat().st_size == 0:
            raise CaptureError(f"dumpcap wrote no capture to {self.out}: {self.stderr_text}")

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
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


def cut_before(pcap: Path, cut_at: float) -> None:
    """Keep only the packets from ``cut_at`` (epoch seconds) on, in place (editcap -r on frame numbers): the
    capture then starts with the connection already established."""
    times = subprocess.run(["tshark", "-n", "-r", str(pcap), "-T", "fields", "-e", "frame.time_epoch"],
                           capture_output=True, text=True, check=True).stdout.split()
    first = next((number for number, at in enumerate(times, start=1) if float(at) >= cut_at), None)
    if first is None or first == 1:
        raise CaptureError(f"no quiet moment to cut the capture at ({first=})")
    cut = pcap.with_suffix(".cut.pcapng")
    subprocess.run(["editcap", "-r", str(pcap), str(cut), f"{first}-{len(times)}"], check=True)
    cut.replace(pcap)


def pushes_unknown_after_cut(truth: dict, cut_at: float) -> dict:
    """The truth a capture cut at ``cut_at`` can support: its connection began before the capture, so what the
    client held may have come from traffic that is not in it, and every push's verdict can only be unknown
    (as lab/cut.py says for a capture cut after a load). The client's own outcome is kept beside it."""
    from lab.cut import CUT_REASON

    truth = dict(truth)
    truth["cut"] = {"tool": "editcap -r", "start_epoch": round(cut_at, 6),
                    "why": "the capture starts after the handshake: pushscope decrypts it by trying the key log's "
                           "secrets, but what the connection carried before is not in the capture"}
    truth["pushes"] = [{**push, "client_outcome": push["outcome"], "client_reason": push["reason"],
                        "outcome": "unknown", "reason": CUT_REASON} for push in truth["pushes"]]
    return truth
