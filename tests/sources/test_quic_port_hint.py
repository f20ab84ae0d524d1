"""QUIC on a port tshark did not decode is named in a diagnostic with the --quic-port to use."""

from __future__ import annotations

from pushscope.sources.capture_file import _undecoded_quic_diagnostics
from pushscope.sources.row_dispatch import note_undecoded_quic


def _row(payload: str, src: int, dst: int) -> dict[str, str]:
    return {"data.data": payload, "udp.srcport": str(src), "udp.dstport": str(dst), "udp.stream": "0"}


def test_quic_long_header_on_an_undecoded_port_is_reported() -> None:
    ports: dict[int, int] = {}
    initial_v1 = "c3" + "00000001" + "08" + "00" * 20
    for _ in range(3):
        note_undecoded_quic(_row(initial_v1, 51000, 7443), ports)
    note_undecoded_quic(_row("c3" + "00000001" + "00" * 8, 7443, 51000), ports)
    note_undecoded_quic(_row("0a0b0c0d0e0f", 53, 40000), ports)  # DNS-like: not QUIC
    [diagnostic] = list(_undecoded_quic_diagnostics(ports, forced=[]))
    assert "--quic-port 7443" in diagnostic.message and diagnostic.code == "quic-port"
    assert not list(_undecoded_quic_diagnostics(ports, forced=[7443, 51000]))
