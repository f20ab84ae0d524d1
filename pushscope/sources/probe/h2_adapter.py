"""What the probe asks of ``h2`` beyond a plain client connection, in one place, through h2's public API only.

Browsers drop frames that arrive on a stream they reset (RFC 9113 §5.4.2 allows it); h2 answers each one with
RST_STREAM(STREAM_CLOSED). :class:`QuietResetH2Connection` drops those answers, so that the model shows one
client reset per cancelled push, as a browser's capture does. It relies on three things h2 documents:
``reset_stream`` resets a stream, a :class:`h2.events.StreamReset` with ``remote_reset=False`` reports a reset h2
sent on its own, and ``data_to_send`` returns whole serialised frames. ``tests/probe/test_h2_adapter.py`` checks
that h2 still answers such frames (otherwise this class has nothing left to do) and that the answers are dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import h2.config
import h2.connection
import h2.events
from h2.errors import ErrorCodes

if TYPE_CHECKING:
    from typing_extensions import Buffer  # what h2 accepts: anything with the buffer protocol (PEP 688)

FRAME_HEADER = 9
RST_STREAM = 0x3


class QuietResetH2Connection(h2.connection.H2Connection):
    """An ``H2Connection`` that sends no RST_STREAM in answer to a frame on a stream this side had reset.

    Only the answers to one ``receive_data`` call are filtered, and only for the streams reset before that call:
    the probe hands h2 one frame at a time, so a frame that makes h2 reset a stream is still answered.
    """

    def __init__(self, config: h2.config.H2Configuration | None = None) -> None:
        super().__init__(config=config)
        self._reset_here: set[int] = set()
        self._outbound = bytearray()  # what h2 had to send, taken out before a receive to filter only the answers

    def reset_stream(self, stream_id: int, error_code: ErrorCodes | int = 0) -> None:
        super().reset_stream(stream_id, error_code)
        self._reset_here.add(stream_id)

    def receive_data(self, data: Buffer) -> list[h2.events.Event]:
        reset_before = frozenset(self._reset_here)
        self._outbound += super().data_to_send()
        events = super().receive_data(data)
        answers = super().data_to_send()
        self._outbound += without_rst_stream(answers, reset_before) if reset_before else answers
        for event in events:
            if isinstance(event, h2.events.StreamReset) and not event.remote_reset and event.stream_id:
                self._reset_here.add(event.stream_id)
        return events

    def data_to_send(self, amount: int | None = None) -> bytes:
        self._outbound += super().data_to_send()
        if amount is None:
            amount = len(self._outbound)
        out = bytes(self._outbound[:amount])
        del self._outbound[:amount]
        return out

    def clear_outbound_data_buffer(self) -> None:
        super().clear_outbound_data_buffer()
        self._outbound.clear()


def without_rst_stream(frames: bytes, stream_ids: frozenset[int]) -> bytes:
    """Serialised HTTP/2 frames less the RST_STREAM frames on ``stream_ids``."""
    kept = bytearray()
    at = 0
    while at + FRAME_HEADER <= len(frames):
        end = at + FRAME_HEADER + int.from_bytes(frames[at:at + 3], "big")
        stream_id = int.from_bytes(frames[at + 5:at + 9], "big") & 0x7FFFFFFF
        if not (frames[at + 3] == RST_STREAM and stream_id in stream_ids):
            kept += frames[at:end]
        at = end
    kept += frames[at:]  # never more than whole frames from h2, but drop nothing we do not understand
    return bytes(kept)
