"""A user-space traffic shaper: a relay on loopback that imposes a network profile, in the spirit of
WebPageTest's tsproxy.

The client connects to the relay's port (TCP and UDP share one port number); the relay forwards to the real
server. Each direction is a :class:`Link`: bytes are serialised at the link's rate (one queue shared by every
connection in that direction, as on a real bottleneck), then held for half the round trip.

- UDP (QUIC) is shaped per datagram: QUIC's own loss recovery and congestion control see the real delay, the
  real rate and the dropped datagrams. A datagram that finds the link's queue full is dropped (tail drop).
- TCP is shaped per byte stream: the relay terminates the client's TCP connection and opens its own to the
  server, so the kernel's slow start and loss recovery run on the unshaped loopback legs, not on the shaped
  path. A new connection is held one round trip before its first byte goes on (the handshake). Loss is not
  modelled on TCP: a relay of a byte stream has no segment to drop (profiles say so).

``ShaperProcess`` runs it in a process of its own, so the client's work never delays its timers.

Every byte is hostile: reads are bounded, each TCP pipe stops reading while its queue is full (back pressure
reaches the sender), UDP flows are capped, and the delay line has a byte budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
import select
import shutil
import socket
import subprocess
import sys
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import cast

from pushscope.experiment.profiles import NetworkProfile

SEGMENT = 1460  # bytes scheduled at once on a TCP pipe: pacing is as fine as a real segment
READ_SIZE = 16 * 1024
QUEUE_SECONDS = 0.25  # a link's queue holds this much of its rate (at least MIN_QUEUE_BYTES)
MIN_QUEUE_BYTES = 64 * 1024
DELAY_LINE_BYTES = 8 * 1024 * 1024  # bytes in flight in one direction, whatever the rate
MAX_CONNECTIONS = 256
MAX_FLOWS = 64
MAX_DATAGRAM = 65535
LOSS_BLOCK = 1000
SOCKET_BUFFER = 4 * 1024 * 1024  # UDP receive buffers: a thread that waits for the GIL must not lose datagrams
EARLY = 0.0005  # a timer that fires this early is on time


class LossDraw:
    """Which datagrams a direction drops: exactly round(loss x 1000) of every 1000, at random (seeded) positions.

    Random like netem's loss, but with the long-run rate exact, so a path check of a few thousand datagrams
    measures the setting rather than a binomial sample of it. Resolution: 0.1 %.
    """

    def __init__(self, loss: float, rng: random.Random) -> None:
        self.per_block = round(loss * LOSS_BLOCK)
        self.rng = rng
        self._index = LOSS_BLOCK
        self._drops: set[int] = set()

    def dropped(self) -> bool:
        if not self.per_block:
            return False
        if self._index == LOSS_BLOCK:
            self._index = 0
            self._drops = set(self.rng.sample(range(LOSS_BLOCK), self.per_block))
        hit = self._index in self._drops
        self._index += 1
        return hit


@dataclass(slots=True)
class LinkStats:
    bytes: int = 0
    datagrams: int = 0
    lost: int = 0  # dropped by the loss setting
    overflowed: int = 0  # dropped because the queue was full


@dataclass(slots=True)
class Link:
    """One direction: serialise at ``rate`` bits/s (None: at once), then delay by ``delay`` seconds."""

    rate: float | None
    delay: float
    loss: LossDraw
    busy_until: float = 0.0
    in_flight: int = 0
    stats: LinkStats = field(default_factory=LinkStats)

    @property
    def queue_bytes(self) -> int:
        return max(MIN_QUEUE_BYTES, int((self.rate or 0) * QUEUE_SECONDS / 8))

    def backlog(self, now: float) -> int:
        """Bytes waiting to be serialised."""
        if self.rate is None:
            return 0
        return int(max(0.0, self.busy_until - now) * self.rate / 8)

    def schedule(self, size: int, now: float) -> float:
        """When ``size`` bytes that arrive ``now`` leave the far end of the link."""
        self.in_flight += size
        self.stats.bytes += size
        if self.rate is None:
            return now + self.delay
        self.busy_until = max(now, self.busy_until) + size * 8 / self.rate
        return self.busy_until + self.delay

    def admit_datagram(self, size: int, now: float) -> float | None:
        """A datagram's delivery time, or None if it is dropped (loss, or the queue is full)."""
        self.stats.datagrams += 1
        if self.loss.dropped():
            self.stats.lost += 1
            return None
        if self.backlog(now) + size > self.queue_bytes or self.in_flight + size > DELAY_LINE_BYTES:
            self.stats.overflowed += 1
            return None
        return self.schedule(size, now)

    def delivered(self, size: int) -> None:
        self.in_flight -= size


