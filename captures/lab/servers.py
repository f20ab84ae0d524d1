"""Config writers and start/stop for the lab's HTTP/2 servers.

Every server runs from its own temporary directory (config, pid file, logs, temp paths),
listens on a free 127.0.0.1 port, touches no system configuration and is stopped by the
PID we started. Supported: nginx (1.22), h2o (2.2), apache2 (mod_http2) and nghttpd.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import site
from .capture import listening, stop_process
from .certs import CertPair

# The Link headers used by the "preload" configurations. The last one carries ``nopush``:
# it must be announced but never pushed.
PRELOAD_LINKS = (
    "</style.css>; rel=preload; as=style",
    "</app.js>; rel=preload; as=script",
    "</unused.js>; rel=preload; as=script",
    "</logo.png>; rel=preload; as=image; nopush",
)


class ServerError(RuntimeError):
    pass


# Ports Wireshark/tshark dissect as HTTP by default ("http.tcp.port"). Cleartext h2c with
# prior knowledge is only recognised (HTTP dissector -> "PRI * HTTP/2.0" -> HTTP/2) on those,
# so h2c prior-knowledge scenarios prefer one of them when it is free: the captures then
# decode in tshark/Wireshark without any "Decode As".
TSHARK_HTTP_PORTS = (8088, 3132, 2710, 11371, 5985, 8080, 3128, 2869)


def _version_of(cmd: list[str], pattern: str) -> str:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    m = re.search(pattern, p.stdout + p.stderr)
    return m.group(1) if m else "unknown"


@dataclass
class Server:
    """Base class: subclasses write a config and build the command line."""

    workdir: Path
    docroot: Path
    cert: CertPair | None
    port: int
    tls: bool = True
    options: dict = field(default_factory=dict)
    host: str = "127.0.0.1"

    kind = "server"
    binary = ""

    proc: subprocess.Popen | None = field(default=None, init=False, repr=False)

    # -- to override -------------------------------------------------------------------
    def write_config(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def command(self) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def version(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def stop_signal(self) -> int:
        return signal.SIGTERM

    # -- common --------------------------------------------------------------------------
    @classmethod
    def available(cls) -> str | None:
        return shutil.which(cls.binary)

    @property
    def url(self) -> str:
        """The demo page on this server."""
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}/index.html"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.kind}.stdout.log"

    def start(self, timeout: float = 10.0) -> None:
        if self.available() is None:
            raise ServerError(f"{self.binary} not found")
        if self.tls and self.cert is None:
            raise ServerError("TLS server needs a certificate")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o755)  # servers may drop privileges to nobody
        self.write_config()
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(self.command(), cwd=self.workdir, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise ServerError(f"{self.kind} exited with {self.proc.returncode} during start-up:\n"
                                  + self.logs())
            if listening(self.host, self.port):
                break
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(f"{self.kind} did not listen on {self.host}:{self.port} within "
                                  f"{timeout}s:\n" + self.logs())
            time.sleep(0.05)
        time.sleep(0.1)  # let worker processes come up behind the listening master

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server we started (by its PID) and reap it."""
        if self.proc is not None:
            stop_process(self.proc, self.stop_signal(), timeout)
        self.proc = None

    def logs(self) -> str:
        out = []
        for p in sorted(self.workdir.glob("*.log")):
            try:
                out.append(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}")
            except OSError:
                pass
        return "\n".join(out)

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class Nginx(Server):
    """nginx 1.22. options: ``mode`` = "push" (http2_push) or "preload" (http2_push_preload + Link);
    ``alt_svc``: an ``Alt-Svc`` header value for the page (e.g. ``h3=":4433"; ma=60``, for the probe)."""

    kind = "nginx"
    binary = "nginx"

    def version(self) -> str:
        return _version_of([self.binary, "-v"], r"nginx/(\S+)")

    def stop_signal(self) -> int:
        return signal.SIGQUIT  # graceful shutdown of master + workers

    def write_config(self) -> None:
        w = self.workdir
        mode = self.options.get("mode", "push")
        if mode == "push":
            push = "".join(f"      http2_push {p};\n" for p in site.PUSHED_PATHS)
        elif mode == "preload":
            push = "      http2_push_preload on;\n" + "".join(
                f'      add_header Link "{link}";\n' for link in PRELOAD_LINKS)
        else:
            raise ValueError(f"unknown nginx mode {mode!r}")
        if self.options.get("alt_svc"):
            push += f"      add_header Alt-Svc '{self.options['alt_svc']}' always;\n"
        # ``http1``: HTTP/1.1 only, with gzip so text comes chunked (its length is not known in advance).
        http1 = bool(self.options.get("http1"))
        h2 = "" if http1 else " http2"
        gzip = ("    gzip on;\n    gzip_min_length 0;\n"
                "    gzip_types text/css application/javascript text/javascript;\n") if http1 else ""
        if self.tls:
            listen = f"listen {self.host}:{self.port} ssl{h2};"
            ssl = (f"    ssl_certificate {self.cert.cert};\n    ssl_certificate_key {self.cert.key};\n"
                   "    ssl_protocols TLSv1.2 TLSv1.3;\n")
        else:
            listen = f"listen {self.host}:{self.port}{h2};"
            ssl = ""
        types = "".join(f" {mime} {ext[1:]};" for ext, mime in site.MIME_TYPES.items())
        conf = f"""# generated by pushscope captures/lab
daemon off;
master_process on;
worker_processes 1;
user root;
pid {w}/nginx.pid;
error_log {w}/error.log info;
events {{ worker_connections 64; }}
http {{
  access_log {w}/access.log;
  client_body_temp_path {w}/tmp_body;
  proxy_temp_path {w}/tmp_proxy;
  fastcgi_temp_path {w}/tmp_fastcgi;
  uwsgi_temp_path {w}/tmp_uwsgi;
  scgi_temp_path {w}/tmp_scgi;
  types {{{types} }}
  default_type application/octet-stream;
  server_tokens on;
  server {{
    {listen}
{ssl}    root {self.docroot};
    index index.html;
{gzip}    location / {{ expires {site.STATIC_MAX_AGE}s; }}
    location ~ \\.html$ {{ add_header Cache-Control "{site.HTML_CACHE_CONTROL}"; }}
    location = /index.html {{
      add_header Cache-Control "{site.HTML_CACHE_CONTROL}";
{push}    }}
  }}
}}
"""
        (w / "nginx.conf").write_text(conf)

    def command(self) -> list[str]:
        return [self.binary, "-p", f"{self.workdir}/", "-c", str(self.workdir / "nginx.conf")]


