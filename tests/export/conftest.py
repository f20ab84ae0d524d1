"""Fixtures for the export tests; the models themselves live in export_models.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from export_models import build_capture

from pushscope.model.entities import Capture


@pytest.fixture
def capture() -> Capture:
    return build_capture()


@pytest.fixture
def make_capture() -> Callable[..., Capture]:
    return build_capture
