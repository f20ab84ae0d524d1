"""Our qlog's HTTP/3 events against the qlog HTTP/3 event definitions that qvis reads.

No npm package ships those definitions, so the checked list is written here from:
  - draft-ietf-quic-qlog-h3-events-01 (March 2022), "HTTP/3 and QPACK qlog event definitions", the HTTP/3 half of
    qlog_version 0.3 (the version we write): sections "HTTP/3 events" (parameters_set, parameters_restored,
    stream_type_set, frame_created, frame_parsed, data_moved, push_resolved) and "HTTP/3 frames";
  - qvis's reader of that version, visualizations/src/data/QlogSchema02.ts in github.com/quiclog/qvis
    (HTTP3EventType, HTTP3FrameTypeName, IEventH3StreamTypeSet, IEventH3FrameCreated, IEventH3PushResolved).
Where the two name a field differently we check the draft's name (GOAWAY's ``id``, a frame event's ``length``);
qvis also reads those events when it does not know a field, so nothing we write is rejected.
HTTP/2 has no published qlog event definitions: our HTTP/2 events stay in their own ``http2:`` namespace (qvis's
TCP/HTTP2 view uses the same one) and our verdicts for unjudged HTTP/3 pushes in ``pushscope:``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from export_models import REPO, build_capture

from pushscope.export.qlog import qlog_dict

H3_EVENTS = {"parameters_set", "parameters_restored", "stream_type_set", "frame_created", "frame_parsed",
             "data_moved", "push_resolved"}
H3_FRAME_TYPES = {"data", "headers", "cancel_push", "settings", "push_promise", "goaway", "max_push_id",
                  "duplicate_push", "reserved", "unknown"}
# Frame fields each frame type must carry (besides frame_type).
H3_FRAME_FIELDS = {"headers": {"headers"}, "push_promise": {"push_id", "headers"}, "cancel_push": {"push_id"},
                   "max_push_id": {"push_id"}, "settings": {"settings"}, "goaway": {"id"},
                   "duplicate_push": {"push_id"}, "unknown": set(), "reserved": set(), "data": set()}
H3_STREAM_TYPES = {"data", "control", "push", "reserved", "qpack_encode", "qpack_decode", "unknown"}
NAMESPACES = {"http", "http2", "transport", "pushscope"}
H3_CAPTURES = ("h3-push-claimed", "h3-cancel-push", "h3-stop-sending", "h3-cancel-cached", "h3-two-connections")


def _name_value_list(items: Any) -> bool:
    return isinstance(items, list) and all(isinstance(i, dict) and set(i) == {"name", "value"} for i in items)


def h3_problems(qlog: dict[str, Any]) -> list[str]:
    """Every way the qlog's http: events depart from the definitions above (empty when they conform)."""
    problems = []
    for trace in qlog["traces"]:
        for event in trace["events"]:
            category, _, name = event["name"].partition(":")
            data = event["data"]
            where = f"{trace['common_fields']['group_id']} t={event['time']} {event['name']}"
            if category not in NAMESPACES:
                problems.append(f"{where}: namespace {category!r}")
            if category != "http":
                continue
            if name not in H3_EVENTS:
                problems.append(f"{where}: not an HTTP/3 event")
            elif name in ("frame_created", "frame_parsed"):
                problems += [f"{where}: {p}" for p in _frame_problems(data)]
            elif name == "stream_type_set":
                if not isinstance(data.get("stream_id"), int) or data.get("new") not in H3_STREAM_TYPES:
                    problems.append(f"{where}: needs stream_id and a known new type: {data}")
                if "associated_push_id" in data and data.get("new") != "push":
                    problems.append(f"{where}: associated_push_id on a stream that is not a push stream")
                if data.get("owner", "remote") not in ("local", "remote"):
                    problems.append(f"{where}: owner {data.get('owner')!r}")
            elif name == "push_resolved":
                if data.get("decision") not in ("claimed", "abandoned"):
                    problems.append(f"{where}: decision must be claimed or abandoned: {data.get('decision')!r}")
                if "push_id" not in data and "stream_id" not in data:
                    problems.append(f"{where}: names neither push_id nor stream_id")
    return problems


def _frame_problems(data: dict[str, Any]) -> list[str]:
    frame = data.get("frame")
    if not isinstance(data.get("stream_id"), int):
        return [f"no stream_id: {data}"]
    if not isinstance(frame, dict) or frame.get("frame_type") not in H3_FRAME_TYPES:
        return [f"frame_type {frame and frame.get('frame_type')!r} is not an HTTP/3 frame type"]
    missing = H3_FRAME_FIELDS[frame["frame_type"]] - set(frame)
    problems = [f"{frame['frame_type']} without {sorted(missing)}"] if missing else []
    for key in ("headers", "settings"):
        if key in frame and not _name_value_list(frame[key]):
            problems.append(f"{key} is not a list of {{name, value}}")
    return problems


def _capture_qlog(name: str) -> dict[str, Any]:
    from pushscope.pipeline import load_capture

    capture = load_capture(str(REPO / "captures" / f"{name}.pcapng"), str(REPO / "captures" / f"{name}.keys"))
    return qlog_dict(capture)


def test_the_check_finds_what_the_definitions_reject() -> None:
    qlog = qlog_dict(build_capture())
    assert h3_problems(qlog) == []
    broken = json.loads(json.dumps(qlog))
    events = [e for t in broken["traces"] for e in t["events"]]
    promise = next(e for e in events if e["data"].get("frame", {}).get("frame_type") == "push_promise"
                   and e["name"].startswith("http:"))
    del promise["data"]["frame"]["push_id"]
    resolved = next(e for e in events if e["name"] == "http:push_resolved")
    del resolved["data"]["decision"]
    events[0]["name"] = "http:frame_sent"
    found = h3_problems(broken)
    assert any("push_promise without ['push_id']" in p for p in found)
    assert any("decision must be" in p for p in found)
    assert any("not an HTTP/3 event" in p for p in found)


@pytest.mark.skipif(not (REPO / "captures" / "h3-push-claimed.pcapng").exists(), reason="captures not present")
@pytest.mark.parametrize("name", H3_CAPTURES)
def test_real_h3_captures_follow_the_definitions(name: str) -> None:
    qlog = _capture_qlog(name)
    assert h3_problems(qlog) == []
    names = {e["name"] for t in qlog["traces"] for e in t["events"]}
    assert {"http:frame_parsed", "http:stream_type_set", "http:push_resolved"} <= names
    frames = [e["data"]["frame"]["frame_type"] for t in qlog["traces"] for e in t["events"] if "frame" in e["data"]]
    assert "push_promise" in frames and "settings" in frames


def test_h2_stays_in_its_own_namespace() -> None:
    qlog = qlog_dict(build_capture())
    h2 = [e["name"] for t in qlog["traces"] if t["common_fields"]["protocol_type"] == ["HTTP2"] for e in t["events"]]
    assert h2 and all(name.startswith("http2:") for name in h2)


def test_qlog_files_are_json(tmp_path: Path) -> None:
    path = tmp_path / "x.qlog"
    path.write_text(json.dumps(qlog_dict(build_capture())))
    assert json.loads(path.read_text())["qlog_version"] == "0.3"