class H2O(Server):
    """h2o 2.2. Pushes from ``Link: rel=preload`` (emitted by an mruby handler for / and
    /index.html). options: ``casper`` (bool)."""

    kind = "h2o"
    binary = "h2o"

    def version(self) -> str:
        return _version_of([self.binary, "--version"], r"h2o version (\S+)")

    def write_config(self) -> None:
        w = self.workdir
        casper = "ON" if self.options.get("casper") else "OFF"
        links = "\\n".join(PRELOAD_LINKS)
        ssl = ""
        if self.tls:
            ssl = (f"  ssl:\n    certificate-file: {self.cert.cert}\n    key-file: {self.cert.key}\n"
                   "    minimum-version: TLSv1.2\n    ocsp-update-interval: 0\n")
        conf = f"""# generated by pushscope captures/lab
listen:
  host: {self.host}
  port: {self.port}
{ssl}user: root
pid-file: {w}/h2o.pid
error-log: {w}/error.log
access-log: {w}/access.log
num-threads: 1
http2-casper: {casper}
hosts:
  default:
    paths:
      /:
        mruby.handler: |
          Proc.new do |env|
            if env["PATH_INFO"] == "/" || env["PATH_INFO"] == "/index.html"
              [399, {{"link" => "{links}", "cache-control" => "{site.HTML_CACHE_CONTROL}"}}, []]
            elsif env["PATH_INFO"].end_with?(".html")
              [399, {{"cache-control" => "{site.HTML_CACHE_CONTROL}"}}, []]
            else
              [399, {{"cache-control" => "{site.STATIC_CACHE_CONTROL}"}}, []]
            end
          end
        file.dir: {self.docroot}
        file.mime.addtypes:
          font/woff2: .woff2
"""
        (w / "h2o.conf").write_text(conf)

    def command(self) -> list[str]:
        return [self.binary, "-c", str(self.workdir / "h2o.conf")]


APACHE_MODULES = (
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("mime_module", "mod_mime.so"),
    ("dir_module", "mod_dir.so"),
    ("headers_module", "mod_headers.so"),
    ("ssl_module", "mod_ssl.so"),
    ("http2_module", "mod_http2.so"),
)
APACHE_MODULE_DIR = Path("/usr/lib/apache2/modules")


