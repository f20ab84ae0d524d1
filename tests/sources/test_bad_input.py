"""``pushscope report`` on bad inputs: each gives a clear diagnostic and no traceback.

The capture is real: nghttpd (self-signed cert made by openssl) on a free 127.0.0.1 port, a small Python
h2-over-TLS client writing its TLS secrets with ``keylog_filename``, and dumpcap recording the loopback port.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import pytest

from pushscope.cli import main

SNI = "pushscope.test"
VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Session:
    capture: Path
    keylog: Path  # the secrets of the captured session
    other_keylog: Path  # the secrets of another session, not in the capture
    port: int
    tls: str


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nghttpd exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nghttpd did not listen on 127.0.0.1:{port}")


def _start_dumpcap(port: int, out: Path) -> subprocess.Popen:
    proc = subprocess.Popen(["dumpcap", "-i", "lo", "-f", f"tcp port {port}", "-w", str(out), "-n", "-q"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    seen = b""
    deadline = time.monotonic() + 15
    while b"Capturing on" not in seen:
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"dumpcap did not start: {seen.decode(errors='replace')}")
        chunk = os.read(proc.stderr.fileno(), 4096)
        if not chunk:
            time.sleep(0.05)
        seen += chunk
    time.sleep(0.2)  # let the capture handle settle so the SYN is recorded
    return proc


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def fetch(port: int, keylog: Path, tls: str = "1.3", path: str = "/") -> dict[int, bytes]:
    """GET ``path`` over TLS+h2 from 127.0.0.1:``port``; returns the bodies by stream (pushes included)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    version = ssl.TLSVersion.TLSv1_3 if tls == "1.3" else ssl.TLSVersion.TLSv1_2
    context.minimum_version = context.maximum_version = version
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    context.keylog_filename = str(keylog)
    bodies: dict[int, bytes] = {}
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=SNI) as tls:
            assert tls.selected_alpn_protocol() == "h2"
            conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
            conn.initiate_connection()
            conn.send_headers(1, [(":method", "GET"), (":scheme", "https"), (":authority", SNI), (":path", path)],
                              end_stream=True)
            tls.sendall(conn.data_to_send())
            open_streams = {1}
            while open_streams:
                data = tls.recv(65536)
                if not data:
                    break
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.PushedStreamReceived):
                        open_streams.add(event.pushed_stream_id)
                    elif isinstance(event, h2.events.DataReceived):
                        bodies[event.stream_id] = bodies.get(event.stream_id, b"") + event.data
                        conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                        open_streams.discard(event.stream_id)
                tls.sendall(conn.data_to_send())
            conn.close_connection()
            tls.sendall(conn.data_to_send())
    return bodies


