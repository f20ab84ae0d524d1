"""What the cache tests share: an empty cache directory of their own, and a copy of a small real capture."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
NAME = "nginx-push-basic"


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("PUSHSCOPE_CACHE_DIR", str(directory))
    return directory


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """``NAME``'s capture and key log, copied (a test may change them on disk)."""
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    capture, keys = tmp_path / f"{NAME}.pcapng", tmp_path / f"{NAME}.keys"
    shutil.copy(CAPTURES / capture.name, capture)
    shutil.copy(CAPTURES / keys.name, keys)
    return capture, keys
