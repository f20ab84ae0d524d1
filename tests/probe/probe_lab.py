"""Real push servers on loopback for the probe tests: nginx, h2o, apache2 (mod_http2), nghttpd, and an aioquic
HTTP/3 server (``h3_server.py``), each from its own temporary directory, on a free port, stopped by its PID.
Also a self-signed certificate made with openssl, the demo site, and dumpcap on ``lo``.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PUSHED = ("/style.css", "/app.js", "/unused.js")
REFERENCED = ("/style.css", "/app.js", "/logo.png", "/font.woff2")
STATIC_CACHE_CONTROL = "max-age=3600"
HTML_CACHE_CONTROL = "no-cache"
MIME = {".html": "text/html", ".css": "text/css", ".js": "application/javascript", ".png": "image/png",
        ".woff2": "font/woff2"}

INDEX_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>pushscope probe test</title>
<link rel="stylesheet" href="/style.css">
<script src="/app.js" defer></script>
</head>
<body>
<h1>probe test</h1>
<img src="/logo.png" alt="logo" width="8" height="8">
""" + "".join(f"<p>row {i}: lorem ipsum dolor sit amet</p>\n" for i in range(20)) + """</body>
</html>
"""
STYLE_CSS = """@font-face { font-family: "T"; src: url("/font.woff2") format("woff2"); }
body { font-family: "T", sans-serif; }
""" + "".join(f".r{i} {{ padding: {i}px; }}\n" for i in range(30))
APP_JS = "'use strict';\n" + "".join(f"function f{i}(x) {{ return x * {i}; }}\n" for i in range(30))
UNUSED_JS = "'use strict';\n// referenced by nothing\n" + "".join(
    f"function u{i}() {{ return {i}; }}\n" for i in range(30))
FILES = {
    "index.html": INDEX_HTML.encode(),
    "style.css": STYLE_CSS.encode(),
    "app.js": APP_JS.encode(),
    "unused.js": UNUSED_JS.encode(),
    "logo.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2,
    "font.woff2": b"wOF2" + bytes(range(256)) * 3,
}


class ServerError(RuntimeError):
    pass


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free for both TCP and UDP on 127.0.0.1 (h3 and Alt-Svc tests use the same number)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
        with socket.socket(socket.AF_INET, other) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise ServerError("no free port")


def write_site(docroot: Path) -> Path:
    docroot.mkdir(parents=True, exist_ok=True)
    docroot.chmod(0o755)
    for name, data in FILES.items():
        (docroot / name).write_bytes(data)
        (docroot / name).chmod(0o644)
    return docroot


@dataclass(frozen=True)
class Cert:
    cert: Path
    key: Path


def make_cert(directory: Path) -> Cert:
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    cert.chmod(0o644)
    key.chmod(0o644)
    return Cert(cert, key)


