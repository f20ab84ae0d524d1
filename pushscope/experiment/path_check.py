"""Measure a shaped path before trusting it: round trip, throughput each way, and datagram loss each way.

The check starts its own measuring endpoint on the loopback (a TCP and a UDP socket, in this process), puts a
shaper with the profile in front of it, exactly as the experiment puts one in front of the server, and measures
through it. ``PathMeasurement.problems`` lists every figure more than 10 % away from the profile; the
experiment refuses to run when there is one.
"""

from __future__ import annotations

import asyncio
import statistics
import struct
import time
from dataclasses import dataclass, field
from typing import Literal

from pushscope.experiment.profiles import NetworkProfile, rate_text
from pushscope.experiment.shaper import Shaper, ShaperProcess, widen_receive_buffer

Protocol = Literal["tcp", "udp"]
TOLERANCE = 0.10
RTT_FLOOR = 0.002  # seconds: under this a relative tolerance means nothing (timer and scheduler noise)
RTT_SAMPLES = 9
THROUGHPUT_SECONDS = 0.4  # each throughput test moves this long at the profile's rate
LOSS_DATAGRAMS = 1000  # one block of the shaper's loss draw, so the rate is exact when nothing else drops
MAX_PACKETS_PER_SECOND = 2000.0
LOSS_SHARE = 0.8  # loss datagrams are sent at this share of the link's rate: none overflows the queue
BULK_SHARE = 2.0  # throughput datagrams: twice the link rate, so a sender that stalls a moment leaves it busy
DATAGRAM = 1200
BULK_CAP = 4 * 1024 * 1024  # bytes of one throughput test at most (unlimited links)


@dataclass(slots=True)
class PathMeasurement:
    profile: NetworkProfile
    protocol: Protocol
    rtt: float | None = None
    down: float | None = None
    up: float | None = None
    loss_down: float | None = None
    loss_up: float | None = None
    shaper: str = Shaper.kind
    notes: list[str] = field(default_factory=list)
    relay_stats: dict[str, object] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """Each measured figure more than 10 % off the setting (empty: the path is what the profile says)."""
        found: list[str] = []
        profile = self.profile
        if profile.rtt and self.rtt is not None and not _close(self.rtt, profile.rtt, RTT_FLOOR):
            found.append(f"RTT {self.rtt * 1000:.1f} ms, set {profile.rtt * 1000:g} ms")
        for name, measured, setting in (("down", self.down, profile.down), ("up", self.up, profile.up)):
            if setting and measured is not None and not _close(measured, setting, 0.0):
                found.append(f"{name} {rate_text(measured)}, set {rate_text(setting)}")
        if self.protocol == "udp":
            for name, measured in (("down", self.loss_down), ("up", self.loss_up)):
                if measured is not None and not _close(measured, profile.loss, 0.002):
                    found.append(f"loss {name} {measured * 100:.2f} %, set {profile.loss * 100:g} %")
        return found

    def describe(self) -> str:
        """``TCP measured: RTT 86.9 ms, 8.987 Mbit/s/9 Mbit/s down/up, no loss``."""
        parts = ["RTT ?" if self.rtt is None else f"RTT {self.rtt * 1000:.1f} ms",
                 f"{_rate(self.down)}/{_rate(self.up)} down/up"]
        if self.protocol == "udp":
            parts.append(f"loss {_percent(self.loss_down)}/{_percent(self.loss_up)} down/up")
        else:
            parts.append("loss not modelled (TCP relay)" if self.profile.loss else "no loss")
        return f"{self.protocol.upper()} measured: " + ", ".join(parts)

    def as_dict(self) -> dict[str, object]:
        return {"protocol": self.protocol, "rtt_ms": _round(self.rtt, 1000), "down_bps": _round(self.down, 1),
                "up_bps": _round(self.up, 1), "loss_down": _round(self.loss_down, 1),
                "loss_up": _round(self.loss_up, 1), "problems": self.problems(), "notes": list(self.notes)}


def _close(measured: float, setting: float, floor: float) -> bool:
    return abs(measured - setting) <= max(TOLERANCE * setting, floor)


