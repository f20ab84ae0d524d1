"""The frames of a decrypted QUIC packet payload (RFC 9000 section 19), as far as HTTP/3 needs them.

Sans-IO and tolerant: a frame type whose length cannot be known (an extension we do not parse) or a frame cut
short ends the walk, and what came before it is kept; ``complete`` says whether the whole payload was read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aioquic.buffer import Buffer, BufferReadError

PADDING, PING, ACK, ACK_ECN = 0x00, 0x01, 0x02, 0x03
RESET_STREAM, STOP_SENDING, CRYPTO, NEW_TOKEN = 0x04, 0x05, 0x06, 0x07
STREAM_FIRST, STREAM_LAST = 0x08, 0x0F
NEW_CONNECTION_ID, RETIRE_CONNECTION_ID = 0x18, 0x19
PATH_CHALLENGE, PATH_RESPONSE = 0x1A, 0x1B
CONNECTION_CLOSE_QUIC, CONNECTION_CLOSE_APP, HANDSHAKE_DONE = 0x1C, 0x1D, 0x1E
DATAGRAM, DATAGRAM_WITH_LENGTH = 0x30, 0x31
# Frames made of N varints and nothing else.
VARINT_FRAMES = {0x10: 1, 0x11: 2, 0x12: 1, 0x13: 1, 0x14: 1, 0x15: 2, 0x16: 1, 0x17: 1, RETIRE_CONNECTION_ID: 1,
                 0xAF: 4}  # 0xaf: ACK_FREQUENCY (draft-ietf-quic-ack-frequency), sent by Chrome


@dataclass(slots=True)
class StreamFrame:
    stream_id: int
    offset: int
    data: bytes
    fin: bool


@dataclass(slots=True)
class PacketFrames:
    """What one payload held, in wire order: ``items`` as (kind, value) with the kinds quic_rows acts on
    ("stream", "reset", "stop", "close"), plus the connection IDs the sender issued."""

    items: list[tuple[str, object]] = field(default_factory=list)
    new_connection_ids: list[bytes] = field(default_factory=list)
    largest_acked: int | None = None
    frame_types: list[int] = field(default_factory=list)
    complete: bool = True


def parse_frames(payload: bytes) -> PacketFrames:
    result = PacketFrames()
    buf = Buffer(data=payload)
    try:
        while not buf.eof():
            frame_type = buf.pull_uint_var()
            result.frame_types.append(frame_type)
            if not _frame(buf, frame_type, result):
                result.complete = False
                break
    except BufferReadError:
        result.complete = False
    return result


def _frame(buf: Buffer, frame_type: int, result: PacketFrames) -> bool:
    """Read one frame's body; False for a type whose length we cannot know."""
    if frame_type in (PADDING, PING, HANDSHAKE_DONE):
        return True
    if STREAM_FIRST <= frame_type <= STREAM_LAST:
        result.items.append(("stream", _stream(buf, frame_type)))
    elif frame_type in (ACK, ACK_ECN):
        result.largest_acked = _ack(buf, frame_type == ACK_ECN)
    elif frame_type == RESET_STREAM:
        stream_id, code = buf.pull_uint_var(), buf.pull_uint_var()
        buf.pull_uint_var()  # final size
        result.items.append(("reset", (stream_id, code)))
    elif frame_type == STOP_SENDING:
        result.items.append(("stop", (buf.pull_uint_var(), buf.pull_uint_var())))
    elif frame_type in (CRYPTO, NEW_TOKEN):
        if frame_type == CRYPTO:
            buf.pull_uint_var()
        buf.pull_bytes(buf.pull_uint_var())
    elif frame_type == NEW_CONNECTION_ID:
        buf.pull_uint_var()
        buf.pull_uint_var()
        result.new_connection_ids.append(buf.pull_bytes(buf.pull_uint8()))
        buf.pull_bytes(16)  # stateless reset token
    elif frame_type in (PATH_CHALLENGE, PATH_RESPONSE):
        buf.pull_bytes(8)
    elif frame_type in (CONNECTION_CLOSE_QUIC, CONNECTION_CLOSE_APP):
        code = buf.pull_uint_var()
        if frame_type == CONNECTION_CLOSE_QUIC:
            buf.pull_uint_var()  # the frame type that caused it
        buf.pull_bytes(buf.pull_uint_var())
        result.items.append(("close", (code, None) if frame_type == CONNECTION_CLOSE_QUIC else (None, code)))
    elif frame_type in VARINT_FRAMES:
        for _ in range(VARINT_FRAMES[frame_type]):
            buf.pull_uint_var()
    elif frame_type in (DATAGRAM, DATAGRAM_WITH_LENGTH):
        length = buf.pull_uint_var() if frame_type == DATAGRAM_WITH_LENGTH else buf.capacity - buf.tell()
        buf.pull_bytes(length)
    else:
        return False
    return True


def _stream(buf: Buffer, frame_type: int) -> StreamFrame:
    stream_id = buf.pull_uint_var()
    offset = buf.pull_uint_var() if frame_type & 0x04 else 0
    length = buf.pull_uint_var() if frame_type & 0x02 else buf.capacity - buf.tell()
    return StreamFrame(stream_id, offset, buf.pull_bytes(length), bool(frame_type & 0x01))


def _ack(buf: Buffer, ecn: bool) -> int:
    largest = buf.pull_uint_var()
    buf.pull_uint_var()  # ack delay
    ranges = buf.pull_uint_var()
    buf.pull_uint_var()  # first range
    for _ in range(ranges * 2):
        buf.pull_uint_var()
    if ecn:
        for _ in range(3):
            buf.pull_uint_var()
    return largest
