"""A throw-away self-signed certificate for 127.0.0.1 / ::1 / localhost (made with the openssl CLI)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path


def make_cert(directory: Path, days: int = 30) -> CertPair:
    """Create ``cert.pem``/``key.pem`` (ECDSA P-256, SAN 127.0.0.1, ::1, localhost) in ``directory``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl binary not found (apt-get install openssl)")
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", str(days), "-subj", "/CN=127.0.0.1/O=pushscope lab",
         "-addext", "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost",
         "-addext", "basicConstraints=critical,CA:FALSE",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    cert.chmod(0o644)
    key.chmod(0o600)
    return CertPair(cert=cert, key=key)
