"""HAR 1.2: the fields Chrome DevTools and HAR analyzers require, with the types the spec gives them."""

from __future__ import annotations

import json
from datetime import datetime

import jsonschema
import pytest
from export_models import AUTH_SECRET, COOKIE_SECRET, SET_COOKIE_SECRET, build_capture

from pushscope.export.har import har_dict, render_har

NV = {"type": "object", "required": ["name", "value"],
      "properties": {"name": {"type": "string"}, "value": {"type": "string"}}}
NV_LIST = {"type": "array", "items": NV}
TIMING = {"type": "number", "minimum": -1}
# A compact JSON Schema of HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/): required fields and types.
HAR_SCHEMA = {
    "type": "object", "required": ["log"],
    "properties": {"log": {
        "type": "object", "required": ["version", "creator", "entries"],
        "properties": {
            "version": {"const": "1.2"},
            "creator": {"type": "object", "required": ["name", "version"],
                        "properties": {"name": {"type": "string"}, "version": {"type": "string"}}},
            "pages": {"type": "array", "items": {
                "type": "object", "required": ["startedDateTime", "id", "title", "pageTimings"],
                "properties": {"startedDateTime": {"type": "string"}, "id": {"type": "string"},
                               "title": {"type": "string"},
                               "pageTimings": {"type": "object", "properties": {"onContentLoad": TIMING,
                                                                                "onLoad": TIMING}}}}},
            "entries": {"type": "array", "items": {
                "type": "object",
                "required": ["startedDateTime", "time", "request", "response", "cache", "timings"],
                "properties": {
                    "pageref": {"type": "string"},
                    "startedDateTime": {"type": "string"},
                    "time": {"type": "number", "minimum": 0},
                    "request": {"type": "object",
                                "required": ["method", "url", "httpVersion", "cookies", "headers", "queryString",
                                             "headersSize", "bodySize"],
                                "properties": {"method": {"type": "string"}, "url": {"type": "string"},
                                               "httpVersion": {"type": "string"}, "cookies": NV_LIST,
                                               "headers": NV_LIST, "queryString": NV_LIST,
                                               "headersSize": {"type": "integer", "minimum": -1},
                                               "bodySize": {"type": "integer", "minimum": -1}}},
                    "response": {"type": "object",
                                 "required": ["status", "statusText", "httpVersion", "cookies", "headers", "content",
                                              "redirectURL", "headersSize", "bodySize"],
                                 "properties": {"status": {"type": "integer"}, "statusText": {"type": "string"},
                                                "httpVersion": {"type": "string"}, "cookies": NV_LIST,
                                                "headers": NV_LIST,
                                                "content": {"type": "object", "required": ["size", "mimeType"],
                                                            "properties": {"size": {"type": "integer"},
                                                                           "mimeType": {"type": "string"}}},
                                                "redirectURL": {"type": "string"},
                                                "headersSize": {"type": "integer", "minimum": -1},
                                                "bodySize": {"type": "integer", "minimum": -1}}},
                    "cache": {"type": "object"},
                    "timings": {"type": "object", "required": ["send", "wait", "receive"],
                                "properties": {"blocked": TIMING, "dns": TIMING, "connect": TIMING,
                                               "ssl": TIMING, "send": {"type": "number", "minimum": 0},
                                               "wait": {"type": "number", "minimum": 0},
                                               "receive": {"type": "number", "minimum": 0}}},
                    "serverIPAddress": {"type": "string"},
                    "connection": {"type": "string"},
                    "_was_pushed": {"enum": [0, 1]},
                },
            }},
        },
    }},
}


@pytest.fixture(scope="module")
def har() -> dict:
    return json.loads(render_har(build_capture()))


def test_har_validates(har: dict) -> None:
    jsonschema.Draft202012Validator(HAR_SCHEMA).validate(har)


def test_entries_and_pages(har: dict) -> None:
    log = har["log"]
    assert log["creator"]["name"] == "pushscope"
    assert [p["id"] for p in log["pages"]] == ["page_1", "page_2"]
    entries = log["entries"]
    assert len(entries) == len(build_capture().exchanges)
    started = [datetime.fromisoformat(e["startedDateTime"].replace("Z", "+00:00")) for e in entries]
    assert started == sorted(started)
    assert all(e["startedDateTime"].endswith("Z") for e in entries)
    assert {e["request"]["httpVersion"] for e in entries} == {"h2", "h3"}
    assert {e["pageref"] for e in entries if e["connection"] == "q0"} == {"page_2"}
    for entry in entries:
        t = entry["timings"]
        assert entry["time"] == pytest.approx(sum(v for v in t.values() if v > 0), abs=0.01)
        assert t["dns"] == t["connect"] == t["ssl"] == t["blocked"] == -1


def test_push_fields(har: dict) -> None:
    entries = har["log"]["entries"]
    pushed = [e for e in entries if e["_was_pushed"] == 1]
    assert len(pushed) == len(build_capture().pushes)
    assert all(e["_was_pushed"] == 0 and "_push_outcome" not in e for e in entries if e not in pushed)
    by_url = {e["request"]["url"]: e for e in pushed}
    js = by_url["https://example.test/app.js"]
    assert (js["_push_outcome"], js["_push_reason"], js["_push_wasted_bytes"]) == ("wasted", "rejected", 3030)
    assert js["_reset"]["code"] == "CANCEL"
    assert by_url["https://example.test/h3.css"]["_push_id"] == 0
    assert {e["_push_outcome"] for e in pushed} == {"used", "wasted", "cache-duplicated", "unknown"}


def test_query_string_and_server_address(har: dict) -> None:
    doc = har["log"]["entries"][0]
    assert doc["request"]["queryString"] == [{"name": "lang", "value": "en"}, {"name": "q", "value": "1"}]
    assert doc["serverIPAddress"] == "10.0.0.2"
    assert doc["timings"]["wait"] == pytest.approx(10.0)
    assert doc["timings"]["receive"] == pytest.approx(80.0)


def test_redaction() -> None:
    text = render_har(build_capture())
    for secret in (COOKIE_SECRET, SET_COOKIE_SECRET, AUTH_SECRET, "s3cr3t"):
        assert secret not in text
    doc = json.loads(text)["log"]["entries"][0]
    assert doc["request"]["cookies"] == [] and doc["response"]["cookies"] == []
    plain = har_dict(build_capture(), redact=False)["log"]["entries"][0]
    assert plain["request"]["cookies"] == [{"name": "sessionid", "value": "c00k1e-s3cr3t-value"}]
    assert plain["response"]["cookies"] == [{"name": "token", "value": "set-c00kie-s3cr3t"}]
