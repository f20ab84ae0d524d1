"""Running tshark and streaming its rows: the only place that knows tshark's command line and output.

One pass with ``-T fields`` (the fast path: ~50x faster than iterating pyshark's packet objects): TCP and TLS facts per
frame, the decrypted TLS payload handed to tshark's ``data`` dissector (we switch its own HTTP/2 and HTTP
dissectors off so the bytes reach us), and the QUIC stream fields the HTTP/3 reader asks for.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

# The names a server certificate is valid for: subjectAltName DNS names and IP addresses (decrypted handshake).
CERTIFICATE_FIELDS = ["x509ce.dNSName", "x509ce.IPAddress.ipv4", "x509ce.IPAddress.ipv6"]
TLS_CERTIFICATE = "11"


def certificate_names(row: Mapping[str, str]) -> tuple[str, ...] | None:
    """The subjectAltNames of a server's Certificate message in this row, if it carries one.

    With several certificates in the chain the names of all are taken: CA certificates rarely carry any, and
    a union can only make fewer pushes look unauthorised, never more.
    """
    if TLS_CERTIFICATE not in row.get("tls.handshake.type", "").split(","):
        return None
    names = [name for field in CERTIFICATE_FIELDS for name in row.get(field, "").split(",") if name]
    return tuple(dict.fromkeys(names)) or None


TCP_FIELDS = [
    "frame.number",
    "frame.time_epoch",
    "ip.src",
    "ipv6.src",
    "ip.dst",
    "ipv6.dst",
    "tcp.stream",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags.syn",
    "tcp.flags.ack",
    "tcp.flags.fin",
    "tcp.flags.reset",
    "tcp.seq",
    "tcp.len",
    "tls.handshake.type",
    "tls.handshake.random",
    "tls.handshake.version",
    "tls.handshake.extensions.supported_version",
    "tls.handshake.extensions_server_name",
    "tls.handshake.extensions_alpn_str",
    *CERTIFICATE_FIELDS,
    "tls.record.content_type",
    "tls.record.opaque_type",
    "data.data",
    "udp.stream",
]

# The payload must reach the generic data dissector: with these on, tshark would consume it itself.
DISABLED_PROTOCOLS = ["http2", "http"]
ROOT_WARNING = 'Running as user "root"'


class TsharkNotFound(RuntimeError):
    pass


def tshark_install_places() -> list[str]:
    """Where Wireshark's installers put tshark when it is not on PATH: the macOS app bundle, Program Files."""
    places = ["/Applications/Wireshark.app/Contents/MacOS/tshark"]
    for variable in ("ProgramFiles", "ProgramFiles(x86)"):
        root = os.environ.get(variable)
        if root:
            places.append(os.path.join(root, "Wireshark", "tshark.exe"))
    return places


def find_tshark() -> str:
    """tshark on PATH, else where Wireshark installs it (what pyshark searched, without pyshark's config.ini)."""
    path = shutil.which("tshark")
    if path is not None:
        return path
    for place in tshark_install_places():
        if os.path.isfile(place) and os.access(place, os.X_OK):
            return place
    raise TsharkNotFound(
        "tshark is not installed (not on PATH, nor where Wireshark installs it): run the README's set-up "
        "command, or `apt-get install tshark`"
    )


class StdinFeed(Protocol):
    """What writes the capture into tshark's stdin (see ``secrets_feed``), and how far it has come."""

    position: int  # the capture's bytes handed to tshark so far

    def start(self, stdin: IO[Any]) -> None: ...

    def release(self) -> None: ...


