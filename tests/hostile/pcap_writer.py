"""A minimal pcap writer for synthetic cleartext TCP conversations (Ethernet/IPv4/TCP), so the hostile corpus
needs no server, no key log and no capture privileges: every byte is chosen by the test."""

from __future__ import annotations

import struct
from pathlib import Path

SEGMENT = 16000  # payload bytes per TCP segment (well under the 65535-byte IPv4 limit)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


class PcapWriter:
    """Writes packets of TCP conversations between 127.0.0.1 ports, in order, with increasing times."""

    def __init__(self, path: Path) -> None:
        self._out = path.open("wb")
        self._out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.at = 1_700_000_000.0

    def close(self) -> None:
        self._out.close()

    def packet(self, src: tuple[str, int], dst: tuple[str, int], seq: int, ack: int, flags: int,
               payload: bytes = b"") -> None:
        tcp = struct.pack("!HHIIBBHHH", src[1], dst[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags,
                          65535, 0, 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0,
                         bytes(map(int, src[0].split("."))), bytes(map(int, dst[0].split("."))))
        ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
        frame = b"\0\0\0\0\0\2" + b"\0\0\0\0\0\1" + b"\x08\x00" + ip + tcp
        self.at += 0.0001
        seconds = int(self.at)
        self._out.write(struct.pack("<IIII", seconds, int((self.at - seconds) * 1e6), len(frame), len(frame)))
        self._out.write(frame)


class TcpConversation:
    """One TCP connection: handshake on creation, then ``send`` in either direction, then ``close``."""

    def __init__(self, writer: PcapWriter, client_port: int, server_port: int = 8080) -> None:
        self.w = writer
        self.client, self.server = ("127.0.0.1", client_port), ("127.0.0.1", server_port)
        self.seq = {"client": 1000, "server": 5000}
        self.w.packet(self.client, self.server, self.seq["client"], 0, 0x02)
        self.w.packet(self.server, self.client, self.seq["server"], self.seq["client"] + 1, 0x12)
        self.seq = {"client": 1001, "server": 5001}
        self.w.packet(self.client, self.server, self.seq["client"], self.seq["server"], 0x10)

    def send(self, sender: str, data: bytes) -> None:
        src, dst = (self.client, self.server) if sender == "client" else (self.server, self.client)
        other = "server" if sender == "client" else "client"
        for offset in range(0, len(data), SEGMENT):
            chunk = data[offset:offset + SEGMENT]
            self.w.packet(src, dst, self.seq[sender], self.seq[other], 0x18, chunk)
            self.seq[sender] += len(chunk)

    def close(self) -> None:
        self.w.packet(self.client, self.server, self.seq["client"], self.seq["server"], 0x11)
        self.w.packet(self.server, self.client, self.seq["server"], self.seq["client"] + 1, 0x11)
        self.w.packet(self.client, self.server, self.seq["client"] + 1, self.seq["server"] + 1, 0x10)
