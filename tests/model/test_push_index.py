"""The capture's index of pushes by the stream they were promised on (what the detail pane lists under a request):
the same pushes, in the same order, as a pass over every push."""

from __future__ import annotations

import pytest

from pushscope.events import HeadersReceived, PushPromiseReceived, PushStreamOpened
from pushscope.model.entities import Capture
from pushscope.pipeline import load_capture
from tests.e2e.truth import CAPTURES
from tests.model.test_builder import fold, req, resp


def every_push_on(capture: Capture, connection_id: str, stream_id: int) -> list[int]:
    return [p.id for p in capture.pushes if p.connection_id == connection_id and p.parent_stream_id == stream_id]


def assert_index_agrees(capture: Capture) -> int:
    asked = 0
    for exchange in capture.exchanges:
        if exchange.stream_id is None:
            continue
        found = [p.id for p in capture.pushes_on_stream(exchange.connection_id, exchange.stream_id)]
        assert found == every_push_on(capture, exchange.connection_id, exchange.stream_id)
        asked += bool(found)
    return asked


@pytest.mark.parametrize("name", ["nginx-push-basic", "nginx-preload-twoloads", "apache-cancel", "h3-push-claimed",
                                  "h3-cancel-push", "h3-two-connections"])
def test_the_index_lists_what_a_pass_over_every_push_lists(name: str) -> None:
    capture = load_capture(str(CAPTURES / f"{name}.pcapng"), str(CAPTURES / f"{name}.keys"))
    assert capture.pushes
    assert assert_index_agrees(capture) > 0


def test_a_push_whose_stream_came_before_its_promise_is_listed_once_promised() -> None:
    request = HeadersReceived(connection_id="c", at=1.1, sender="client", stream_id=0, headers=req("/"),
                              end_stream=True, wire_length=20)
    push_stream = [
        PushStreamOpened(connection_id="c", at=1.2, sender="server", stream_id=15, push_id=3),
        HeadersReceived(connection_id="c", at=1.21, sender="server", stream_id=15, headers=resp("text/css"),
                        end_stream=True, wire_length=10, push_id=3),
    ]
    capture = fold(request, *push_stream, protocol="h3")
    assert capture.pushes_on_stream("c", 0) == []  # asked before the promise: the push has no stream yet
    from pushscope.model.builder import CaptureBuilder

    builder = CaptureBuilder("test")
    builder.capture = capture
    builder.apply(PushPromiseReceived(connection_id="c", at=1.3, sender="server", stream_id=0,
                                      promised_stream_id=None, headers=req("/late.css"), wire_length=12, push_id=3))
    assert [p.url for p in capture.pushes_on_stream("c", 0)] == ["https://example.test/late.css"]
    assert capture.pushes_on_stream("c", 4) == [] and capture.pushes_on_stream("other", 0) == []
    assert capture.pushes_on_stream("c", None) == []


def test_pushes_appended_after_a_question_are_found_by_the_next() -> None:
    events = [HeadersReceived(connection_id="c", at=1.0, sender="client", stream_id=1, headers=req("/"),
                              end_stream=True, wire_length=20)]
    events += [PushPromiseReceived(connection_id="c", at=1.1 + i / 100, sender="server", stream_id=1,
                                   promised_stream_id=2 + 2 * i, headers=req(f"/{i}.css"), wire_length=12)
               for i in range(3)]
    capture = fold(*events[:2])
    assert len(capture.pushes_on_stream("c", 1)) == 1
    from pushscope.model.builder import CaptureBuilder

    builder = CaptureBuilder("test")
    builder.capture = capture
    for event in events[2:]:
        builder.apply(event)
    assert [p.url.rsplit("/", 1)[1] for p in capture.pushes_on_stream("c", 1)] == ["0.css", "1.css", "2.css"]
    assert assert_index_agrees(capture) == 1
