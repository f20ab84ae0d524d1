"""Before or after: wire order within a connection, time only across connections.

Frames that share a TCP segment, a TLS record or a QUIC packet share a capture timestamp, so time cannot say
whether a PUSH_PROMISE was written before or after the response it races with. Within one connection the
events one sender wrote carry their position in what it wrote (``Event.position``), which can.
"""

from __future__ import annotations

from pushscope.model.entities import Exchange, Push


def response_arrived_before_promise(exchange: Exchange, push: Push) -> bool:
    """Had ``exchange``'s response fully arrived when ``push`` was promised?

    Both are the server's writes when they share a connection, so their positions order them; otherwise (or
    when a source gave no position) a response that ends at the promise's own timestamp counts as arrived.
    """
    if exchange.response_end is None:
        return False
    if (exchange.connection_id == push.connection_id and exchange.response_end_position is not None
            and push.promised_position is not None):
        return exchange.response_end_position < push.promised_position
    return exchange.response_end <= push.promised_at
