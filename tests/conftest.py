"""Fixtures shared by every test folder. Keep this small: folder-specific fixtures go in that folder's conftest."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def free_port() -> Callable[[], int]:
    """Call it for a TCP port on 127.0.0.1 that was free a moment ago."""
    return _free_port
