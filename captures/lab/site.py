"""The demo site served by every server in the lab.

The content is deterministic (byte-identical on every run) and tiny: a few KB per
resource, so the captures stay small.

Reference graph::

    /index.html  -> /style.css (<link rel=stylesheet>), /app.js (<script src>), /logo.png (<img>)
    /style.css   -> /font.woff2 (url())
    /page2.html  -> /style.css, /app.js
    /unused.js   (referenced by nothing)
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

# What the servers push for the document (/ and /index.html).
PUSHED_PATHS = ("/style.css", "/app.js", "/unused.js")
# What the document references (directly or through the stylesheet).
INDEX_REFERENCES = ("/style.css", "/app.js", "/logo.png", "/font.woff2")
STATIC_MAX_AGE = 3600
HTML_CACHE_CONTROL = "no-cache"
STATIC_CACHE_CONTROL = f"max-age={STATIC_MAX_AGE}"

MIME_TYPES = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "application/javascript",
    ".png": "image/png",
    ".woff2": "font/woff2",
}


def _filler(prefix: str, n: int, fmt: str) -> str:
    return "".join(fmt.format(prefix=prefix, i=i) for i in range(n))


INDEX_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>pushscope lab</title>
<link rel="stylesheet" href="/style.css">
<script src="/app.js" defer></script>
</head>
<body>
<h1>pushscope capture lab</h1>
<p>A tiny page used to record HTTP/2 server push on loopback.
It references a stylesheet, a script and an image; the stylesheet references a font.</p>
<img src="/logo.png" alt="logo" width="32" height="32">
<p><a href="/page2.html">second page</a></p>
{filler}
</body>
</html>
""".replace("{filler}", _filler("p", 12, '<p class="row" id="{prefix}{i}">row {i}: lorem ipsum dolor sit amet</p>\n'))

PAGE2_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>pushscope lab: page 2</title>
<link rel="stylesheet" href="/style.css">
<script src="/app.js" defer></script>
</head>
<body>
<h1>second page</h1>
<p><a href="/index.html">back</a></p>
</body>
</html>
"""

STYLE_CSS = """@font-face {
  font-family: "Lab";
  src: url("/font.woff2") format("woff2");
}
body { font-family: "Lab", sans-serif; margin: 2em; color: #222; background: #fafafa; }
h1 { font-size: 1.6em; }
""" + _filler("r", 40, ".{prefix}{i} {{ padding: {i}px; margin: 0 {i}px; border-left: 1px solid #{i:03d}; }}\n")

APP_JS = """'use strict';
// pushscope lab demo script (referenced by /index.html and /page2.html)
document.addEventListener('DOMContentLoaded', function () {
  var rows = document.querySelectorAll('.row');
  for (var i = 0; i < rows.length; i++) { rows[i].dataset.seen = '1'; }
});
""" + _filler("f", 40, "function {prefix}{i}(x) {{ return (x * {i} + 7) % 97; }}\n")

UNUSED_JS = """'use strict';
// pushscope lab: this script is referenced by nothing. Pushing it is always wasted.
""" + _filler("u", 40, "function {prefix}{i}() {{ return 'never called {i}'; }}\n")


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def make_png(size: int = 32) -> bytes:
    """A real (valid) size x size RGB PNG with a simple pattern."""
    rows = []
    for y in range(size):
        row = bytearray([0])  # filter type 0
        for x in range(size):
            row += bytes(((x * 8) & 0xFF, (y * 8) & 0xFF, 0x80 if (x // 8 + y // 8) % 2 else 0x20))
        rows.append(bytes(row))
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + _png_chunk(b"IEND", b""))


def make_font() -> bytes:
    """A placeholder for /font.woff2: the WOFF2 signature followed by filler.

    It is not a renderable font (no font tooling is needed to build the lab); for
    push analysis only its size and type matter.
    """
    return b"wOF2" + bytes(range(256)) * 4


FILES: dict[str, bytes] = {
    "index.html": INDEX_HTML.encode(),
    "page2.html": PAGE2_HTML.encode(),
    "style.css": STYLE_CSS.encode(),
    "app.js": APP_JS.encode(),
    "unused.js": UNUSED_JS.encode(),
    "logo.png": make_png(),
    "font.woff2": make_font(),
}


def write_site(docroot: Path) -> Path:
    """Write the demo site into ``docroot`` (world-readable, servers may drop privileges)."""
    docroot.mkdir(parents=True, exist_ok=True)
    docroot.chmod(0o755)
    for name, data in FILES.items():
        p = docroot / name
        p.write_bytes(data)
        p.chmod(0o644)
    return docroot
