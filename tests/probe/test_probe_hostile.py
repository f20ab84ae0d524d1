"""The probe pointed at a hostile server (``hostile_server.py``, on loopback): every limit ends that part with a
diagnostic and exit status 5, keeps what was seen, and nothing reaches the terminal raw."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hostile_server import HostileH2Server  # noqa: E402

PROBE = [sys.executable, "-m", "pushscope", "probe", "--format", "text", "--timeout", "5", "--linger", "0.2"]


@pytest.fixture(scope="module")
def server() -> HostileH2Server:
    with HostileH2Server() as running:
        yield running


def _probe(server: HostileH2Server, path: str, *flags: str, budget: float = 60.0) -> subprocess.CompletedProcess:
    started = time.monotonic()
    done = subprocess.run([*PROBE, server.url(path), *flags], capture_output=True, timeout=budget)
    assert time.monotonic() - started < budget
    for stream in (done.stdout, done.stderr):
        assert b"\x1b" not in stream and b"Traceback" not in stream, stream[-2000:]
    return done


def test_endless_body_is_cut_at_the_limit(server: HostileH2Server) -> None:
    done = _probe(server, "/endless", "--max-body-bytes", "2000000")
    assert done.returncode == 5
    assert b"response body over 2000000 bytes" in done.stdout + done.stderr


def test_redirect_loop_is_named_a_loop(server: HostileH2Server) -> None:
    done = _probe(server, "/loop-a")
    assert done.returncode == 5
    assert b"redirect loop" in done.stdout + done.stderr and b"/loop-b -> " in done.stdout + done.stderr


def test_page_with_100000_links_stops_at_max_requests(server: HostileH2Server) -> None:
    done = _probe(server, "/links", "--max-requests", "40", "--timeout", "30")
    assert done.returncode == 5 and b"more than 40 subresources" in done.stdout + done.stderr


def test_thousands_of_pushes_are_refused_past_the_limit(server: HostileH2Server) -> None:
    done = _probe(server, "/pushes", "--max-pushes", "100", "--timeout", "30")
    assert done.returncode == 5 and b"more than 100 pushes" in done.stdout + done.stderr


def test_goaway_mid_page_is_reported_as_graceful(server: HostileH2Server) -> None:
    done = _probe(server, "/goaway")
    assert b"GOAWAY NO_ERROR (a graceful shutdown" in done.stdout + done.stderr


def test_silent_server_hits_the_deadline(server: HostileH2Server) -> None:
    done = _probe(server, "/silent", "--timeout", "30", "--deadline", "2", budget=30)
    assert done.returncode == 5 and b"deadline of 2s" in done.stdout + done.stderr


def test_escapes_and_other_origin_pushes_stay_visible(server: HostileH2Server) -> None:
    done = _probe(server, "/escape")
    assert b"\\x1b]0;pwned" in done.stdout
    done = _probe(server, "/other-origin")
    assert b"evil.test" in done.stdout
