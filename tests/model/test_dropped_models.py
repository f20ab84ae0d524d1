"""A model the command is done with is freed before the next one is loaded.

A load freezes what it built out of the collector's sight, and a push and its explanation refer to each other:
without a collection that sees them again, a dropped model stays in memory (``diff`` held its first capture's
model beside its second's: 1.4 GiB for two views of a gigabyte).
"""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

import pytest

from pushscope import pipeline
from pushscope.analysis.evidence import Explanation
from pushscope.cli import diff as diff_command
from pushscope.cli import loading

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
NAME = "nginx-preload-twoloads"

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def _explanations() -> int:
    gc.unfreeze()  # (frozen objects are not listed; unfreezing collects nothing)
    return sum(type(item) is Explanation for item in gc.get_objects())


@pytest.mark.parametrize("cached", [False, True])
def test_a_dropped_model_is_freed_by_free_dropped_models(cached: bool, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUSHSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    capture_path, keys = str(CAPTURES / f"{NAME}.pcapng"), str(CAPTURES / f"{NAME}.keys")
    if cached:  # the model as the cache gives it back: its explanations are made again when it is read
        pipeline.load_capture(capture_path, keys, use_cache=True)
        from pushscope.cache import wait_for_writers

        wait_for_writers()
    pipeline.free_dropped_models()
    before = _explanations()
    capture = pipeline.load_capture(capture_path, keys, use_cache=cached)
    pushes = len(capture.pushes)
    assert pushes and _explanations() == before + pushes
    del capture
    assert _explanations() == before + pushes  # held by their own cycles: what the command must free
    pipeline.free_dropped_models()
    assert _explanations() == before


def test_diff_frees_the_first_model_before_it_loads_the_second(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    steps: list[str] = []
    load, free = loading.load_capture_file, pipeline.free_dropped_models

    def watched_load(args: loading.CaptureArgs) -> object:
        steps.append("load")
        return load(args)

    def watched_free() -> None:
        steps.append("free")
        free()

    monkeypatch.setattr(loading, "load_capture_file", watched_load)
    monkeypatch.setattr(pipeline, "free_dropped_models", watched_free)
    capture = str(CAPTURES / f"{NAME}.pcapng")
    code = diff_command.run_diff([capture, capture, "--keylog", str(CAPTURES / f"{NAME}.keys"), "--no-cache",
                                  "--quiet", "-o", str(tmp_path / "diff.txt")])
    assert code == 0 and steps == ["load", "free", "load"]
    assert (tmp_path / "diff.txt").read_text()
