"""Frame types are integers from the decoders to the model; this names them, for the views and exports only.

One naming function per protocol: ``h2_names.frame_type_name`` (HTTP/2, RFC 9113) and
``h3_frames.frame_type_name`` (HTTP/3, RFC 9114, and the drafts' types); QUIC's own frames that the timeline
shows (RESET_STREAM, STOP_SENDING) are named here. The protocol comes from the connection; HTTP/1.1 records a
message head and its body bytes with the two types HTTP/2 and HTTP/3 share, HEADERS and DATA.
"""

from __future__ import annotations

from pushscope.decode import h2_names, h3_frames

# The same code in HTTP/2 and HTTP/3 (and HTTP/1.1's timeline records).
DATA = 0x0
HEADERS = 0x1
PUSH_PROMISE = 0x5
CANCEL_PUSH = 0x3  # HTTP/3's (0x3 is RST_STREAM in HTTP/2)
# QUIC transport frames (RFC 9000 §19.4, §19.5) on an HTTP/3 stream's timeline.
QUIC_RESET_STREAM = 0x04
QUIC_STOP_SENDING = 0x05
QUIC_FRAME_NAMES = {QUIC_RESET_STREAM: "RESET_STREAM", QUIC_STOP_SENDING: "STOP_SENDING"}


def frame_name(protocol: str, frame_type: int, *, quic: bool = False) -> str:
    """The frame type's name in ``protocol`` ("h2", "h3", "http/1.1"); ``quic``: a QUIC frame, not an HTTP one."""
    if quic:
        return QUIC_FRAME_NAMES.get(frame_type, f"UNKNOWN_0x{frame_type:x}")
    if protocol == "h3":
        return h3_frames.frame_type_name(frame_type)
    return h2_names.frame_type_name(frame_type)


def frame_type_of(protocol: str, name: str) -> int | None:
    """The inverse of ``frame_name`` for HTTP frames: the code ``name`` has in ``protocol``, or None."""
    table = h3_frames.FRAME_NAMES if protocol == "h3" else h2_names.FRAME_TYPES
    for code, known in table.items():
        if known == name:
            return code
    if "_0x" in name:
        try:
            return int(name.rsplit("_0x", 1)[1], 16)
        except ValueError:
            return None
    return None
