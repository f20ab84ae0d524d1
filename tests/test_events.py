"""The event contract: events are built with keyword arguments only, like h2's and aioquic's."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from pushscope import events

EVENT_TYPES = [cls for _, cls in inspect.getmembers(events, inspect.isclass)
               if dataclasses.is_dataclass(cls) and cls.__module__ == events.__name__ and cls is not events.Endpoint]


def test_every_event_type_is_found() -> None:
    names = {cls.__name__ for cls in EVENT_TYPES}
    assert {"HeadersReceived", "FrameReceived", "PushTruthRecorded", "Diagnostic", "SourceFinished"} <= names
    assert len(EVENT_TYPES) >= 20


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda cls: cls.__name__)
def test_every_field_is_keyword_only(cls: type) -> None:
    positional = [f.name for f in dataclasses.fields(cls) if not f.kw_only]
    assert positional == [], f"{cls.__name__} accepts {positional} by position"


def test_a_positional_construction_is_refused() -> None:
    with pytest.raises(TypeError):
        events.StreamReset("c1", 1.0, "client", 1, 8, "CANCEL")  # type: ignore[misc]
    reset = events.StreamReset(connection_id="c1", at=1.0, sender="client", stream_id=1, error_code=8,
                               error_name="CANCEL")
    assert (reset.stream_id, reset.error_code, reset.position) == (1, 8, None)


def test_an_endpoint_is_a_plain_value() -> None:
    assert str(events.Endpoint("::1", 443)) == "[::1]:443"
