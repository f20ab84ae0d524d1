"""Comparing a capture's analysed model with the ground truth its recording client wrote."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pushscope.model.entities import Capture, Push
from pushscope.vocabulary import Outcome, Reason

CAPTURES = Path(__file__).resolve().parents[2] / "captures"


@dataclass
class Disagreement:
    key: str
    expected: str
    got: str

    def __str__(self) -> str:
        return f"{self.key}: truth says {self.expected}, pushscope says {self.got}"


def scenarios() -> list[str]:
    return sorted(p.name.removesuffix(".truth.json") for p in CAPTURES.glob("*.truth.json")
                  if (CAPTURES / (p.name.removesuffix(".truth.json") + ".pcapng")).exists())


def load_truth(path: Path) -> dict:
    return json.loads(path.read_text())


def _push_key(client_port: int, push: dict | Push) -> str:
    if isinstance(push, dict):
        ident = push.get("push_id") if push.get("push_id") is not None else push.get("promised_stream_id")
    else:
        ident = push.push_id if push.push_id is not None else push.promised_stream_id
    return f"port {client_port} {'push' if ident is not None else '?'} {ident}"


# A capture times frames on the wire; a client times them when its event loop reads them. On a loaded machine the
# client may read a stalled burst at once, so for traffic recorded just now "claimed" and "claimed-late" may differ
# by a scheduling stall. ``stall_tolerance`` (seconds) lets that one pair differ by at most so much lateness.
LIVE_STALL_TOLERANCE = 0.1


def _same_claim(want: str, got: str, push: Push, stall_tolerance: float) -> bool:
    if want == got:
        return True
    claims = {f"{Outcome.USED}/{Reason.CLAIMED}", f"{Outcome.USED}/{Reason.CLAIMED_LATE}"}
    late_by = push.cost.late_by or 0.0
    return stall_tolerance > 0 and {want, got} == claims and late_by <= stall_tolerance


def compare_pushes(capture: Capture, truth: dict, stall_tolerance: float = 0.0) -> tuple[list[Disagreement], int]:
    ports = {cid: conn.client.port for cid, conn in capture.connections.items()}
    ours = {_push_key(ports.get(p.connection_id, 0), p): p for p in capture.pushes}
    problems: list[Disagreement] = []
    for expected in truth.get("pushes", []):
        key = _push_key(expected["client_port"], expected)
        push = ours.pop(key, None)
        label = f"{key} {expected['url']}"
        if push is None:
            problems.append(Disagreement(label, f"{expected['outcome']}/{expected['reason']}", "no such push"))
            continue
        want = f"{expected['outcome']}/{expected['reason']}"
        got = f"{push.outcome}/{push.reason}"
        if not _same_claim(want, got, push, stall_tolerance) or push.url != expected["url"]:
            problems.append(Disagreement(label, f"{want} {expected['url']}", f"{got} {push.url}"))
        exchange = capture.exchange(push.exchange_id)
        body = expected.get("body_bytes")
        complete = expected.get("completed", True)
        if body is not None and complete and exchange is not None and exchange.body_bytes != body:
            problems.append(Disagreement(f"{label} body bytes", str(body), str(exchange.body_bytes)))
    for key, push in ours.items():
        problems.append(Disagreement(f"{key} {push.url}", "no such push", f"{push.outcome}/{push.reason}"))
    return problems, len(truth.get("pushes", []))


def compare_requests(capture: Capture, truth: dict) -> list[Disagreement]:
    """Every request the client made (not pushes it claimed) is an exchange with that URL and status."""
    problems = []
    # Bodies: the client counted DATA payload bytes; none of the lab's servers pads frames, so they must agree.
    ours = [(e.url, e.status, e.body_bytes) for e in capture.exchanges if not e.pushed]
    # A request whose :authority the capture cannot show (an HPACK entry from before a cut) matches on the rest.
    unknown_authority = [(e.path, e.status, e.body_bytes) for e in capture.exchanges
                         if not e.pushed and ":authority" in e.unknown_fields and ":path" not in e.unknown_fields]
    for request in truth.get("requests", []):
        if request.get("from_push"):
            continue
        wanted = (request["url"], request.get("status"), request.get("body_bytes"))
        by_path = ("/" + request["url"].split("/", 3)[3], *wanted[1:])
        if wanted in ours:
            ours.remove(wanted)
        elif by_path in unknown_authority:
            unknown_authority.remove(by_path)
        else:
            problems.append(Disagreement(f"request {request['url']}", f"{wanted[1]} with {wanted[2]} body bytes",
                                         "missing"))
    return problems
