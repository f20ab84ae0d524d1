#!/usr/bin/env python3
"""Regenerate screenshots/report.png (the README's picture) from one of our own captures.

    .venv/bin/python scripts/report_png.py [CAPTURE [KEYLOG]] [-o screenshots/report.png]

Default capture: captures/nginx-push-basic.pcapng with its .keys. Needs tshark and Chromium.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture", nargs="?", default=str(ROOT / "captures" / "nginx-push-basic.pcapng"))
    parser.add_argument("keylog", nargs="?", help="default: the capture's .keys file, if any")
    parser.add_argument("-o", "--output", default=str(ROOT / "screenshots" / "report.png"))
    parser.add_argument("--height", type=int, default=None, help="window height in pixels (default: fit the page)")
    args = parser.parse_args(argv)

    from pushscope.export.html_report import render_html
    from pushscope.export.png_report import ChromiumNotFound, html_to_png
    from pushscope.pipeline import load_capture

    keys = args.keylog or str(Path(args.capture).with_suffix(".keys"))
    capture = load_capture(args.capture, keys if Path(keys).is_file() else None)
    if not capture.pushes:
        print(f"warning: {args.capture} has no pushes; the picture will show none", file=sys.stderr)
    try:
        png = html_to_png(render_html(capture), height=args.height)
    except ChromiumNotFound as exc:
        print(exc, file=sys.stderr)
        return 2
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(png)
    print(f"wrote {out} ({len(png)} bytes) from {args.capture}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