class Apache(Server):
    """apache2 + mod_http2. options: ``mode`` = "link" (H2Push on + ``Header add Link``) or
    "resource" (``H2PushResource``); ``mpm`` = "event" (default) or "worker". Without TLS it
    speaks h2c (Upgrade and prior knowledge).

    mod_http2 2.0.x under mpm_event closes an *upgraded* h2c connection (GOAWAY "timeout",
    last_stream_id=1) as soon as it first goes idle, so later requests on it are never
    answered; the h2c-upgrade scenario therefore runs apache with mpm_worker, where the
    HTTP/2 session keeps the connection in its own loop.

    Also seen (mod_http2 2.0.42, a race): when the client's RST_STREAM(CANCEL) for a push
    arrives after apache submitted the pushed response but before it sent its HEADERS, the
    failed send is treated as a protocol error and apache drops the whole connection (TLS
    close_notify + FIN, no GOAWAY on the wire). make_captures.py retries such runs.
    """

    kind = "apache"
    binary = "apache2"

    def version(self) -> str:
        return _version_of([self.binary, "-v"], r"Apache/(\S+)")

    def write_config(self) -> None:
        w = self.workdir
        mode = self.options.get("mode", "link")
        mpm = self.options.get("mpm", "event")
        modules = [(n, f) for n, f in APACHE_MODULES if self.tls or n != "ssl_module"]
        modules[0] = (f"mpm_{mpm}_module", f"mod_mpm_{mpm}.so")
        missing = [f for _, f in modules if not (APACHE_MODULE_DIR / f).exists()]
        if missing:
            raise ServerError(f"apache modules missing in {APACHE_MODULE_DIR}: {', '.join(missing)}")
        load = "".join(f"LoadModule {n} {APACHE_MODULE_DIR / f}\n" for n, f in modules)
        types = "".join(f"AddType {mime} {ext}\n" for ext, mime in site.MIME_TYPES.items())
        if mode == "link":
            push = "".join(f'    Header add Link "{link}"\n' for link in PRELOAD_LINKS[:3])
        elif mode == "resource":
            push = "".join(f"    H2PushResource {p}\n" for p in site.PUSHED_PATHS)
        else:
            raise ValueError(f"unknown apache mode {mode!r}")
        # ``no_store``: files served with Cache-Control: no-store (needed afresh by every load)
        no_store = "".join(f'  <Files "{name.lstrip("/")}">\n    Header set Cache-Control "no-store"\n  </Files>\n'
                           for name in self.options.get("no_store", ()))
        http1 = bool(self.options.get("http1"))
        if http1:  # HTTP/1.1 only; mod_deflate compresses the page
            modules = [m for m in modules if m[0] != "http2_module"] + [("filter_module", "mod_filter.so"),
                                                                         ("deflate_module", "mod_deflate.so")]
            load = "".join(f"LoadModule {n} {APACHE_MODULE_DIR / f}\n" for n, f in modules)
            push = "    AddOutputFilterByType DEFLATE text/html text/css application/javascript\n"
        if self.tls:
            proto = (f"  Protocols {'' if http1 else 'h2 '}http/1.1\n  SSLEngine on\n"
                     f"  SSLCertificateFile {self.cert.cert}\n  SSLCertificateKeyFile {self.cert.key}\n"
                     "  SSLProtocol -all +TLSv1.2 +TLSv1.3\n")
        else:
            proto = "  Protocols http/1.1\n" if http1 else "  Protocols h2c http/1.1\n  H2Upgrade on\n  H2Direct on\n"
        conf = f"""# generated by pushscope captures/lab
ServerRoot {w}
ServerName 127.0.0.1
PidFile {w}/httpd.pid
DefaultRuntimeDir {w}
ErrorLog {w}/error.log
LogLevel warn{'' if http1 else ' http2:info'}
Listen {self.host}:{self.port}
{load}User nobody
Group nogroup
StartServers 1
ServerLimit 1
ThreadLimit 64
ThreadsPerChild 64
MinSpareThreads 1
MaxSpareThreads 64
MaxRequestWorkers 64
TypesConfig /dev/null
{types}DocumentRoot {self.docroot}
DirectoryIndex index.html
<Directory />
  AllowOverride None
  Require all denied
</Directory>
<Directory {self.docroot}>
  AllowOverride None
  Require all granted
</Directory>
<VirtualHost {self.host}:{self.port}>
{proto}{'' if http1 else '  H2Push on' + chr(10)}  KeepAlive On
  KeepAliveTimeout 15
  Header set Cache-Control "{site.STATIC_CACHE_CONTROL}"
  <Files "*.html">
    Header set Cache-Control "{site.HTML_CACHE_CONTROL}"
  </Files>
  <Files "index.html">
{push}  </Files>
{no_store}</VirtualHost>
"""
        (w / "apache2.conf").write_text(conf)

    def command(self) -> list[str]:
        return [self.binary, "-f", str(self.workdir / "apache2.conf"), "-DFOREGROUND"]


class Nghttpd(Server):
    """nghttpd (nghttp2's test server): ``-p/=...`` and ``-p/index.html=...`` push lists.
    nghttpd sends ``Cache-Control: max-age=3600`` on every response (not configurable)."""

    kind = "nghttpd"
    binary = "nghttpd"

    def version(self) -> str:
        return _version_of([self.binary, "--version"], r"nghttp2/(\S+)")

    def write_config(self) -> None:
        pass  # command-line only

    def command(self) -> list[str]:
        pushes = ",".join(site.PUSHED_PATHS)
        cmd = [self.binary, "-a", self.host, "-d", str(self.docroot),
               f"-p/={pushes}", f"-p/index.html={pushes}"]
        if self.tls:
            cmd += [str(self.port), str(self.cert.key), str(self.cert.cert)]
        else:
            cmd += ["--no-tls", str(self.port)]
        return cmd


SERVERS: dict[str, type[Server]] = {cls.kind: cls for cls in (Nginx, H2O, Apache, Nghttpd)}
