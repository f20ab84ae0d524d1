"""dumpcap on the loopback interface, filtered to one UDP port.

Started and confirmed ready ("Capturing on" on dumpcap's stderr) before any traffic; stopped with SIGTERM and
waited for, so the pcapng is complete.
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


class UdpCapture:
    """``with UdpCapture(path, port): ...`` records ``udp port PORT`` on ``lo`` into ``path``."""

    def __init__(self, out: Path, port: int, interface: str = "lo", ready_timeout: float = 10.0) -> None:
        self.out = Path(out)
        self.port = port
        self.interface = interface
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr_text = ""

    def start(self) -> None:
        exe = shutil.which("dumpcap")
        if exe is None:
            raise CaptureError("dumpcap not found (apt-get install tshark)")
        self.out.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [exe, "-i", self.interface, "-f", f"udp port {self.port}", "-w", str(self.out), "-n"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        assert self.proc.stderr is not None
        fd = self.proc.stderr.fileno()
        deadline = time.monotonic() + self.ready_timeout
        seen = b""
        while b"Capturing on" not in seen:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill()
                raise CaptureError(f"dumpcap did not start capturing: {seen.decode(errors='replace')}")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    self.proc.wait()
                    raise CaptureError(f"dumpcap exited ({self.proc.returncode}): {seen.decode(errors='replace')}")
                seen += chunk
        self.stderr_text = seen.decode(errors="replace")
        time.sleep(0.15)  # "Capturing on" comes right after the handle opens; keep the first Initial inside

    def stop(self, settle: float = 0.2) -> None:
        if self.proc is None:
            return
        time.sleep(settle)  # the last CONNECTION_CLOSE datagrams reach the ring buffer
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                _, err = self.proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
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

    def __enter__(self) -> UdpCapture:
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
