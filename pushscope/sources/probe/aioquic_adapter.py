"""What the probe asks of ``aioquic``, in one place, through the classes aioquic means to be subclassed or used.

- :class:`ObservedQuicConnection`: a ``QuicConnection`` that reports the stream data, RESET_STREAM and
  STOP_SENDING this side sends, so the probe's HTTP/3 decoder sees both directions. It relies on
  ``H3Connection`` sending everything through the connection's public ``send_stream_data``, ``reset_stream``
  and ``stop_stream``.
- :class:`ProbeQuicProtocol`: a ``QuicConnectionProtocol`` (whose ``quic_event_received`` aioquic asks
  subclasses to reimplement) that counts the UDP datagrams in both directions and hands every QUIC event to the
  probe. It relies on the protocol sending through the transport given to ``connection_made``.
- :class:`PushRefusingH3Connection`: an ``H3Connection`` client that sends no MAX_PUSH_ID. aioquic has no option
  for it, so this is the one place that touches aioquic's private members (``_max_push_id``, read by
  ``_init_connection`` when the connection starts).

``tests/probe/test_aioquic_adapter.py`` checks all three against the installed aioquic.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol, cast

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3Connection
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import NetworkAddress, QuicConnection
from aioquic.quic.events import QuicEvent

from pushscope.events import Side


class SentStreamListener(Protocol):
    def stream_data_sent(self, stream_id: int, data: bytes, end_stream: bool) -> None: ...
    def stream_reset_sent(self, stream_id: int, error_code: int) -> None: ...
    def stop_sending_sent(self, stream_id: int, error_code: int) -> None: ...


class ProtocolListener(Protocol):
    def datagram(self, sender: Side, length: int) -> None: ...
    def network_error(self, exc: Exception) -> None: ...
    def quic_event(self, event: QuicEvent) -> None: ...


class ObservedQuicConnection(QuicConnection):
    """A client or server ``QuicConnection`` telling ``listener`` what it was asked to send on streams, after
    aioquic has accepted it (a call aioquic refuses raises before the listener hears of it)."""

    def __init__(self, *, configuration: QuicConfiguration, listener: SentStreamListener) -> None:
        super().__init__(configuration=configuration)
        self._listener = listener

    def send_stream_data(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        super().send_stream_data(stream_id, data, end_stream)
        self._listener.stream_data_sent(stream_id, bytes(data), end_stream)

    def reset_stream(self, stream_id: int, error_code: int) -> None:
        super().reset_stream(stream_id, error_code)
        self._listener.stream_reset_sent(stream_id, error_code)

    def stop_stream(self, stream_id: int, error_code: int) -> None:
        super().stop_stream(stream_id, error_code)
        self._listener.stop_sending_sent(stream_id, error_code)


class CountingTransport(asyncio.DatagramTransport):
    """A datagram transport that tells its listener the length of each datagram it sends."""

    def __init__(self, inner: asyncio.DatagramTransport, listener: ProtocolListener) -> None:
        super().__init__(extra=None)
        self._inner, self._listener = inner, listener

    def sendto(self, data: bytes | bytearray | memoryview, addr: Any = None) -> None:
        self._listener.datagram("client", len(data))
        self._inner.sendto(data, addr)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._inner.get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self._inner.is_closing()

    def close(self) -> None:
        self._inner.close()

    def abort(self) -> None:
        self._inner.abort()


class ProbeQuicProtocol(QuicConnectionProtocol):
    def __init__(self, quic: QuicConnection, listener: ProtocolListener) -> None:
        super().__init__(quic)
        self._listener = listener

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(CountingTransport(cast(asyncio.DatagramTransport, transport), self._listener))

    def error_received(self, exc: Exception) -> None:
        self._listener.network_error(exc)

    def datagram_received(self, data: bytes | str, addr: NetworkAddress) -> None:
        self._listener.datagram("server", len(data))
        super().datagram_received(data, addr)

    def quic_event_received(self, event: QuicEvent) -> None:
        # Not the base class's: it wraps every stream in asyncio streams whose writers, when collected, send a
        # FIN of their own. The probe handles streams through H3Connection only.
        self._listener.quic_event(event)


class PushRefusingH3Connection(H3Connection):
    """A client that sends no MAX_PUSH_ID: the server may not push (RFC 9114 section 4.6)."""

    def _init_connection(self) -> None:
        self._max_push_id = None  # private: aioquic sends MAX_PUSH_ID from here when it is set
        super()._init_connection()
