"""qlog: one trace per connection, valid against qlog.schema.json, with push promises, cancels and verdicts."""

from __future__ import annotations

import json

import jsonschema
import pytest
from export_models import COOKIE_SECRET, REPO, build_capture

from pushscope.export.qlog import qlog_dict, render_qlog

SCHEMA = json.loads((REPO / "pushscope" / "export" / "qlog.schema.json").read_text(encoding="utf-8"))


def validate(qlog: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    errors = list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(qlog))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


@pytest.fixture(scope="module")
def qlog() -> dict:
    return json.loads(render_qlog(build_capture()))


def _events(qlog: dict, conn: str) -> list[dict]:
    return next(t for t in qlog["traces"] if t["common_fields"]["group_id"] == conn)["events"]


def test_valid_against_schema(qlog: dict) -> None:
    validate(qlog)
    assert qlog["qlog_version"] == "0.3" and qlog["qlog_format"] == "JSON"
    assert [t["common_fields"]["protocol_type"] for t in qlog["traces"]] == [["HTTP2"], ["HTTP3"]]
    for trace in qlog["traces"]:
        assert trace["vantage_point"] == {"name": "pushscope", "type": "network", "flow": "client"}
        times = [e["time"] for e in trace["events"]]
        assert times == sorted(times)


def test_schema_rejects_a_broken_event(qlog: dict) -> None:
    broken = json.loads(json.dumps(qlog))
    event = next(e for e in broken["traces"][1]["events"] if e["data"].get("frame", {}).get("frame_type")
                 == "push_promise")
    del event["data"]["frame"]["push_id"]
    assert list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(broken))


def test_h2_push_events(qlog: dict) -> None:
    events = _events(qlog, "t0")
    promises = [e for e in events if e["data"].get("frame", {}).get("frame_type") == "push_promise"]
    assert [e["data"]["frame"]["promised_stream_id"] for e in promises] == [2, 4, 6, 8]
    assert all(e["name"] == "http2:frame_parsed" and e["data"]["stream_id"] == 1 for e in promises)
    resets = [e for e in events if e["data"].get("frame", {}).get("frame_type") == "rst_stream"]
    assert len(resets) == 1
    assert resets[0]["name"] == "http2:frame_created" and resets[0]["data"]["frame"]["error_code"] == "CANCEL"
    resolved = {e["data"]["stream_id"]: e["data"] for e in events if e["name"] == "http2:push_resolved"}
    assert resolved[2]["decision"] == "claimed" and resolved[4]["decision"] == "abandoned"
    assert resolved[8]["outcome"] == "unknown" and "decision" not in resolved[8]
    goaway = [e for e in events if e["data"].get("frame", {}).get("frame_type") == "goaway"]
    assert goaway[0]["data"]["frame"]["last_stream_id"] == 8
    settings = [e for e in events if e["data"].get("frame", {}).get("settings")]
    assert {"name": "enable_push", "value": 1} in settings[0]["data"]["frame"]["settings"]


def test_h3_push_events(qlog: dict) -> None:
    events = _events(qlog, "q0")
    names = {e["name"] for e in events}
    assert {"http:frame_created", "http:frame_parsed", "http:stream_type_set", "http:push_resolved"} <= names
    frames = [e["data"]["frame"] for e in events if "frame" in e["data"]]
    assert [f["push_id"] for f in frames if f["frame_type"] == "push_promise"] == [0, 1]
    assert [f["push_id"] for f in frames if f["frame_type"] == "cancel_push"] == [1]
    assert [f.get("push_id") for f in frames if f["frame_type"] == "max_push_id"] == [8]
    stream_type = next(e for e in events if e["name"] == "http:stream_type_set")
    assert stream_type["data"] == {"stream_id": 15, "owner": "remote", "new": "push", "associated_push_id": 0}
    headers = next(f for f in frames if f["frame_type"] == "headers")
    assert {"name": ":path", "value": "/h3.html"} in headers["headers"]
    assert {e["data"]["push_id"]: e["data"]["outcome"] for e in events if e["name"] == "http:push_resolved"} == {
        0: "used", 1: "wasted"}


def test_h3_stream_reset_is_a_transport_event() -> None:
    from pushscope.model.entities import Reset

    capture = build_capture()
    capture.exchanges[7].reset = Reset("client", 0x10C, "H3_REQUEST_CANCELLED", capture.exchanges[7].response_end,
                                       "RESET_STREAM")
    qlog = qlog_dict(capture)
    validate(qlog)
    packets = [e for e in _events(qlog, "q0") if e["name"].startswith("transport:")]
    assert packets and packets[0]["data"]["frames"][0] == {"frame_type": "reset_stream",
                                                           "error_code": "H3_REQUEST_CANCELLED", "stream_id": 15}


def test_redacted(qlog: dict) -> None:
    text = json.dumps(qlog)
    assert COOKIE_SECRET not in text and "[redacted]" in text
    assert COOKIE_SECRET in render_qlog(build_capture(), redact=False)
