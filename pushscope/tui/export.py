"""Writing a report from the inspector: JSON always; html/har/qlog when ``pushscope.export.commands`` provides them.

The richer exporters are looked up at runtime so the inspector works before (and without) them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pushscope.model.entities import Capture

EXTENSIONS = {"json": ".json", "html": ".html", "har": ".har", "qlog": ".qlog", "text": ".txt", "png": ".png"}
KNOWN_FORMATS = ("json", "html", "har", "qlog")


def _commands_module() -> Any | None:
    try:
        module = importlib.import_module("pushscope.export.commands")
    except ImportError:
        return None
    return module if callable(getattr(module, "render_report", None)) else None


def available_formats() -> tuple[str, ...]:
    """JSON, plus whatever ``render_report`` says it can do (its FORMATS), else the formats we know of."""
    module = _commands_module()
    if module is None:
        return ("json",)
    declared = getattr(module, "FORMATS", None) or getattr(module, "REPORT_FORMATS", None) or KNOWN_FORMATS
    formats = [str(f) for f in (declared.keys() if isinstance(declared, dict) else declared)]
    return tuple(dict.fromkeys(["json", *formats]))


def default_path(capture_name: str, fmt: str, directory: Path | None = None) -> Path:
    """``<capture stem>.<ext>`` in the current directory: named after the capture, as the issue asks."""
    stem = Path(capture_name).name
    for suffix in (".gz", ".pcapng", ".pcap", ".cap"):
        stem = stem.removesuffix(suffix)
    stem = stem or "pushscope-report"
    return (directory or Path.cwd()) / f"{stem}{EXTENSIONS.get(fmt, '.' + fmt)}"


def renderer(fmt: str) -> Callable[[Capture], str | bytes]:
    if fmt == "json":
        from pushscope.export.json_report import render_json

        return lambda capture: render_json(capture, redact=True)
    module = _commands_module()
    if module is None:
        raise ValueError(f"format {fmt!r} is not available")
    return lambda capture: module.render_report(capture, fmt, redact=True)


def write_report(capture: Capture, fmt: str, path: Path) -> Path:
    """Render and write; raises OSError / ValueError for the caller to show (never a traceback in the UI)."""
    data = renderer(fmt)(capture)
    path = path.expanduser()
    if path.parent and not path.parent.exists():
        raise OSError(f"directory {path.parent} does not exist")
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path