def _round(value: float | None, scale: float) -> float | None:
    return None if value is None else round(value * scale, 4)


def _rate(value: float | None) -> str:
    return "?" if value is None else rate_text(value)


def _percent(value: float | None) -> str:
    return "?" if value is None else f"{value * 100:.2f} %"


# --------------------------------------------------------------------------------------------------------
# the measuring endpoint (in this process: its counts are read directly, no report has to cross the path)
# --------------------------------------------------------------------------------------------------------
@dataclass(slots=True)
class Arrivals:
    """Reads or datagrams as they arrive: (time, cumulative bytes)."""

    points: list[tuple[float, int]] = field(default_factory=list)
    total: int = 0
    seen: set[int] = field(default_factory=set)

    def add(self, size: int) -> None:
        self.total += size
        self.points.append((time.monotonic(), self.total))

    def rate(self) -> float | None:
        """Bits per second: the least-squares slope of bytes over time, so one late read (a thread waiting for
        the GIL, then taking several at once) moves it little."""
        if len(self.points) < 3:
            return None
        t0 = self.points[0][0]
        times = [t - t0 for t, _ in self.points]
        sizes = [float(b) for _, b in self.points]
        mean_t, mean_b = statistics.fmean(times), statistics.fmean(sizes)
        spread = sum((t - mean_t) ** 2 for t in times)
        if spread <= 0:
            return None
        return 8 * sum((t - mean_t) * (b - mean_b) for t, b in zip(times, sizes, strict=True)) / spread


class Endpoint(asyncio.DatagramProtocol):
    """TCP: ``E`` + byte echoes it; ``D`` + length sends that many bytes; ``U`` + length then the bytes: counted.
    UDP: ``E`` echoes; ``D`` + count + size sends datagrams; ``U``/``L`` datagrams are counted."""

    def __init__(self) -> None:
        self.upload = Arrivals()
        self.transport: asyncio.DatagramTransport | None = None
        self.requests_done: set[int] = set()

    async def tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while command := await reader.read(1):
                if command == b"E":
                    writer.write(await reader.readexactly(1))
                elif command == b"D":
                    (size,) = struct.unpack("!Q", await reader.readexactly(8))
                    writer.write(bytes(min(size, BULK_CAP)))
                elif command == b"U":
                    (size,) = struct.unpack("!Q", await reader.readexactly(8))
                    await self._count(reader, min(size, BULK_CAP))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _count(self, reader: asyncio.StreamReader, size: int) -> None:
        while self.upload.total < size:
            data = await reader.read(64 * 1024)
            if not data:
                return
            self.upload.add(len(data))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        kind = data[:1]
        if kind == b"E" and self.transport is not None:
            self.transport.sendto(data, addr)
        elif kind in (b"U", b"L") and len(data) >= 5:
            (number,) = struct.unpack("!I", data[1:5])
            if number not in self.upload.seen:
                self.upload.seen.add(number)
                self.upload.add(len(data))
        elif kind == b"D" and len(data) >= 21:
            request, count, size, per_second = struct.unpack("!IIId", data[1:21])
            if request not in self.requests_done and self.transport is not None:
                self.requests_done.add(request)
                asyncio.get_running_loop().create_task(_send_numbered(
                    _Reply(self.transport, addr), b"D", min(count, 10_000), min(size, DATAGRAM), first=0,
                    per_second=min(max(1.0, per_second), MAX_PACKETS_PER_SECOND)))


class _Reply:
    """The endpoint's socket, answering one address (so ``_send_numbered`` serves both sides)."""

    def __init__(self, transport: asyncio.DatagramTransport, addr: tuple[str, int]) -> None:
        self.transport, self.addr = transport, addr

    def sendto(self, data: bytes) -> None:
        self.transport.sendto(data, self.addr)


# --------------------------------------------------------------------------------------------------------
# the client side
# --------------------------------------------------------------------------------------------------------
def bulk_bytes(rate: float | None) -> int:
    return min(BULK_CAP, max(64 * 1024, int((rate or 80_000_000) * THROUGHPUT_SECONDS / 8)))


