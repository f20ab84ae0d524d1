"""The stable part of `pushscope report --format json` for each bundled capture: `captures/expected/NAME.json`.

Times and ids that change with every regeneration are left out; URLs, statuses, byte counts, resets and
verdicts stay. Regenerate after `make_captures.py` / `make_h3_captures.py`:

    .venv/bin/python captures/expected_report.py --write
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPECTED = HERE / "expected"


def stable_report(name: str) -> dict:
    from pushscope.export.json_report import report_dict
    from pushscope.pipeline import load_capture

    keys = HERE / f"{name}.keys"
    report = report_dict(load_capture(str(HERE / f"{name}.pcapng"), str(keys) if keys.exists() else None))
    exchange_fields = ("protocol", "connection", "stream_id", "push_id", "method", "url", "status", "pushed",
                       "body_bytes")
    push_fields = ("protocol", "connection", "parent_stream_id", "promised_stream_id", "push_id", "url",
                   "pushed_bytes", "outcome", "reason", "reason_detail", "advice")
    return {
        "exchanges": [{k: e[k] for k in exchange_fields} for e in report["exchanges"]],
        "pushes": [
            {**{k: p[k] for k in push_fields},
             "reset": None if p["reset"] is None else {"by": p["reset"]["by"], "code": p["reset"]["code"]}}
            for p in report["pushes"]
        ],
        "summary": {k: report["summary"][k] for k in ("connections", "exchanges", "requests", "pushes",
                                                       "pushes_by_outcome", "wasted_bytes")},
    }


def names() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.pcapng"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite captures/expected/*.json")
    args = parser.parse_args()
    EXPECTED.mkdir(exist_ok=True)
    for name in names():
        text = json.dumps(stable_report(name), indent=1) + "\n"
        target = EXPECTED / f"{name}.json"
        if args.write:
            target.write_text(text)
        print(f"{'wrote' if args.write else 'checked'} {target.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
