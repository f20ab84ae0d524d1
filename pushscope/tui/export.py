"""Writing a report from the inspector: any format ``pushscope report`` writes, through the same writer.

The bytes go through ``pushscope.output.write_output``, like ``pushscope report -o``: written atomically, and
never over one of the files being inspected.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pushscope.export.formats import FORMATS, report_chunks
from pushscope.kept_model import KeptModel
from pushscope.model.details import ModelDetails
from pushscope.model.entities import Capture
from pushscope.model.subset import is_whole, subset
from pushscope.output import write_output

EXTENSIONS = {"json": ".json", "html": ".html", "har": ".har", "qlog": ".qlog", "text": ".txt", "png": ".png"}


def available_formats() -> tuple[str, ...]:
    """JSON first (the contract), then every other format ``render_report`` writes."""
    return tuple(dict.fromkeys(["json", *FORMATS]))


def default_path(capture_name: str, fmt: str, directory: Path | None = None) -> Path:
    """``<capture stem>.<ext>`` in the current directory: named after the capture, as the issue asks."""
    stem = Path(capture_name).name
    for suffix in (".gz", ".pcapng", ".pcap", ".cap"):
        stem = stem.removesuffix(suffix)
    stem = stem or "pushscope-report"
    return (directory or Path.cwd()) / f"{stem}{EXTENSIONS.get(fmt, '.' + fmt)}"


def write_report(capture: Capture, fmt: str, path: Path, inputs: tuple[str, ...] = ()) -> Path:
    """Render and write (never over one of ``inputs``); raises OutputError / ValueError for the caller to show
    (never a traceback in the UI)."""
    target = path.expanduser().absolute()  # a file, even one named "-" (that would mean standard output)
    # Streamed as ``pushscope report -o`` writes it: a gigabyte capture's report is never held whole.
    write_output(report_chunks(capture, fmt, redact=True), str(target), inputs=inputs)
    return target


def write_shown(details: ModelDetails, shown: Sequence[int], fmt: str, path: Path, inputs: tuple[str, ...] = ()
                ) -> Path:
    """What the waterfall shows, as a report: the whole capture, or the exchanges the filters left (``shown``). A
    kept model (a reopen's) is read whole first, for this report only: held, a reopened gigabyte's model would
    double what the inspector holds. Raises as ``write_report`` does, and KeptModelError."""
    capture = details.whole() if isinstance(details, KeptModel) else details
    if not isinstance(capture, Capture):
        raise TypeError(f"no model to write: {type(capture).__name__}")
    return write_report(capture if is_whole(capture, shown) else subset(capture, shown), fmt, path, inputs)
