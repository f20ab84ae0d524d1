"""Fuzzing what reads hostile bytes besides the frame decoders: the bounded HPACK decoder, the body decoders,
the reference extractor and the key log reader. None may raise anything but their documented errors, and
every output stays within its bound. ``PUSHSCOPE_FUZZ_EXAMPLES=20000`` makes a long run (see README)."""

from __future__ import annotations

import os
import zlib

import hpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pushscope.decode.hpack_bounded import BoundedHpackDecoder
from pushscope.http.bodies import BodyUnavailable, undo_encodings
from pushscope.http.references import references_in
from pushscope.safe_text import has_unsafe, visible

EXAMPLES = int(os.environ.get("PUSHSCOPE_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CODINGS = st.lists(st.sampled_from(["gzip", "deflate", "br", "zstd", "identity", "x-gzip", "compress", " "]),
                   max_size=3).map(", ".join)


@FUZZ
@given(blocks=st.lists(st.binary(max_size=300), max_size=4))
def test_bounded_hpack_raises_only_hpack_errors(blocks: list[bytes]) -> None:
    decoder = BoundedHpackDecoder(max_header_list_size=4096, max_table_size=8192)
    for block in blocks:
        try:
            headers, _notes = decoder.decode_block(block)
        except (hpack.HPACKError, ValueError, IndexError):
            continue
        assert sum(len(n) + len(v) + 32 for n, v in headers) <= 4096
        assert decoder.header_table_size <= 8192


@FUZZ
@given(data=st.binary(max_size=600), codings=CODINGS, seed=st.sampled_from([b"", b"<a href=/x>" * 40]))
def test_body_decoders_raise_only_body_unavailable(data: bytes, codings: str, seed: bytes) -> None:
    if seed:  # start from a real gzip stream, then cut or corrupt it
        data = zlib.compress(seed)[: len(data) or None] + data[:8]
    try:
        body = undo_encodings(data, codings, complete=bool(len(data) % 2), limit=2048)
    except BodyUnavailable:
        return
    assert len(body.data) <= max(2048, len(data))


@FUZZ
@given(text=st.text(max_size=400), content_type=st.sampled_from(["text/html", "text/css", ""]),
       base=st.sampled_from(["https://h/", "http://[::1]:8080/a/", "http://[bad/", "https://h:99999/"]))
def test_reference_extractor_never_raises(text: str, content_type: str, base: str) -> None:
    noisy = text.replace("L", "<link rel=stylesheet href=").replace("U", "url(").replace("I", "@import ")
    for reference in references_in(content_type, noisy.encode("utf-8", "surrogatepass"), base):
        assert reference.offset >= 0


@FUZZ
@given(text=st.text())
def test_visible_never_lets_a_control_through(text: str) -> None:
    assert not has_unsafe(visible(text))