def record_session(root: Path, tls: str) -> Session:
    for tool in ("nghttpd", "dumpcap", "openssl"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "2", "-subj", "/CN=pushscope.test", "-addext", "subjectAltName=DNS:pushscope.test",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    docs = root / "htdocs"
    docs.mkdir()
    (docs / "index.html").write_text('<!doctype html><link rel="stylesheet" href="/style.css"><p>hello</p>\n')
    (docs / "style.css").write_text("p { color: teal }\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(["nghttpd", "-a", "127.0.0.1", "-d", str(docs), "-p/=/style.css", str(port),
                               str(key), str(cert)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    capture, keylog, other = root / "session.pcapng", root / "session.keys", root / "other.keys"
    try:
        _wait_for_port(port, server)
        fetch(port, other, tls)  # another session, before the capture starts: its keys are the "wrong" key log
        dumpcap = _start_dumpcap(port, capture)
        try:
            bodies = fetch(port, keylog, tls)
            time.sleep(0.3)  # let the FIN/ACKs reach the capture
        finally:
            _stop(dumpcap, signal.SIGINT)
    finally:
        _stop(server)
    assert b"hello" in bodies[1] and b"teal" in bodies[2]
    assert capture.stat().st_size > 0 and keylog.read_text().strip() and other.read_text().strip()
    return Session(capture, keylog, other, port, tls)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    """A TLS 1.3 session, as browsers and servers negotiate today."""
    return record_session(tmp_path_factory.mktemp("tls13"), "1.3")


@pytest.fixture(scope="module")
def session12(tmp_path_factory: pytest.TempPathFactory) -> Session:
    return record_session(tmp_path_factory.mktemp("tls12"), "1.2")


def any_session(request: pytest.FixtureRequest, name: str) -> Session:
    return request.getfixturevalue(name)


def report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["report", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out + err


@pytest.fixture(autouse=True)
def no_env_keylog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)


def _truncate_in_last_packet(source: Path, target: Path) -> None:
    """Copy a pcapng, cutting it in the middle of its last Enhanced Packet Block."""
    data = source.read_bytes()
    offset, last_packet = 0, None
    while offset + 12 <= len(data):
        block_type, length = struct.unpack_from("<II", data, offset)
        if length < 12:
            break
        if block_type == 6:
            last_packet = (offset, length)
        offset += length
    assert last_packet is not None, "no Enhanced Packet Block"
    start, length = last_packet
    target.write_bytes(data[: start + length // 2])


# --- the tests ----------------------------------------------------------------------------------------------


@pytest.mark.servers
def test_control_with_the_right_key_log_decrypts(session: Session, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = report(capsys, str(session.capture), "--keylog", str(session.keylog))
    assert code == 0
    assert "not decrypted" not in out
    assert f"https://{SNI}/style.css" in out and "h2" in out


@pytest.mark.servers
@pytest.mark.parametrize("name", ["session", "session12"])
def test_capture_without_key_log_still_lists_the_connection(name: str, request: pytest.FixtureRequest,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    session = request.getfixturevalue(name)
    code, out = report(capsys, str(session.capture), "--no-keylog")
    assert code == 3  # nothing decoded
    connection = next(line for line in out.splitlines() if f"-> 127.0.0.1:{session.port}" in line)
    assert f"SNI={SNI}" in connection and f"TLS {session.tls}" in connection
    sent = re.search(r"sent c/s=([\d.]+) (B|KiB)/([\d.]+) (B|KiB)", connection)
    assert sent and float(sent[1]) > 0 and float(sent[3]) > 0, connection  # bytes counted both ways
    assert "(no PUSH_PROMISE in this capture)" in out


@pytest.mark.servers
@pytest.mark.parametrize("name", ["session", "session12"])
def test_capture_without_key_log_warns(name: str, request: pytest.FixtureRequest,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    session = any_session(request, name)
    code, out = report(capsys, str(session.capture), "--no-keylog")
    assert code == 3
    assert out.startswith("NOTHING DECODED: 1 connection with application data")
    assert "[warning]" in out and "not decrypted" in out and "no key log" in out


@pytest.mark.servers
@pytest.mark.parametrize("name", ["session", "session12"])
def test_wrong_key_log(name: str, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> None:
    session = any_session(request, name)
    code, out = report(capsys, str(session.capture), "--keylog", str(session.other_keylog))
    assert code == 3
    assert out.startswith("NOTHING DECODED")
    assert "not decrypted" in out and "no secret for client random" in out


@pytest.mark.servers
def test_key_log_that_does_not_exist(session: Session, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "keys.txt"
    code, out = report(capsys, str(session.capture), "--keylog", str(missing))
    assert out == f"pushscope report: key log (from --keylog) {missing} does not exist\n"  # stderr only
    assert code == 2


@pytest.mark.servers
def test_key_log_from_environment_that_does_not_exist(session: Session, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "env-keys.txt"
    monkeypatch.setenv("SSLKEYLOGFILE", str(missing))
    alone = tmp_path / "alone.pcapng"  # no key log beside it, so $SSLKEYLOGFILE is the one used
    shutil.copy(session.capture, alone)
    code, out = report(capsys, str(alone))
    assert out == f"pushscope report: key log (from SSLKEYLOGFILE) {missing} does not exist\n"
    assert code == 2


@pytest.mark.servers
def test_key_log_beside_the_capture_is_found(session: Session, capsys: pytest.CaptureFixture[str]) -> None:
    assert session.keylog == session.capture.with_suffix(".keys")
    code, out = report(capsys, str(session.capture))
    assert code == 0 and "not decrypted" not in out and f"https://{SNI}/style.css" in out


@pytest.mark.servers
def test_file_that_is_not_a_key_log(session: Session, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("these are my notes\nnot secrets at all\n")
    code, out = report(capsys, str(session.capture), "--keylog", str(bogus))
    assert "not an NSS key log" in out and str(bogus) in out
    assert code == 2 and "Connections" not in out  # an error before any report


@pytest.mark.servers
def test_truncated_capture(session: Session, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcapng"
    _truncate_in_last_packet(session.capture, cut)
    code, out = report(capsys, str(cut), "--keylog", str(session.keylog))
    assert code == 0
    assert "truncated" in out and "[warning]" in out
    exchanges = out.split("Exchanges", 1)[1].split("Pushes", 1)[0].splitlines()
    page = [line for line in exchanges if line.endswith(f"https://{SNI}/")]
    assert page and " GET " in page[0] and " 200 " in page[0]
    assert any(line.endswith(f"https://{SNI}/style.css") for line in exchanges)


def test_file_that_is_not_a_capture(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bogus = tmp_path / "page.html"
    bogus.write_text("<!doctype html><p>this is not a capture</p>\n" * 20)
    code, out = report(capsys, str(bogus))
    assert "not a capture file" in out and str(bogus) in out
    assert code == 2


def test_missing_capture_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.pcapng"
    code, out = report(capsys, str(missing))
    assert f"capture file {missing} does not exist" in out
    assert code == 2


def test_missing_capture_file_from_the_command_line(tmp_path: Path) -> None:
    exe = VENV_BIN / "pushscope"
    if not exe.exists():
        pytest.skip("the pushscope console script is not installed")
    missing = tmp_path / "missing.pcapng"
    run = subprocess.run([str(exe), "report", str(missing)], capture_output=True, text=True, timeout=60,
                         env={k: v for k, v in os.environ.items() if k != "SSLKEYLOGFILE"})
    assert "Traceback" not in run.stdout + run.stderr
    assert "does not exist" in run.stdout + run.stderr
    assert run.returncode == 2
