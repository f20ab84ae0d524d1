"""The server certificate's names, read from the decrypted handshake (TLS over TCP and QUIC)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pushscope.pipeline import load_capture
from pushscope.sources.tshark import certificate_names

CAPTURES = Path(__file__).resolve().parents[2] / "captures"


def test_names_from_a_certificate_row() -> None:
    row = {"tls.handshake.type": "2,8,11,15,20", "x509ce.dNSName": "localhost,www.example.test",
           "x509ce.IPAddress.ipv4": "127.0.0.1", "x509ce.IPAddress.ipv6": "::1"}
    assert certificate_names(row) == ("localhost", "www.example.test", "127.0.0.1", "::1")
    assert certificate_names({**row, "tls.handshake.type": "2"}) is None  # no Certificate message
    assert certificate_names({"tls.handshake.type": "11"}) is None  # a certificate without subjectAltName


@pytest.mark.parametrize("name", ["nginx-push-basic", "nginx-preload-twoloads", "h3-push-claimed"])
def test_lab_captures_show_the_lab_certificate(name: str) -> None:
    capture = load_capture(str(CAPTURES / f"{name}.pcapng"), str(CAPTURES / f"{name}.keys"))
    assert [conn.certificate_names for conn in capture.connections.values()] == [("localhost", "127.0.0.1", "::1")]
    assert all(push.reason != "must-refuse" for push in capture.pushes)


def test_cleartext_h2c_has_no_certificate() -> None:
    capture = load_capture(str(CAPTURES / "nghttpd-h2c.pcapng"), None)
    assert all(conn.certificate_names is None for conn in capture.connections.values())
