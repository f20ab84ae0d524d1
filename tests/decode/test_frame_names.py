"""Frame types travel as integers; the views name them, one naming function per protocol."""

from __future__ import annotations

import pytest

from pushscope.decode import frame_names, h2_names, h3_frames, quic_frames
from pushscope.decode.frame_names import frame_name, frame_type_of
from pushscope.decode.h1 import H1ConnectionDecoder
from pushscope.events import FrameReceived


@pytest.mark.parametrize(("protocol", "table"), [("h2", h2_names.FRAME_TYPES), ("h3", h3_frames.FRAME_NAMES)])
def test_every_named_type_round_trips(protocol: str, table: dict[int, str]) -> None:
    for code, name in table.items():
        assert frame_name(protocol, code) == name
        assert frame_type_of(protocol, name) == code


def test_unnamed_types_keep_their_code_in_the_name() -> None:
    assert frame_name("h2", 0xB) == "UNKNOWN_0x0b" and frame_type_of("h2", "UNKNOWN_0x0b") == 0xB
    grease = 0x1F * 3 + 0x21
    assert frame_name("h3", grease) == f"RESERVED_0x{grease:x}"
    assert frame_type_of("h3", frame_name("h3", grease)) == grease
    assert frame_name("h3", 0x4242) == "UNKNOWN_0x4242"
    assert frame_type_of("h2", "NO_SUCH_FRAME") is None


def test_the_same_code_means_what_the_connection_protocol_says() -> None:
    assert (frame_name("h2", 0x3), frame_name("h3", 0x3)) == ("RST_STREAM", "CANCEL_PUSH")
    assert (frame_name("h2", 0xD), frame_name("h3", 0xD)) == ("UNKNOWN_0x0d", "MAX_PUSH_ID")
    # QUIC's frames on an HTTP/3 timeline have QUIC's codes, which collide with HTTP/3's.
    assert frame_name("h3", quic_frames.RESET_STREAM, quic=True) == "RESET_STREAM"
    assert frame_name("h3", quic_frames.STOP_SENDING, quic=True) == "STOP_SENDING"
    assert frame_name("h3", quic_frames.STOP_SENDING) == "PUSH_PROMISE"


def test_the_shared_codes_are_the_protocols_own() -> None:
    for protocol in ("h2", "h3"):
        assert frame_type_of(protocol, "DATA") == frame_names.DATA
        assert frame_type_of(protocol, "HEADERS") == frame_names.HEADERS
        assert frame_type_of(protocol, "PUSH_PROMISE") == frame_names.PUSH_PROMISE
    assert frame_type_of("h3", "CANCEL_PUSH") == frame_names.CANCEL_PUSH
    assert (frame_names.QUIC_RESET_STREAM, frame_names.QUIC_STOP_SENDING) == (quic_frames.RESET_STREAM,
                                                                               quic_frames.STOP_SENDING)


def test_http1_records_heads_and_bodies_with_the_shared_codes() -> None:
    decoder = H1ConnectionDecoder("c1")
    events = decoder.receive("client", b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", 1.0)
    events += decoder.receive("server", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", 1.1)
    frames = [(e.sender, frame_name("http/1.1", e.frame_type)) for e in events if isinstance(e, FrameReceived)]
    assert frames == [("client", "HEADERS"), ("server", "HEADERS"), ("server", "DATA")]
    assert all(isinstance(e.frame_type, int) for e in events if isinstance(e, FrameReceived))
