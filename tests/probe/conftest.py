"""Real push servers on loopback for the probe tests, from the capture lab (``captures/lab``, ``captures/h3lab``):
nginx, h2o, apache2 (mod_http2) and nghttpd with the lab's configurations, the lab's aioquic HTTP/3 server in a
subprocess, the lab's site and certificate, and dumpcap on ``lo``. Each server runs from its own temporary
directory on a free port and is stopped by its PID.
"""

from __future__ import annotations

import contextlib
import select
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
if str(CAPTURES) not in sys.path:
    sys.path.insert(0, str(CAPTURES))

from lab import certs, site  # noqa: E402
from lab.capture import Capture, CaptureError, free_port, stop_process  # noqa: E402
from lab.servers import SERVERS, Server, ServerError  # noqa: E402


class H3Server:
    """``captures/h3lab/server.py`` as a script in a subprocess, stopped by its PID."""

    def __init__(self, workdir: Path, cert: certs.CertPair, port: int, push_delay: float = 0.0) -> None:
        self.workdir, self.cert, self.port, self.push_delay = workdir, cert, port, push_delay
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/index.html"

    def start(self) -> H3Server:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.workdir / "h3.log"
        with log.open("wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "h3lab.server", "--port", str(self.port), "--cert", str(self.cert.cert),
                 "--key", str(self.cert.key), "--push-delay", str(self.push_delay)],
                cwd=CAPTURES, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        if b"ready" not in (self.proc.stdout.readline() if ready else b""):
            self.stop()
            raise ServerError(f"h3 server did not start: {log.read_text()}")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=5)
        self.proc = None


@pytest.fixture(scope="session")
def lab() -> Iterator[dict[str, Path | certs.CertPair]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    # not under pytest's 0700 tmp root: apache's workers (user nobody) must read the site
    base = Path(tempfile.mkdtemp(prefix="pushscope-probe-lab-"))
    base.chmod(0o755)
    try:
        yield {"base": base, "cert": certs.make_cert(base / "cert"), "docroot": site.write_site(base / "site")}
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def start_server(lab: dict, tmp_path: Path) -> Iterator[Callable[..., Server | H3Server]]:
    """``start_server(kind, tls=, alt_svc_port=, push_delay=)``: a running server with ``.port`` and ``.url``."""
    started: list[Server | H3Server] = []
    tmp_path.chmod(0o755)

    def start(kind: str, *, tls: bool = True, alt_svc_port: int | None = None,
              push_delay: float = 0.0) -> Server | H3Server:
        if kind == "h3":
            port = free_port(transport="udp")
            h3 = H3Server(tmp_path / f"h3-{port}", lab["cert"], port, push_delay)
            started.append(h3)
            return h3.start()
        server_cls = SERVERS[kind]
        if server_cls.available() is None:
            pytest.skip(f"{server_cls.binary} is not installed")
        options: dict[str, object] = {}
        if alt_svc_port is not None:
            options["alt_svc"] = f'h3=":{alt_svc_port}"; ma=60'
        if kind == "apache" and not tls:
            options["mpm"] = "worker"  # an upgraded h2c connection survives going idle (see lab.servers.Apache)
        port = free_port()
        server = server_cls(workdir=tmp_path / f"{kind}-{port}", docroot=lab["docroot"],
                            cert=lab["cert"] if tls else None, port=port, tls=tls, options=options)
        started.append(server)
        server.start()
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def dumpcap(tmp_path: Path) -> Iterator[Callable[..., Capture]]:
    """``dumpcap(name, port, transport="tcp")``: a running lab capture of that port into ``tmp_path/NAME.pcapng``."""
    if shutil.which("dumpcap") is None:
        pytest.skip("dumpcap is not installed")
    running: list[Capture] = []

    def start(name: str, port: int, transport: str = "tcp") -> Capture:
        capture = Capture(tmp_path / f"{name}.pcapng", port, transport=transport)
        running.append(capture)
        capture.start()
        return capture

    yield start
    for capture in running:
        with contextlib.suppress(CaptureError):
            capture.stop(settle=0.0)
