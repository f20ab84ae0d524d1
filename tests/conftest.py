"""Fixtures shared by every test folder. Keep this small: folder-specific fixtures go in that folder's conftest."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
from collections.abc import Callable

import pytest

# The cache of analysed captures goes to a private directory for this run, never the user's (subprocesses too).
_CACHE_DIR = tempfile.mkdtemp(prefix="pushscope-test-cache-")
os.environ["PUSHSCOPE_CACHE_DIR"] = _CACHE_DIR
atexit.register(shutil.rmtree, _CACHE_DIR, True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def free_port() -> Callable[[], int]:
    """Call it for a TCP port on 127.0.0.1 that was free a moment ago."""
    return _free_port