@dataclass
class Server:
    kind: str
    workdir: Path
    docroot: Path
    cert: Cert | None
    port: int
    tls: bool = True
    alt_svc_port: int | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/index.html"

    def command(self) -> list[str]:
        return getattr(self, f"_{self.kind}")()

    def start(self, timeout: float = 10.0) -> Server:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o755)
        command = self.command()
        log = (self.workdir / "stdout.log").open("wb")
        self.proc = subprocess.Popen(command, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise ServerError(f"{self.kind} exited ({self.proc.returncode}):\n{self.logs()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(f"{self.kind} did not listen on {self.port}:\n{self.logs()}")
            time.sleep(0.05)
        time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT if self.kind == "nginx" else signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def logs(self) -> str:
        out = []
        for path in sorted(self.workdir.glob("*.log")):
            out.append(f"--- {path.name}\n{path.read_text(errors='replace')[-2000:]}")
        return "\n".join(out)

    # -- configurations ----------------------------------------------------------------------------------
    def _nginx(self) -> list[str]:
        w = self.workdir
        push = "".join(f"      http2_push {p};\n" for p in PUSHED)
        alt = f"      add_header Alt-Svc 'h3=\":{self.alt_svc_port}\"; ma=60' always;\n" if self.alt_svc_port else ""
        if self.tls:
            assert self.cert is not None
            listen = (f"listen 127.0.0.1:{self.port} ssl http2;\n    ssl_certificate {self.cert.cert};\n"
                      f"    ssl_certificate_key {self.cert.key};\n")
        else:
            listen = f"listen 127.0.0.1:{self.port} http2;\n"
        types = "".join(f" {mime} {ext[1:]};" for ext, mime in MIME.items())
        conf = f"""worker_processes 1;
user root;
events {{ worker_connections 64; }}
http {{
  access_log {w}/access.log;
  client_body_temp_path {w}/tmp_body;
  proxy_temp_path {w}/tmp_proxy;
  fastcgi_temp_path {w}/tmp_fastcgi;
  uwsgi_temp_path {w}/tmp_uwsgi;
  scgi_temp_path {w}/tmp_scgi;
  types {{{types} }}
  server {{
    {listen}    root {self.docroot};
    location / {{ add_header Cache-Control "{STATIC_CACHE_CONTROL}"; }}
    location = /index.html {{
      add_header Cache-Control "{HTML_CACHE_CONTROL}";
{alt}{push}    }}
  }}
}}
"""
        (w / "nginx.conf").write_text(conf)
        return ["nginx", "-p", f"{w}/", "-c", str(w / "nginx.conf"),
                "-g", f"daemon off; pid {w}/nginx.pid; error_log {w}/err.log;"]

    def _h2o(self) -> list[str]:
        w = self.workdir
        assert self.cert is not None
        links = "\\n".join(f"<{p}>; rel=preload" for p in PUSHED)
        conf = f"""listen:
  host: 127.0.0.1
  port: {self.port}
  ssl:
    certificate-file: {self.cert.cert}
    key-file: {self.cert.key}
user: root
pid-file: {w}/h2o.pid
error-log: {w}/error.log
num-threads: 1
http2-casper: OFF
hosts:
  default:
    paths:
      /:
        mruby.handler: |
          Proc.new do |env|
            if env["PATH_INFO"] == "/index.html"
              [399, {{"link" => "{links}", "cache-control" => "{HTML_CACHE_CONTROL}"}}, []]
            else
              [399, {{"cache-control" => "{STATIC_CACHE_CONTROL}"}}, []]
            end
          end
        file.dir: {self.docroot}
        file.mime.addtypes:
          font/woff2: .woff2
"""
        (w / "h2o.conf").write_text(conf)
        return ["h2o", "-c", str(w / "h2o.conf")]

    def _apache(self) -> list[str]:
        w = self.workdir
        # mod_http2 under mpm_event closes an upgraded h2c connection when it first goes idle: h2c uses worker
        modules = ["mpm_event" if self.tls else "mpm_worker", "authz_core", "mime", "dir", "headers", "http2"]
        modules += ["ssl"] if self.tls else []
        load = "".join(f"LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so\n" for m in modules)
        types = "".join(f"AddType {mime} {ext}\n" for ext, mime in MIME.items())
        links = "".join(f'    Header add Link "<{p}>;rel=preload"\n' for p in PUSHED)
        if self.tls:
            assert self.cert is not None
            protocols = (f"  Protocols h2 http/1.1\n  SSLEngine on\n  SSLCertificateFile {self.cert.cert}\n"
                         f"  SSLCertificateKeyFile {self.cert.key}\n")
        else:
            protocols = "  Protocols h2c http/1.1\n  H2Upgrade on\n  H2Direct on\n"
        conf = f"""ServerRoot {w}
ServerName 127.0.0.1
PidFile {w}/httpd.pid
DefaultRuntimeDir {w}
ErrorLog {w}/error.log
Listen 127.0.0.1:{self.port}
{load}User nobody
Group nogroup
StartServers 1
ServerLimit 1
ThreadsPerChild 16
MaxRequestWorkers 16
TypesConfig /dev/null
{types}DocumentRoot {self.docroot}
<Directory />
  Require all denied
</Directory>
<Directory {self.docroot}>
  Require all granted
</Directory>
<VirtualHost 127.0.0.1:{self.port}>
{protocols}  H2Push on
  Header set Cache-Control "{STATIC_CACHE_CONTROL}"
  <Files "index.html">
    Header set Cache-Control "{HTML_CACHE_CONTROL}"
{links}  </Files>
</VirtualHost>
"""
        (w / "apache2.conf").write_text(conf)
        return ["apache2", "-f", str(w / "apache2.conf"), "-DFOREGROUND"]

    def _nghttpd(self) -> list[str]:
        command = ["nghttpd", "-a", "127.0.0.1", "-d", str(self.docroot), f"-p/index.html={','.join(PUSHED)}"]
        if self.tls:
            assert self.cert is not None
            return command + [str(self.port), str(self.cert.key), str(self.cert.cert)]
        return command + ["--no-tls", str(self.port)]


def available(kind: str) -> bool:
    binary = {"apache": "apache2"}.get(kind, kind)
    return shutil.which(binary) is not None


class H3Server:
    """``tests/probe/h3_server.py`` in a subprocess (stopped by its PID)."""

    def __init__(self, workdir: Path, docroot: Path, cert: Cert, port: int, push_delay: float = 0.0) -> None:
        self.workdir, self.docroot, self.cert, self.port, self.push_delay = workdir, docroot, cert, port, push_delay
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/index.html"

    def start(self) -> H3Server:
        self.workdir.mkdir(parents=True, exist_ok=True)
        script = Path(__file__).with_name("h3_server.py")
        self.proc = subprocess.Popen(
            [sys.executable, str(script), "--port", str(self.port), "--cert", str(self.cert.cert), "--key",
             str(self.cert.key), "--docroot", str(self.docroot), "--push-delay", str(self.push_delay)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=(self.workdir / "h3.log").open("wb"))
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline() if ready else b""
        if b"ready" not in line:
            self.stop()
            raise ServerError(f"h3 server did not start: {(self.workdir / 'h3.log').read_text()}")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class Dumpcap:
    """dumpcap on ``lo`` with a capture filter; ready once it says "Capturing on"; stopped by PID (SIGTERM)."""

    def __init__(self, out: Path, capture_filter: str) -> None:
        self.out, self.capture_filter = out, capture_filter
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Dumpcap:
        self.proc = subprocess.Popen(["dumpcap", "-i", "lo", "-f", self.capture_filter, "-w", str(self.out), "-q"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert self.proc.stderr is not None
        fd = self.proc.stderr.fileno()
        seen = b""
        deadline = time.monotonic() + 10
        while b"Capturing on" not in seen:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(fd, 4096) if ready else b""
            if not chunk:
                self.stop()
                raise ServerError(f"dumpcap did not start: {seen.decode(errors='replace')}")
            seen += chunk
        time.sleep(0.2)
        return self

    def stop(self) -> Path:
        if self.proc is not None:
            time.sleep(0.3)
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
        return self.out
