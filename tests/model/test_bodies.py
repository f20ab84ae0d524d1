"""Undoing Content-Encoding on kept bodies; anything unreadable is BodyUnavailable, never another exception."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest
import zstandard

from pushscope.model.bodies import BodyUnavailable, decoded_body
from pushscope.model.entities import Exchange

DOCUMENT = b"<!doctype html><link rel=stylesheet href=/style.css>" + b"<p>filler</p>" * 200


def exchange(body: bytes, encoding: str | None, *, complete: bool = True) -> Exchange:
    ex = Exchange(0, "c", "h2", 1)
    ex.response_headers = [(":status", "200"), ("content-type", "text/html")]
    if encoding is not None:
        ex.response_headers.append(("content-encoding", encoding))
    ex.body = bytearray(body)
    ex.body_bytes = len(body)
    ex.response_end = 2.0 if complete else None
    return ex


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


ENCODED = {
    "identity": DOCUMENT,
    "gzip": gzip.compress(DOCUMENT),
    "x-gzip": gzip.compress(DOCUMENT),
    "deflate-zlib": zlib.compress(DOCUMENT),
    "deflate-raw": raw_deflate(DOCUMENT),
    "br": brotli.compress(DOCUMENT),
    "zstd": zstandard.ZstdCompressor().compress(DOCUMENT),
    "zstd-no-size": zstandard.ZstdCompressor(write_content_size=False).compress(DOCUMENT),
}


@pytest.mark.parametrize("name", sorted(ENCODED))
def test_single_encoding(name: str) -> None:
    header = name.split("-")[0] if name.startswith(("deflate", "zstd")) else name
    assert decoded_body(exchange(ENCODED[name], header)) == DOCUMENT


def test_no_encoding() -> None:
    assert decoded_body(exchange(DOCUMENT, None)) == DOCUMENT


def test_encoding_names_are_case_insensitive() -> None:
    assert decoded_body(exchange(ENCODED["gzip"], "GZIP")) == DOCUMENT


def test_stacked_encodings_undone_in_reverse_order() -> None:
    # "gzip, br": gzip was applied first, then br; the client undoes br, then gzip.
    body = brotli.compress(gzip.compress(DOCUMENT))
    assert decoded_body(exchange(body, "gzip, br")) == DOCUMENT
    body = zstandard.ZstdCompressor().compress(zlib.compress(DOCUMENT))
    assert decoded_body(exchange(body, "deflate,zstd")) == DOCUMENT


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_corrupt_body_is_body_unavailable(encoding: str) -> None:
    with pytest.raises(BodyUnavailable, match=encoding):
        decoded_body(exchange(b"this is not compressed at all", encoding))


def test_wrong_order_of_stacked_encodings_is_body_unavailable() -> None:
    with pytest.raises(BodyUnavailable):
        decoded_body(exchange(brotli.compress(gzip.compress(DOCUMENT)), "br, gzip"))


def test_unsupported_encoding() -> None:
    with pytest.raises(BodyUnavailable, match="unsupported Content-Encoding compress"):
        decoded_body(exchange(DOCUMENT, "compress"))


def test_empty_gzip_body_of_complete_response_is_unavailable() -> None:
    with pytest.raises(BodyUnavailable, match="ended early"):
        decoded_body(exchange(b"", "gzip"))


def test_incomplete_response_gives_the_prefix() -> None:
    body = gzip.compress(DOCUMENT)
    partial = decoded_body(exchange(body[: len(body) // 2], "gzip", complete=False))
    assert partial and DOCUMENT.startswith(partial)


def test_complete_response_with_truncated_gzip_is_unavailable() -> None:
    body = gzip.compress(DOCUMENT)
    with pytest.raises(BodyUnavailable):
        decoded_body(exchange(body[: len(body) // 2], "gzip", complete=True))


def test_body_not_kept_is_unavailable() -> None:
    ex = exchange(b"", None)
    ex.body_bytes = 500
    with pytest.raises(BodyUnavailable, match="not captured"):
        decoded_body(ex)


def test_body_over_keep_limit_is_unavailable() -> None:
    ex = exchange(DOCUMENT, None)
    ex.body_truncated = True
    with pytest.raises(BodyUnavailable, match="kept limit"):
        decoded_body(ex)
