"""A page and an nginx configuration made for the experiment: one stylesheet in the head of a document large
enough to take a while on a shaped link, and an unreferenced script.

- ``referenced``: ``Link: </style.css>; rel=preload; as=style`` with ``http2_push_preload on``: nginx pushes the
  stylesheet to a client that accepts push, a preloading client fetches it from the header, a no-push client
  finds it in the document;
- ``unreferenced``: ``http2_push /unused.js``: a push nothing on the page uses.
"""

from __future__ import annotations

import sys
from pathlib import Path

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
if str(CAPTURES) not in sys.path:
    sys.path.insert(0, str(CAPTURES))

from lab.servers import Nginx  # noqa: E402

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
