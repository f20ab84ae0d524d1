"""The hostile corpus: captures whose every byte an attacker chose, plus mutations of the project's captures.

    python tests/hostile/make_corpus.py OUT_DIR [--mutations N]

Each capture is cleartext HTTP/2 (prior knowledge) between loopback ports, written by ``pcap_writer``; the
server side is what a hostile server would send: escape sequences in headers and paths, header-list and HPACK
bombs, compression bombs, 100,000 links, one URL pushed 10,000 times, URLs urllib refuses, huge numbers in
cache headers, bytes that are not UTF-8. ``run_corpus.py`` runs pushscope on all of them.
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import brotli
import hpack
import zstandard
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    GoAwayFrame,
    HeadersFrame,
    PushPromiseFrame,
    SettingsFrame,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pcap_writer import PcapWriter, TcpConversation  # noqa: E402

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
ESC = "\x1b"
TERMINAL_ATTACK = f"{ESC}]0;pwned{ESC}\\{ESC}]52;c;ZWNobyBwd25lZA=={ESC}\\{ESC}[2J\x9b31m\u202e"


HUFFMAN = hpack.huffman.HuffmanEncoder(hpack.huffman_constants.REQUEST_CODES,
                                       hpack.huffman_constants.REQUEST_CODES_LENGTH)


def _hpack_length(length: int, *, huffman: bool) -> bytes:
    encoded = bytearray(hpack.hpack.encode_integer(length, 7))
    if huffman:
        encoded[0] |= 0x80
    return bytes(encoded)


class H2Server:
    """Frames a hostile server sends, HPACK-encoded with a real encoder unless a raw block is given."""

    def __init__(self) -> None:
        self.encoder = hpack.Encoder()
        self.client_encoder = hpack.Encoder()

    def request(self, stream_id: int, path: str, authority: str = "127.0.0.1:8080") -> bytes:
        block = self.client_encoder.encode([(":method", "GET"), (":scheme", "http"), (":authority", authority),
                                            (":path", path)])
        frame = HeadersFrame(stream_id, block)
        frame.flags.add("END_HEADERS")
        frame.flags.add("END_STREAM")
        return frame.serialize()

    def headers(self, stream_id: int, headers: list[tuple[str | bytes, str | bytes]], end: bool = False) -> bytes:
        frame = HeadersFrame(stream_id, self.encoder.encode(headers))
        frame.flags.add("END_HEADERS")
        if end:
            frame.flags.add("END_STREAM")
        return frame.serialize()

    def raw_headers(self, stream_id: int, block: bytes, chunk: int = 16384) -> bytes:
        parts = [block[i:i + chunk] for i in range(0, len(block), chunk)] or [b""]
        first = HeadersFrame(stream_id, parts[0])
        frames = [first] + [ContinuationFrame(stream_id, part) for part in parts[1:]]
        frames[-1].flags.add("END_HEADERS")
        return b"".join(f.serialize() for f in frames)

    def promise(self, stream_id: int, promised: int, path: str, authority: str = "127.0.0.1:8080") -> bytes:
        block = self.encoder.encode([(":method", "GET"), (":scheme", "http"), (":authority", authority),
                                     (":path", path)])
        frame = PushPromiseFrame(stream_id, promised_stream_id=promised, data=block)
        frame.flags.add("END_HEADERS")
        return frame.serialize()

    @staticmethod
    def data(stream_id: int, payload: bytes, end: bool = True, chunk: int = 16384) -> bytes:
        out = []
        for offset in range(0, max(len(payload), 1), chunk):
            frame = DataFrame(stream_id, payload[offset:offset + chunk])
            if end and offset + chunk >= len(payload):
                frame.flags.add("END_STREAM")
            out.append(frame.serialize())
        return b"".join(out)


def _conversation(path: Path, build: Callable[[TcpConversation, H2Server], None]) -> None:
    partial = path.with_suffix(".partial")
    writer = PcapWriter(partial)
    try:
        conv = TcpConversation(writer, 40000)
        server = H2Server()
        conv.send("client", PREFACE + SettingsFrame(0).serialize())
        conv.send("server", SettingsFrame(0).serialize())
        build(conv, server)
        conv.close()
    finally:
        writer.close()
    partial.rename(path)


def _page(conv: TcpConversation, s: H2Server, body: bytes, headers: list | None = None, path: str = "/") -> None:
    conv.send("client", s.request(1, path))
    conv.send("server", s.headers(1, headers or [(":status", "200"), ("content-type", "text/html")]))
    conv.send("server", s.data(1, body))


def terminal_escapes(conv: TcpConversation, s: H2Server) -> None:
    conv.send("client", s.request(1, f"/{TERMINAL_ATTACK}"))
    conv.send("server", s.headers(1, [(":status", "200"), ("content-type", "text/html"),
                                      (f"x-{ESC}[31m", TERMINAL_ATTACK), ("link", f"</a{ESC}[2J.css>; rel=preload")]))
    conv.send("server", s.promise(1, 2, f"/{TERMINAL_ATTACK}.css", authority=f"evil{ESC}[5m.test"))
    conv.send("server", s.data(1, f"<link rel=stylesheet href='/{TERMINAL_ATTACK}.css'>".encode()))
    conv.send("server", s.headers(2, [(":status", "200"), ("content-type", f"text/css{ESC}[8m")]))
    conv.send("server", s.data(2, b"body{}"))
    conv.send("server", GoAwayFrame(0, last_stream_id=1, error_code=0x1B, additional_data=TERMINAL_ATTACK.encode())
              .serialize())


def header_list_bomb(conv: TcpConversation, s: H2Server) -> None:
    # One 4 KiB literal indexed into the dynamic table, then referenced 200,000 times (1 byte each): 800 MB of
    # header list from 200 kB of block if nothing bounds it.
    block = bytearray(b"\x3f\xe1\xff\x03")  # dynamic table size update to 65535
    block += s.encoder.encode([("x-big", "A" * 4096)])  # literal with incremental indexing -> index 62
    block += bytes([0x80 | 62]) * 200_000
    conv.send("client", s.request(1, "/"))
    conv.send("server", s.raw_headers(1, bytes(block)))
    conv.send("server", s.headers(1, [(":status", "200")], end=True))
    conv.send("client", s.request(3, "/after"))
    conv.send("server", s.headers(3, [(":status", "204")], end=True))


def hpack_literal_flood(conv: TcpConversation, s: H2Server) -> None:
    # 300,000 empty literals (3 bytes each) in one block: quadratic if each literal copies the rest of the block.
    block = bytes([0x00, 0x00, 0x00]) * 300_000
    conv.send("client", s.request(1, "/"))
    conv.send("server", s.raw_headers(1, block))
    conv.send("server", s.data(1, b"x"))


def hpack_table_abuse(conv: TcpConversation, s: H2Server) -> None:
    # A table size update to 2^32-ish, then huge Huffman-coded literals indexed one after another.
    block = bytearray(b"\x3f" + bytes([0xFF] * 4) + b"\x0f")  # size update ~ 2^28+
    value = HUFFMAN.encode(b"0" * 200_000)
    for n in range(20):
        name = f"x-big-{n:02d}".encode()
        block += b"\x40" + bytes([len(name)]) + name + _hpack_length(len(value), huffman=True) + value
    conv.send("client", s.request(1, "/"))
    conv.send("server", s.raw_headers(1, bytes(block)))
    conv.send("server", s.headers(1, [(":status", "200")], end=True))


def _bomb_page(encoding: str, payload: bytes) -> Callable[[TcpConversation, H2Server], None]:
    def build(conv: TcpConversation, s: H2Server) -> None:
        _page(conv, s, payload, [(":status", "200"), ("content-type", "text/html"), ("content-encoding", encoding)])
    return build


def _gzip_bomb(size: int) -> bytes:
    return gzip.compress(b"<link rel=stylesheet href=/a.css>" + b" " * size, compresslevel=9)


def many_links(conv: TcpConversation, s: H2Server) -> None:
    body = "".join(f"<img src=/i{n}.png>\n" for n in range(100_000)).encode()
    _page(conv, s, body)


def one_url_pushed_many_times(conv: TcpConversation, s: H2Server) -> None:
    conv.send("client", s.request(1, "/"))
    conv.send("server", s.headers(1, [(":status", "200"), ("content-type", "text/html")]))
    out = bytearray()
    for n in range(10_000):
        out += s.promise(1, 2 + 2 * n, "/same.css")
    conv.send("server", bytes(out))
    out = bytearray()
    for n in range(10_000):
        out += s.headers(2 + 2 * n, [(":status", "200"), ("content-type", "text/css")])
        out += s.data(2 + 2 * n, b"a{}")
    conv.send("server", bytes(out))
    conv.send("server", s.data(1, b"<link rel=stylesheet href=/same.css>"))


def unparseable_values(conv: TcpConversation, s: H2Server) -> None:
    conv.send("client", s.request(1, "/", authority="[::1"))
    conv.send("server", s.headers(1, [(":status", "301"), ("location", "http://[::1/x"),
                                      ("cache-control", "max-age=99999999999999999999999999999999"),
                                      ("age", "1" * 400), ("content-length", "9" * 5000),
                                      ("x-bytes", b"\xff\xfe\x80")]))
    conv.send("server", s.promise(1, 2, "/p.css", authority="127.0.0.1:99999999"))
    conv.send("server", s.data(1, b"<a href='http://[bad'><link rel=stylesheet href='//h:70000/x.css'>"
                                  b"<img src='\xff\xfe\x1b[2J.png'>"))
    conv.send("server", s.headers(2, [(":status", "200"), ("cache-control", "max-age=-5, max-age=" + "9" * 300),
                                      ("expires", "\x00" * 3), ("age", "-1")]))
    conv.send("server", s.data(2, b"x"))


def stacked_encodings(conv: TcpConversation, s: H2Server) -> None:
    inner = gzip.compress(b"<img src=/deep.png>" + b"\0" * 50_000_000)
    outer = brotli.compress(zstandard.ZstdCompressor().compress(inner))
    _page(conv, s, outer, [(":status", "200"), ("content-type", "text/html"),
                           ("content-encoding", "gzip, zstd, br")])


def http1_hostile(path: Path) -> None:
    """HTTP/1.1 in cleartext: escapes in the status line, a header and a path; a 5,000-digit Content-Length; a
    negative chunk size; a head that never ends."""
    partial = path.with_suffix(".partial")
    writer = PcapWriter(partial)
    try:
        conv = TcpConversation(writer, 40001, 80)
        conv.send("client", f"GET /{TERMINAL_ATTACK} HTTP/1.1\r\nHost: h{ESC}[2J\r\n\r\n".encode())
        conv.send("server", f"HTTP/1.1 200 OK{ESC}]0;t{ESC}\\\r\nContent-Type: text/html\r\n"
                            f"X-Evil: {TERMINAL_ATTACK}\r\nContent-Length: {'9' * 5000}\r\n\r\n<p>".encode())
        conv.send("client", b"GET /chunked HTTP/1.1\r\nHost: h\r\n\r\n")
        conv.send("server", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nabc\r\n")
        conv.send("client", b"GET /endless-head HTTP/1.1\r\nHost: h\r\n\r\n")
        conv.send("server", b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * 200_000)
        conv.close()
    finally:
        writer.close()
    partial.rename(path)


def frame_junk(conv: TcpConversation, s: H2Server) -> None:
    rng = random.Random(7)
    conv.send("client", s.request(1, "/"))
    conv.send("server", bytes(rng.getrandbits(8) for _ in range(200_000)))


CASES: dict[str, Callable[[TcpConversation, H2Server], None]] = {
    "terminal-escapes": terminal_escapes,
    "header-list-bomb": header_list_bomb,
    "hpack-literal-flood": hpack_literal_flood,
    "hpack-table-abuse": hpack_table_abuse,
    "gzip-bomb": _bomb_page("gzip", _gzip_bomb(200_000_000)),
    "deflate-bomb": _bomb_page("deflate", zlib.compress(b" " * 200_000_000, 9)),
    "br-bomb": _bomb_page("br", brotli.compress(b" " * 200_000_000, quality=5)),
    "zstd-bomb": _bomb_page("zstd", zstandard.ZstdCompressor(level=3).compress(b" " * 200_000_000)),
    "stacked-encodings": stacked_encodings,
    "many-links": many_links,
    "one-url-pushed-10000-times": one_url_pushed_many_times,
    "unparseable-values": unparseable_values,
    "frame-junk": frame_junk,
}


def mutations(seed_files: list[Path], out: Path, count: int, seed: int = 15) -> list[Path]:
    """Byte-flipped, truncated and spliced copies of real captures (and their key logs)."""
    rng = random.Random(seed)
    made = []
    for n in range(count):
        source = rng.choice(seed_files)
        data = bytearray(source.read_bytes())
        how = rng.choice(("flip", "truncate", "splice", "zero"))
        if how == "flip":
            for _ in range(rng.randint(1, 50)):
                data[rng.randrange(len(data))] = rng.getrandbits(8)
        elif how == "truncate":
            del data[rng.randrange(len(data)):]
        elif how == "splice":
            start = rng.randrange(len(data))
            data[start:start] = data[rng.randrange(len(data)):][:rng.randint(1, 5000)]
        else:
            start = rng.randrange(len(data))
            data[start:start + rng.randint(1, 2000)] = bytes(rng.randint(1, 2000))
        target = out / f"mutant-{n:03d}-{how}-{source.stem}{source.suffix}"
        target.write_bytes(bytes(data))
        keys = source.with_suffix(".keys")
        if keys.exists():
            target.with_suffix(".keys").write_bytes(keys.read_bytes())
        made.append(target)
    return made


def make_corpus(out: Path, names: list[str] | None = None, mutation_count: int = 0) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for name, build in CASES.items():
        if names and name not in names:
            continue
        path = out / f"{name}.pcap"
        if not path.exists():
            _conversation(path, build)
        made.append(path)
    if not names or "http1-hostile" in names:
        path = out / "http1-hostile.pcap"
        if not path.exists():
            http1_hostile(path)
        made.append(path)
    if mutation_count:
        captures = Path(__file__).resolve().parents[2] / "captures"
        seeds = sorted(p for p in captures.glob("*.pcapng") if p.stat().st_size < 400_000)
        made += mutations(seeds, out, mutation_count)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--mutations", type=int, default=20)
    args = parser.parse_args()
    for path in make_corpus(args.out, mutation_count=args.mutations):
        print(path)


if __name__ == "__main__":
    main()