def links_for(profile: NetworkProfile, seed: int) -> tuple[Link, Link]:
    """(up, down): client -> server and server -> client."""
    half = profile.rtt / 2
    up = Link(profile.up, half, LossDraw(profile.loss, random.Random(seed)))
    down = Link(profile.down, half, LossDraw(profile.loss, random.Random(seed + 1)))
    return up, down


# --------------------------------------------------------------------------------------------------------
# TCP: per byte stream
# --------------------------------------------------------------------------------------------------------
class StreamPipe:
    """One direction of one relayed TCP connection: read, schedule on the link, write when due."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: Link) -> None:
        self.reader, self.writer, self.link = reader, writer, link
        self.queue: deque[tuple[float, bytes | None]] = deque()
        self.queued = 0
        self.limit = link.queue_bytes
        self.wake = asyncio.Event()
        self.room = asyncio.Event()
        self.room.set()

    async def pump_in(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                await self.room.wait()
                data = await self.reader.read(READ_SIZE)
                if not data:
                    break
                now = loop.time()
                for offset in range(0, len(data), SEGMENT):
                    piece = data[offset:offset + SEGMENT]
                    self.queue.append((self.link.schedule(len(piece), now), piece))
                self.queued += len(data)
                if self.queued >= self.limit:
                    self.room.clear()
                self.wake.set()
        except (ConnectionError, OSError):
            pass
        self.queue.append((self.link.schedule(0, loop.time()), None))  # the FIN travels the path too
        self.wake.set()

    async def pump_out(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self.queue:
                self.wake.clear()
                await self.wake.wait()
            wait = self.queue[0][0] - loop.time()
            if wait > EARLY:
                await asyncio.sleep(wait)
            batch: list[bytes] = []
            finished = False
            while self.queue and self.queue[0][0] <= loop.time() + EARLY:
                piece = self.queue.popleft()[1]
                if piece is None:
                    finished = True
                    break
                batch.append(piece)
            if batch:
                await self._write(b"".join(batch))
            if finished:
                with contextlib.suppress(OSError, RuntimeError):
                    if self.writer.can_write_eof():
                        self.writer.write_eof()
                return

    async def _write(self, data: bytes) -> None:
        self.link.delivered(len(data))
        self.queued -= len(data)
        if self.queued < self.limit:
            self.room.set()
        self.writer.write(data)
        await self.writer.drain()


# --------------------------------------------------------------------------------------------------------
# UDP: per datagram
# --------------------------------------------------------------------------------------------------------
class _Listener(asyncio.DatagramProtocol):
    def __init__(self, relay: DatagramRelay) -> None:
        self.relay = relay

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.relay.from_client(data, addr)


class _Upstream(asyncio.DatagramProtocol):
    def __init__(self, relay: DatagramRelay, client: tuple[str, int]) -> None:
        self.relay, self.client = relay, client
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: list[bytes] = []  # due before the socket's transport existed (a few at most)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        datagrams = cast(asyncio.DatagramTransport, transport)
        self.transport = datagrams
        for data in self.pending:
            datagrams.sendto(data)
        self.pending.clear()

    def send(self, data: bytes) -> None:
        if self.transport is None:
            if len(self.pending) < 64:
                self.pending.append(data)
        elif not self.transport.is_closing():
            self.transport.sendto(data)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.relay.from_server(data, self.client)


class DatagramRelay:
    """Every client address gets its own socket towards the server, so the server's answers find their way
    back; at most MAX_FLOWS of them (the least recently used goes)."""

    def __init__(self, target: tuple[str, int], up: Link, down: Link) -> None:
        self.target, self.up, self.down = target, up, down
        self.listener: asyncio.DatagramTransport | None = None
        self.flows: OrderedDict[tuple[str, int], _Upstream] = OrderedDict()
        self.loop = asyncio.get_running_loop()
        self._opening: set[asyncio.Task[object]] = set()  # held so the loop does not drop them half-way

    async def start(self, host: str, port: int) -> None:
        self.listener, _ = await self.loop.create_datagram_endpoint(lambda: _Listener(self), local_addr=(host, port))
        widen_receive_buffer(self.listener.get_extra_info("socket"))

    def from_client(self, data: bytes, client: tuple[str, int]) -> None:
        due = self.up.admit_datagram(len(data), self.loop.time())
        if due is None:
            return
        flow = self.flows.get(client)
        if flow is None:
            flow = self._new_flow(client)
        self.flows.move_to_end(client)
        self.loop.call_at(due, self._to_server, flow, data)

    def _new_flow(self, client: tuple[str, int]) -> _Upstream:
        if len(self.flows) >= MAX_FLOWS:
            _, oldest = self.flows.popitem(last=False)
            if oldest.transport is not None:
                oldest.transport.close()
        flow = _Upstream(self, client)
        family = socket.AF_INET6 if ":" in self.target[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setblocking(False)
        widen_receive_buffer(sock)
        sock.connect(self.target)
        self.loop.call_soon(self._open_flow, flow, sock)
        self.flows[client] = flow
        return flow

    def _open_flow(self, flow: _Upstream, sock: socket.socket) -> None:
        # a connected socket: the transport exists once the loop runs this task
        task = self.loop.create_task(self.loop.create_datagram_endpoint(lambda: flow, sock=sock))
        self._opening.add(task)
        task.add_done_callback(self._opening.discard)

    def _to_server(self, flow: _Upstream, data: bytes) -> None:
        self.up.delivered(len(data))
        flow.send(data)

    def from_server(self, data: bytes, client: tuple[str, int]) -> None:
        due = self.down.admit_datagram(len(data), self.loop.time())
        if due is not None:
            self.loop.call_at(due, self._to_client, client, data)

    def _to_client(self, client: tuple[str, int], data: bytes) -> None:
        self.down.delivered(len(data))
        if self.listener is not None and not self.listener.is_closing():
            self.listener.sendto(data, client)

    def close(self) -> None:
        for flow in self.flows.values():
            if flow.transport is not None:
                flow.transport.close()
        if self.listener is not None:
            self.listener.close()


def widen_receive_buffer(sock: socket.socket | None) -> None:
    """As large as the kernel allows (SO_RCVBUFFORCE needs CAP_NET_ADMIN; SO_RCVBUF is capped by rmem_max)."""
    if sock is None:
        return
    for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
        if option is None:
            continue
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)
            return
        except OSError:
            continue


# --------------------------------------------------------------------------------------------------------
# the shaper
# --------------------------------------------------------------------------------------------------------
class Shaper:
    """Relay ``host:port`` (TCP and UDP, one port number) to ``target``, shaped by ``profile``."""

    kind = "user-space relay (tsproxy-style): per datagram for UDP, per byte stream for TCP"

    def __init__(self, profile: NetworkProfile, target: tuple[str, int], *, host: str = "127.0.0.1",
                 seed: int = 0) -> None:
        self.profile, self.target, self.host = profile, target, host
        self.up, self.down = links_for(profile, seed)
        self.port = 0
        self.connections = 0
        self.refused = 0
        self._server: asyncio.Server | None = None
        self._datagrams: DatagramRelay | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        for _ in range(20):  # TCP picks the port; UDP must get the same number
            self._server = await asyncio.start_server(self._accept, self.host, 0)
            port = self._server.sockets[0].getsockname()[1]
            self._datagrams = DatagramRelay(self.target, self.up, self.down)
            try:
                await self._datagrams.start(self.host, port)
            except OSError:
                self._server.close()
                continue
            self.port = port
            return port
        raise OSError("no port free for both TCP and UDP on the loopback")

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._datagrams is not None:
            self._datagrams.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._tasks) >= MAX_CONNECTIONS:
            self.refused += 1
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            await self._relay(reader, writer)
        except asyncio.CancelledError:
            pass  # the shaper is closing; asyncio's stream callback would log a cancelled task as an error
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(self.profile.rtt)  # the TCP handshake's round trip on the shaped path
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            return
        up, down = StreamPipe(reader, server_writer, self.up), StreamPipe(server_reader, writer, self.down)
        pumps = [asyncio.ensure_future(pump) for pump in (up.pump_in(), up.pump_out(), down.pump_in(),
                                                          down.pump_out())]
        try:
            await asyncio.gather(*pumps)
        except (ConnectionError, OSError):
            pass  # one side went away: the other pumps stop with it
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            server_writer.close()

    def stats(self) -> dict[str, object]:
        return {"connections": self.connections, "refused_connections": self.refused,
                "up": _stats(self.up.stats), "down": _stats(self.down.stats)}


def _stats(stats: LinkStats) -> dict[str, int]:
    return {"bytes": stats.bytes, "datagrams": stats.datagrams, "lost": stats.lost, "overflowed": stats.overflowed}


class ShaperProcess:
    """A shaper in a process of its own (``python -m pushscope.experiment.shaper``), as tsproxy is: the client's
    work (decoding what it receives, the inspector redrawing) holds this interpreter's lock for milliseconds at a
    time, and the shaper's timers must not wait for it. It prints its port when ready, stops when its stdin
    closes, and prints its counters as JSON as it ends."""

    kind = Shaper.kind

    def __init__(self, profile: NetworkProfile, target: tuple[str, int], *, seed: int = 0) -> None:
        self.profile, self.target, self.seed = profile, target, seed
        self.port = 0
        self.counters: dict[str, object] = {}
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> int:
        spec = json.dumps({"profile": dataclasses.asdict(self.profile), "target": list(self.target),
                           "seed": self.seed})
        self._proc = subprocess.Popen([sys.executable, "-m", "pushscope.experiment.shaper", spec],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], 20)
        line = self._proc.stdout.readline() if ready else b""
        if not line.startswith(b"port "):
            self.stop()
            raise OSError("the shaper process did not start")
        self.port = int(line.split()[1])
        return self.port

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            out, _ = proc.communicate(timeout=10)  # closes its stdin: the shaper stops and prints its counters
            self.counters = json.loads(out.decode().strip().splitlines()[-1]) if out.strip() else {}
        except (subprocess.TimeoutExpired, ValueError, OSError):
            proc.kill()  # our own child, by its handle
            proc.wait(timeout=5)

    def stats(self) -> dict[str, object]:
        return dict(self.counters)

    def __enter__(self) -> ShaperProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _serve(spec: dict[str, object]) -> None:
    profile = NetworkProfile(**spec["profile"])  # type: ignore[arg-type]
    target = spec["target"]
    shaper = Shaper(profile, (str(target[0]), int(target[1])), seed=int(cast(int, spec["seed"])))  # type: ignore[index]
    port = await shaper.start()
    print(f"port {port}", flush=True)
    loop = asyncio.get_running_loop()
    closed = loop.create_future()
    threading.Thread(target=lambda: (sys.stdin.buffer.read(), loop.call_soon_threadsafe(closed.set_result, None)),
                     daemon=True).start()
    await closed
    await shaper.close()
    print(json.dumps(shaper.stats()), flush=True)


def kernel_netem_available() -> bool:
    """Whether this kernel has the netem qdisc: tried in a throwaway network namespace, so nothing on the host
    changes. False when the test cannot run (no ``unshare``/``tc``, no privilege)."""
    unshare, tc = shutil.which("unshare"), shutil.which("tc")
    if unshare is None or tc is None:
        return False
    try:
        done = subprocess.run([unshare, "--net", tc, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"],
                              capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


if __name__ == "__main__":
    asyncio.run(_serve(json.loads(sys.argv[1])))