async def _tcp_measure(port: int, endpoint: Endpoint, measurement: PathMeasurement) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        samples = []
        for _ in range(RTT_SAMPLES + 1):  # the first waits for the relay's handshake delay: not a sample
            start = time.monotonic()
            writer.write(b"Ex")
            await reader.readexactly(1)
            samples.append(time.monotonic() - start)
        measurement.rtt = statistics.median(samples[1:])
        size = bulk_bytes(measurement.profile.down)
        writer.write(b"D" + struct.pack("!Q", size))
        arrivals = Arrivals()
        while arrivals.total < size:
            data = await reader.read(64 * 1024)
            if not data:
                break
            arrivals.add(len(data))
        measurement.down = arrivals.rate()
        size = bulk_bytes(measurement.profile.up)
        writer.write(b"U" + struct.pack("!Q", size) + bytes(size))
        await writer.drain()
        deadline = time.monotonic() + 30
        while endpoint.upload.total < size and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        measurement.up = endpoint.upload.rate()
    finally:
        writer.close()


class _Client(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.echoes: dict[int, asyncio.Future[float]] = {}
        self.download = Arrivals()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        kind = data[:1]
        if kind == b"E" and len(data) >= 5:
            future = self.echoes.get(struct.unpack("!I", data[1:5])[0])
            if future is not None and not future.done():
                future.set_result(time.monotonic())
        elif kind == b"D" and len(data) >= 5:
            number = struct.unpack("!I", data[1:5])[0]
            if number not in self.download.seen:
                self.download.seen.add(number)
                self.download.add(len(data))


async def _udp_measure(port: int, endpoint: Endpoint, measurement: PathMeasurement) -> None:
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(_Client, remote_addr=("127.0.0.1", port))
    widen_receive_buffer(transport.get_extra_info("socket"))
    profile = measurement.profile
    try:
        # loss first: the loss draws then start at a block boundary in both directions
        measurement.loss_up, measurement.loss_down = await _udp_loss(transport, client, endpoint, profile)
        measurement.rtt = await _udp_rtt(transport, client, profile)
        measurement.down = await _udp_download(transport, client, profile, request=2)
        count = bulk_bytes(profile.up) // DATAGRAM
        endpoint.upload = Arrivals()
        await _send_numbered(transport, b"U", count, DATAGRAM, first=0,
                             per_second=pace(profile.up, DATAGRAM, BULK_SHARE))
        await _settle(endpoint.upload, count, profile, profile.up)
        measurement.up = endpoint.upload.rate()
    finally:
        transport.close()


async def _udp_rtt(transport: asyncio.DatagramTransport, client: _Client, profile: NetworkProfile) -> float | None:
    samples: list[float] = []
    wait = 2 * profile.rtt + 0.5
    for number in range(RTT_SAMPLES * 4):  # some probes are lost on a lossy profile
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        client.echoes[number] = future
        start = time.monotonic()
        transport.sendto(b"E" + struct.pack("!I", number))
        try:
            samples.append(await asyncio.wait_for(future, wait) - start)
        except TimeoutError:
            continue
        if len(samples) == RTT_SAMPLES:
            break
    return statistics.median(samples) if samples else None


async def _udp_loss(transport: asyncio.DatagramTransport, client: _Client, endpoint: Endpoint,
                    profile: NetworkProfile) -> tuple[float, float]:
    endpoint.upload = Arrivals()
    await _send_numbered(transport, b"L", LOSS_DATAGRAMS, 20, first=0, per_second=pace(profile.up, 20, LOSS_SHARE))
    await _settle(endpoint.upload, LOSS_DATAGRAMS, profile, profile.up)
    client.download = Arrivals()
    for _ in range(20):  # the request itself may be lost
        transport.sendto(b"D" + struct.pack("!IIId", 1, LOSS_DATAGRAMS, 20, pace(profile.down, 20, LOSS_SHARE)))
        await asyncio.sleep(profile.rtt + 0.05)
        if client.download.total:
            break
    await _settle(client.download, LOSS_DATAGRAMS, profile, profile.down)
    up = 1 - len(endpoint.upload.seen) / LOSS_DATAGRAMS
    down = 1 - len(client.download.seen) / LOSS_DATAGRAMS
    return up, down


async def _udp_download(transport: asyncio.DatagramTransport, client: _Client, profile: NetworkProfile,
                        request: int) -> float | None:
    count = bulk_bytes(profile.down) // DATAGRAM
    client.download = Arrivals()
    for _ in range(20):
        transport.sendto(b"D" + struct.pack("!IIId", request, count, DATAGRAM, pace(profile.down, DATAGRAM,
                                                                                     BULK_SHARE)))
        await asyncio.sleep(profile.rtt + 0.05)
        if client.download.total:
            break
    await _settle(client.download, count, profile, profile.down)
    return client.download.rate()


async def _send_numbered(transport: asyncio.DatagramTransport | _Reply, kind: bytes, count: int, size: int, *,
                         first: int, per_second: float) -> None:
    """Datagrams paced at ``per_second``, in 5 ms ticks: a burst would overflow the link's queue or a socket
    buffer, and the check would measure that instead of the path."""
    start = time.monotonic()
    for number in range(first, first + count):
        transport.sendto(kind + struct.pack("!I", number) + bytes(max(0, size - 5)))
        ahead = (number - first + 1) / per_second - (time.monotonic() - start)
        if ahead > 0.005:
            await asyncio.sleep(ahead)


def pace(rate: float | None, size: int, share: float) -> float:
    """Datagrams per second: ``share`` of the link's rate, at most MAX_PACKETS_PER_SECOND."""
    if rate is None:
        return MAX_PACKETS_PER_SECOND
    return min(MAX_PACKETS_PER_SECOND, share * rate / (8 * size))


async def _settle(arrivals: Arrivals, expected: int, profile: NetworkProfile, rate: float | None) -> None:
    """Wait until ``expected`` datagrams arrived, or none came for a while (the rest are lost)."""
    quiet = profile.rtt + 0.3
    deadline = time.monotonic() + profile.rtt + (expected * DATAGRAM * 8 / rate if rate else 0.0) + 5
    while len(arrivals.seen) < expected and time.monotonic() < deadline:
        last = arrivals.points[-1][0] if arrivals.points else time.monotonic()
        if time.monotonic() - last > quiet:
            return
        await asyncio.sleep(0.02)


# --------------------------------------------------------------------------------------------------------
async def measure_path_async(profile: NetworkProfile, protocol: Protocol, *, seed: int = 0) -> PathMeasurement:
    endpoint = Endpoint()
    loop = asyncio.get_running_loop()
    server = await asyncio.start_server(endpoint.tcp, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    udp, _ = await loop.create_datagram_endpoint(lambda: endpoint, local_addr=("127.0.0.1", port))
    widen_receive_buffer(udp.get_extra_info("socket"))
    measurement = PathMeasurement(profile, protocol)
    shaper = ShaperProcess(profile, ("127.0.0.1", port), seed=seed)
    try:
        relay_port = await loop.run_in_executor(None, shaper.start)
        if protocol == "tcp":
            await _tcp_measure(relay_port, endpoint, measurement)
        else:
            await _udp_measure(relay_port, endpoint, measurement)
    finally:
        await loop.run_in_executor(None, shaper.stop)
        measurement.relay_stats = shaper.stats()
        server.close()
        udp.close()
    return measurement


def measure_path(profile: NetworkProfile, protocol: Protocol, *, seed: int = 0, attempts: int = 1) -> PathMeasurement:
    """The first of up to ``attempts`` measurements that is within 10 % of the profile, else the last one: a
    busy machine delays timers now and then, and one unlucky moment should not condemn the path."""
    measured = asyncio.run(measure_path_async(profile, protocol, seed=seed))
    for attempt in range(2, attempts + 1):
        if not measured.problems():
            break
        measured = asyncio.run(measure_path_async(profile, protocol, seed=seed))
        measured.notes.append(f"measurement {attempt} of {attempts}: the earlier ones were off")
    return measured
