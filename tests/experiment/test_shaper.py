"""The user-space shaper: measured through it on the loopback, the path is what the profile says (RTT,
throughput each way, datagram loss each way) within 10 %, for TCP and UDP; and its buffers stay bounded."""

from __future__ import annotations

import asyncio
import random
import socket

from timekeeping import fail_unless_the_machine_was_too_busy

from pushscope.experiment.path_check import PathMeasurement, measure_path
from pushscope.experiment.profiles import PROFILES, parse_profile
from pushscope.experiment.shaper import MIN_QUEUE_BYTES, READ_SIZE, Link, LossDraw, Shaper

SMALL = parse_profile("rtt=60ms,down=4mbit,up=2mbit,loss=3%")


def test_tcp_path_matches_the_profile() -> None:
    measured = measure_path(SMALL, "tcp", attempts=3)  # a loaded CI machine delays timers now and then
    if measured.problems():
        fail_unless_the_machine_was_too_busy(measured.describe())
    assert measured.rtt is not None and measured.down is not None and measured.up is not None


def test_udp_path_matches_the_profile_including_loss() -> None:
    measured = measure_path(SMALL, "udp", attempts=3)
    if measured.problems():
        fail_unless_the_machine_was_too_busy(measured.describe())
    assert measured.loss_down is not None and 0.027 <= measured.loss_down <= 0.033
    assert measured.loss_up is not None and 0.027 <= measured.loss_up <= 0.033


def test_a_path_off_by_more_than_ten_percent_is_refused() -> None:
    measured = PathMeasurement(PROFILES["4g"], "udp", rtt=0.097, down=9e6, up=7.9e6, loss_down=0.0, loss_up=0.0)
    problems = measured.problems()
    assert len(problems) == 2 and problems[0].startswith("RTT 97.0 ms") and problems[1].startswith("up ")
    lossy = PathMeasurement(PROFILES["lossy"], "udp", rtt=0.085, down=9e6, up=9e6, loss_down=0.0, loss_up=0.03)
    assert lossy.problems() == ["loss down 0.00 %, set 3 %"]
    assert PathMeasurement(PROFILES["lossy"], "tcp", rtt=0.085, down=9e6, up=9e6).problems() == []


def test_loss_draw_is_exact_per_thousand_and_seeded() -> None:
    draw = LossDraw(0.03, random.Random(7))
    drops = [draw.dropped() for _ in range(5000)]
    assert sum(drops) == 150
    again = LossDraw(0.03, random.Random(7))
    assert [again.dropped() for _ in range(5000)] == drops
    assert not any(LossDraw(0.0, random.Random(1)).dropped() for _ in range(2000))


def test_link_serialises_then_delays_and_drops_when_full() -> None:
    link = Link(8000.0, 0.05, LossDraw(0.0, random.Random(0)))  # 1000 bytes per second
    assert link.schedule(100, 10.0) == 10.0 + 0.1 + 0.05
    assert link.schedule(100, 10.0) == 10.0 + 0.2 + 0.05  # queued behind the first
    assert link.admit_datagram(MIN_QUEUE_BYTES, 10.0) is None  # the queue cannot hold it: tail drop
    assert link.stats.overflowed == 1


async def test_a_client_that_never_reads_cannot_make_the_relay_buffer_without_bound() -> None:
    """A server floods; the client reads nothing. The relay stops reading at its queue limit."""
    flood_sent = 0

    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal flood_sent
        chunk = bytes(64 * 1024)
        try:
            for _ in range(400):  # 25 MiB offered
                writer.write(chunk)
                await asyncio.wait_for(writer.drain(), 0.5)
                flood_sent += len(chunk)
        except (TimeoutError, ConnectionError):
            pass

    server = await asyncio.start_server(flood, "127.0.0.1", 0)
    shaper = Shaper(parse_profile("rtt=10ms,down=80mbit"), ("127.0.0.1", server.sockets[0].getsockname()[1]))
    port = await shaper.start()
    client = socket.create_connection(("127.0.0.1", port))
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        await asyncio.sleep(1.5)
        held = shaper.down.in_flight
        assert held <= shaper.down.queue_bytes + READ_SIZE
        assert flood_sent < 25 * 1024 * 1024  # back pressure reached the server
    finally:
        client.close()
        await shaper.close()
        server.close()
