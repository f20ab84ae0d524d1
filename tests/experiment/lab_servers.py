"""A page and an nginx configuration made for the experiment: one stylesheet in the head of a document large
enough to take a while on a shaped link, and an unreferenced script.

- ``referenced``: ``Link: </style.css>; rel=preload; as=style`` with ``http2_push_preload on``: nginx pushes the
  stylesheet to a client that accepts push, a preloading client fetches it from the header, a no-push client
  finds it in the document;
- ``unreferenced``: ``http2_push /unused.js``: a push nothing on the page uses.
"""

from __future__ import annotations

import select
import subprocess
import sys
from pathlib import Path

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
if str(CAPTURES) not in sys.path:  # captures/lab, not tests/lab (which has no package of that name)
    sys.path.insert(0, str(CAPTURES))

from lab import certs  # noqa: E402
from lab.capture import free_port  # noqa: E402
from lab.servers import Apache, Nginx  # noqa: E402

__all__ = ["CAPTURES", "H3LabServer", "certs", "free_port"]

DOCUMENT_FILLER = 40 * 1024  # ~65 ms at 5 Mbit/s: the document takes a while, as a real page's HTML does
STYLESHEET = b"body{font-family:sans-serif}\n" + b"/* padding */\n" * 200
UNUSED = b"console.log('never referenced');\n" * 300


def write_page(docroot: Path) -> Path:
    docroot.mkdir(parents=True, exist_ok=True)
    docroot.chmod(0o755)
    filler = "".join(f"<p>paragraph {n} of the page, some text to read.</p>\n" for n in range(2000))
    filler = filler[:DOCUMENT_FILLER]
    html = ("<!DOCTYPE html><html><head><title>experiment</title><link rel=stylesheet href=/style.css></head>"
            f"<body><h1>experiment</h1>{filler}</body></html>\n")
    files = {"index.html": html.encode(), "style.css": STYLESHEET, "unused.js": UNUSED}
    for name, data in files.items():
        (docroot / name).write_bytes(data)
        (docroot / name).chmod(0o644)
    return docroot


class ExperimentNginx(Nginx):
    """nginx with ``options["push"]`` = "referenced" or "unreferenced" (see the module docstring)."""

    def write_config(self) -> None:
        super().write_config()  # mode "push": the lab's list of pushes, replaced below
        conf = (self.workdir / "nginx.conf").read_text()
        start = conf.index("    location = /index.html {")
        end = conf.index("    }\n", start) + len("    }\n")
        if self.options.get("push") == "unreferenced":
            rule = "      http2_push /unused.js;\n"
        else:
            rule = '      http2_push_preload on;\n      add_header Link "</style.css>; rel=preload; as=style";\n'
        block = (f"    location = /index.html {{\n      add_header Cache-Control \"no-cache\";\n{rule}    }}\n"
                 "    location = / {\n      return 302 /index.html;\n    }\n")
        (self.workdir / "nginx.conf").write_text(conf[:start] + block + conf[end:])


class H3LabServer:
    """The lab's aioquic HTTP/3 push server (``captures/h3lab/server.py``) in a subprocess, stopped by its PID.
    It pushes /style.css, /app.js and /unused.js with the lab site's page."""

    def __init__(self, workdir: Path, cert: Path, key: Path, port: int) -> None:
        self.workdir, self.cert, self.key, self.port = workdir, cert, key, port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/index.html"

    def start(self) -> H3LabServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with (self.workdir / "h3.log").open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "h3lab.server", "--port", str(self.port), "--cert", str(self.cert),
                 "--key", str(self.key)], cwd=CAPTURES, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=log)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        if not ready or b"ready" not in self.proc.stdout.readline():
            self.stop()
            raise RuntimeError(f"the h3 server did not start: {(self.workdir / 'h3.log').read_text()[-2000:]}")
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


class EarlyHintsApache(Apache):
    """apache2 + mod_http2 with ``H2PushResource /style.css`` and ``H2EarlyHints on``: a 103 Early Hints with
    ``Link: </style.css>; rel=preload`` precedes the page (and the push, to a client that accepts one)."""

    def write_config(self) -> None:
        super().write_config()  # mode "link": the lab's Link headers, replaced below
        path = self.workdir / "apache2.conf"
        conf = path.read_text()
        start = conf.index('  <Files "index.html">\n')
        end = conf.index("  </Files>\n", start) + len("  </Files>\n")
        rule = '  <Files "index.html">\n    H2PushResource /style.css\n  </Files>\n  H2EarlyHints on\n'
        path.write_text(conf[:start] + rule + conf[end:])
