from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import probe_lab as servers  # noqa: E402


@pytest.fixture(scope="session")
def lab() -> Iterator[dict[str, Path | servers.Cert]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    # not under pytest's 0700 tmp root: apache's workers (user nobody) must read the site
    base = Path(tempfile.mkdtemp(prefix="pushscope-probe-lab-"))
    base.chmod(0o755)
    try:
        yield {"base": base, "cert": servers.make_cert(base / "cert"), "docroot": servers.write_site(base / "site")}
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def start_server(lab: dict, tmp_path: Path) -> Iterator[Callable[..., servers.Server]]:
    started: list[servers.Server | servers.H3Server] = []
    tmp_path.chmod(0o755)

    def start(kind: str, *, tls: bool = True, alt_svc_port: int | None = None, port: int | None = None,
              push_delay: float = 0.0) -> servers.Server:
        port = port or servers.free_port()
        if kind == "h3":
            h3 = servers.H3Server(tmp_path / f"h3-{port}", lab["docroot"], lab["cert"], port, push_delay).start()
            started.append(h3)
            return h3  # type: ignore[return-value]
        if not servers.available(kind):
            pytest.skip(f"{kind} is not installed")
        server = servers.Server(kind, tmp_path / f"{kind}-{port}", lab["docroot"], lab["cert"] if tls else None,
                                port, tls, alt_svc_port)
        started.append(server.start())
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def dumpcap(tmp_path: Path) -> Iterator[Callable[[str, str], servers.Dumpcap]]:
    if shutil.which("dumpcap") is None:
        pytest.skip("dumpcap is not installed")
    running: list[servers.Dumpcap] = []

    def start(name: str, capture_filter: str) -> servers.Dumpcap:
        capture = servers.Dumpcap(tmp_path / f"{name}.pcapng", capture_filter).start()
        running.append(capture)
        return capture

    yield start
    for capture in running:
        capture.stop()
