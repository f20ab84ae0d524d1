"""Property tests: whatever bytes a broken or hostile peer sends, the passive decoders and the model never raise.

Inputs start from real frames and are then cut, spliced and corrupted, so the fuzzing reaches deep states
(CONTINUATION, HPACK, QPACK, push streams) rather than failing at the first header.
"""

from __future__ import annotations

import os

import hpack
from hyperframe.frame import ContinuationFrame, DataFrame, HeadersFrame, PushPromiseFrame, RstStreamFrame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pushscope.analysis import analyse
from pushscope.decode.h2 import PREFACE, H2ConnectionDecoder
from pushscope.decode.h3 import H3ConnectionDecoder
from pushscope.events import ConnectionOpened, Endpoint
from pushscope.model.builder import CaptureBuilder

EXAMPLES = int(os.environ.get("PUSHSCOPE_FUZZ_EXAMPLES", "300"))  # (a long run: see test_hostile_fuzz)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _seed_h2_server_bytes() -> bytes:
    encoder = hpack.Encoder()
    headers = HeadersFrame(1, encoder.encode([(":status", "200"), ("content-type", "text/html")]))
    headers.flags.add("END_HEADERS")
    block = encoder.encode([(":method", "GET"), (":path", "/a.css"), (":scheme", "https"), (":authority", "x")])
    promise = PushPromiseFrame(1, promised_stream_id=2, data=block[:5])
    rest = ContinuationFrame(1, block[5:])
    rest.flags.add("END_HEADERS")
    data = DataFrame(1, b"<link rel=stylesheet href=/a.css>")
    data.flags.add("END_STREAM")
    return b"".join(f.serialize() for f in (headers, promise, rest, data, RstStreamFrame(2, error_code=8)))


SEED = _seed_h2_server_bytes()


def _mutate(seed: bytes, cuts: list[int], noise: bytes, position: int) -> bytes:
    data = bytearray(seed)
    if data:
        position %= len(data)
        data[position:position + len(noise)] = noise
    for cut in cuts:
        if data:
            del data[cut % len(data)]
    return bytes(data)


def _fold(events: list) -> None:
    builder = CaptureBuilder("fuzz")
    builder.apply(ConnectionOpened(connection_id="c", at=0.0, client=Endpoint("10.0.0.1", 5000),
                                   server=Endpoint("10.0.0.2", 443), transport="tls", protocol="h2"))
    for event in events:
        builder.apply(event)
    analyse(builder.capture)


@FUZZ
@given(cuts=st.lists(st.integers(0, 10_000), max_size=5), noise=st.binary(max_size=12), position=st.integers(0, 10_000),
       chunk=st.integers(1, 64), client=st.binary(max_size=80))
def test_h2_decoder_and_model_never_raise(cuts: list[int], noise: bytes, position: int, chunk: int,
                                          client: bytes) -> None:
    decoder = H2ConnectionDecoder("c")
    events = decoder.receive("client", PREFACE + client, 0.0)
    server = _mutate(SEED, cuts, noise, position)
    for offset in range(0, len(server), chunk):
        events += decoder.receive("server", server[offset:offset + chunk], 0.001 * offset)
    _fold(events)


@FUZZ
@given(data=st.binary(max_size=400), chunk=st.integers(1, 64))
def test_h2_decoder_never_raises_on_random_client_bytes(data: bytes, chunk: int) -> None:
    decoder = H2ConnectionDecoder("c")
    for offset in range(0, len(data), chunk):
        decoder.receive("client", data[offset:offset + chunk], 0.0)
        decoder.receive("server", data[offset:offset + chunk], 0.0)


@FUZZ
@given(
    streams=st.lists(
        st.tuples(st.sampled_from(["client", "server"]), st.sampled_from([0, 2, 3, 4, 7, 11, 15]),
                  st.binary(max_size=120), st.booleans()),
        max_size=12,
    )
)
def test_h3_decoder_and_model_never_raise(streams: list[tuple[str, int, bytes, bool]]) -> None:
    decoder = H3ConnectionDecoder("c", alpn="h3")
    events = []
    for index, (sender, stream_id, data, fin) in enumerate(streams):
        events += decoder.receive_stream_data(sender, stream_id, data, fin, index * 0.001)  # type: ignore[arg-type]
        if index % 5 == 4:
            events += decoder.receive_reset_stream(sender, stream_id, 0x10C, index * 0.001)  # type: ignore[arg-type]
    events += decoder.finish(1.0)
    builder = CaptureBuilder("fuzz")
    builder.apply(ConnectionOpened(connection_id="c", at=0.0, client=Endpoint("10.0.0.1", 5000),
                                   server=Endpoint("10.0.0.2", 443), transport="quic", protocol="h3"))
    for event in events:
        builder.apply(event)
    analyse(builder.capture)


def test_seed_reaches_the_deep_states() -> None:
    """The unmutated seed decodes fully, so mutations of it exercise HPACK, CONTINUATION and push paths."""
    from pushscope.events import DataReceived, HeadersReceived, PushPromiseReceived, StreamReset

    decoder = H2ConnectionDecoder("c")
    decoder.receive("client", PREFACE, 0.0)
    kinds = {type(e) for e in decoder.receive("server", SEED, 0.0)}
    assert {HeadersReceived, PushPromiseReceived, DataReceived, StreamReset} <= kinds


H1_SEED = (b"GET /index.html HTTP/1.1\r\nHost: a.test\r\n\r\nPOST /f HTTP/1.1\r\nHost: a.test\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n0\r\nt: 1\r\n\r\n")
H1_SERVER_SEED = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
                  b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n")


@FUZZ
@given(cuts=st.lists(st.integers(0, 10_000), max_size=5), noise=st.binary(max_size=12), position=st.integers(0, 10_000),
       chunk=st.integers(1, 64), server_first=st.booleans())
def test_http1_decoder_never_raises(cuts: list[int], noise: bytes, position: int, chunk: int,
                                    server_first: bool) -> None:
    from pushscope.decode.h1 import H1ConnectionDecoder

    decoder = H1ConnectionDecoder("c")
    client = _mutate(H1_SEED, cuts, noise, position)
    server = _mutate(H1_SERVER_SEED, cuts[::-1], noise[::-1], position // 2)
    order = [("server", server), ("client", client)] if server_first else [("client", client), ("server", server)]
    events = []
    for sender, data in order:
        for i in range(0, len(data), chunk):
            events += decoder.receive(sender, data[i:i + chunk], 1.0)  # type: ignore[arg-type]
        events += decoder.close(sender, 2.0)  # type: ignore[arg-type]
    _fold(events)


@FUZZ
@given(cuts=st.lists(st.integers(0, 10_000), max_size=5), noise=st.binary(max_size=12), position=st.integers(0, 10_000))
def test_tolerant_header_decoders_never_raise(cuts: list[int], noise: bytes, position: int) -> None:
    from pushscope.decode.hpack_tolerant import TolerantHpackDecoder
    from pushscope.decode.qpack_tolerant import decode_without_dynamic_table

    block = _mutate(hpack.Encoder().encode([(":method", "GET"), (":path", "/x"), ("a", "b" * 40)]), cuts, noise,
                    position)
    TolerantHpackDecoder().decode(block)
    TolerantHpackDecoder(state_known=True).decode(block)
    decode_without_dynamic_table(block)