@dataclass(slots=True)
class TsharkRun:
    """A running tshark whose rows are read as they come; stderr is collected on a side thread."""

    command: list[str]
    fields: list[str]
    process: subprocess.Popen[str] | None = None
    stderr_lines: list[str] = field(default_factory=list)
    feed: StdinFeed | None = None  # the capture through stdin (the command reads "-"), else the file itself
    _stderr_thread: threading.Thread | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL if self.feed is None else subprocess.PIPE,
            text=True,
            encoding="latin-1",
            bufsize=1 << 16,
        )
        if self.feed is not None:
            assert self.process.stdin is not None
            self.feed.start(self.process.stdin)
        self._stderr_thread = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_thread.start()

    def _drain_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            line = line.rstrip()
            if line and ROOT_WARNING not in line and "could be dangerous" not in line:
                self.stderr_lines.append(line)

    def rows(self) -> Iterator[dict[str, str]]:
        """Each output line as {field: raw text}; several occurrences are joined with ','."""
        assert self.process is not None and self.process.stdout is not None
        names = self.fields
        width = len(names)
        for line in self.process.stdout:
            values = line.rstrip("\n").split("\t")
            if len(values) < width:
                values += [""] * (width - len(values))
            yield dict(zip(names, values, strict=False))

    def wait(self) -> int:
        assert self.process is not None
        code = self.process.wait()
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=5)
        return code

    def stop(self, *, unread: bool = False) -> None:
        """End tshark. ``unread``: nothing will read its rows any more (else the rows it wrote stay readable)."""
        if self.feed is not None:
            self.feed.release()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            # tshark only notes a SIGTERM and acts on it between packets: blocked writing rows nobody reads any
            # more, it would wait forever. With its pipe closed the write fails and it ends.
            if unread and self.process.stdout is not None:
                try:
                    self.process.stdout.close()
                except OSError:
                    pass
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def read_position(self, capture_path: str) -> int | None:
        """How far tshark has read the capture, from /proc (Linux); None where that is not available."""
        if self.process is None:
            return None
        if self.feed is not None:
            return self.feed.position
        fd_dir = Path(f"/proc/{self.process.pid}/fd")
        target = os.path.realpath(capture_path)
        try:
            for fd in fd_dir.iterdir():
                if os.path.realpath(fd) == target:
                    info = Path(f"/proc/{self.process.pid}/fdinfo/{fd.name}").read_text()
                    return int(info.split("pos:", 1)[1].split()[0])
        except (OSError, IndexError, ValueError):
            return None
        return None


def build_command(
    tshark: str,
    capture: str | None,
    fields: Sequence[str],
    *,
    keylog: str | None,
    extra_args: Sequence[str] = (),
    live_interface: str | None = None,
    capture_filter: str | None = None,
    write_to: str | None = None,
) -> list[str]:
    command = [tshark, "-n", "-l"] if live_interface else [tshark, "-n"]
    if live_interface:
        command += ["-i", live_interface]
        if capture_filter:
            command += ["-f", capture_filter]
        if write_to:
            # -P prints the rows while -w writes the packets.
            command += ["-w", write_to, "-P"]
    else:
        assert capture is not None
        command += ["-r", capture]
    # TLS records that span TCP segments are decrypted only when TCP and TLS reassembly are on.
    command += ["-o", "tcp.desegment_tcp_streams:TRUE", "-o", "tls.desegment_ssl_records:TRUE"]
    # Real captures reorder segments; without this tshark cannot decrypt a record whose segments came out of order.
    command += ["-o", "tcp.reassemble_out_of_order:TRUE"]
    # Heuristics (TLS among them) before the port table: otherwise a client whose random port tshark assigns to
    # another protocol (44818 is EtherNet/IP) never reaches the TLS dissector and its connection is lost.
    command += ["-o", "tcp.try_heuristic_first:TRUE"]
    if keylog:
        command += ["-o", f"tls.keylog_file:{keylog}"]
    for protocol in DISABLED_PROTOCOLS:
        command += ["--disable-protocol", protocol]
    command += list(extra_args)
    command += ["-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,",
                "-E", "quote=n"]
    for name in fields:
        command += ["-e", name]
    return command


def client_randoms_in(tshark: str, capture: str, extra_args: Sequence[str] = ()) -> set[str] | None:
    """The client randoms of every ClientHello in the capture (TLS over TCP and QUIC Initials, which tshark
    decrypts without keys): the secrets worth handing tshark. None when tshark fails (then filter nothing)."""
    command = [tshark, "-n", "-r", capture, "-o", "tcp.desegment_tcp_streams:TRUE",
               "-o", "tcp.try_heuristic_first:TRUE", *extra_args, "-Y", "tls.handshake.type == 1",
               "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,", "-e", "tls.handshake.random"]
    randoms: set[str] = set()
    try:
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                              text=True, encoding="latin-1") as process:
            assert process.stdout is not None
            for line in process.stdout:
                randoms.update(value.strip().lower() for value in line.split(",") if value.strip())
            code = process.wait()
    except OSError:
        return None
    return randoms if code == 0 else None
