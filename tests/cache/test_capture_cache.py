"""The cache of analysed captures: a second open reuses the first one's analysis, and nothing stale is reused."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from pushscope import pipeline
from pushscope.cache import MAGIC, CaptureCache, cache_key, wait_for_writers
from pushscope.cli import main
from pushscope.export.json_report import render_json
from pushscope.kept_model import KeptModel
from pushscope.pipeline import capture_file
from pushscope.tui.loading import CaptureUpdated, DetailsRead, LoadSession

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
NAME = "nginx-push-basic"




def _load(capture: Path, keys: Path, use_cache: bool = True) -> pipeline.Capture:
    loaded = pipeline.load_capture(str(capture), str(keys), use_cache=use_cache)
    wait_for_writers()
    return loaded


def _no_tshark(*_args: object, **_kwargs: object) -> object:
    raise AssertionError("read the capture again instead of using the cache")


def test_second_open_comes_from_the_cache(cache_dir: Path, files: tuple[Path, Path],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    capture, keys = files
    first = _load(capture, keys)
    assert first.pushes and len(list(cache_dir.glob("*.model"))) == 1
    monkeypatch.setattr("pushscope.sources.capture_file.read_capture", _no_tshark)
    second = _load(capture, keys)
    assert render_json(second) == render_json(first)


def test_changed_keylog_or_capture_is_never_served_stale(cache_dir: Path, files: tuple[Path, Path]) -> None:
    capture, keys = files
    decrypted = _load(capture, keys)
    assert all(c.decrypted for c in decrypted.connections.values())
    original = keys.read_bytes()
    stat = keys.stat()
    keys.write_bytes(original.replace(b"TRAFFIC_SECRET_0", b"TRAFFIC_SECRET_9"))
    # The same size, and the same mtime: only the content tells.
    os.utime(keys, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert keys.stat().st_size == stat.st_size
    without_keys = _load(capture, keys)
    assert not without_keys.exchanges and render_json(without_keys) != render_json(decrypted)
    keys.write_bytes(original)
    capture.write_bytes(capture.read_bytes()[:-200])  # the last packets cut off
    assert render_json(_load(capture, keys)) != render_json(decrypted)
    assert len(list(cache_dir.glob("*.model"))) == 3


def test_truncated_entry_is_a_miss_and_goes(cache_dir: Path, files: tuple[Path, Path]) -> None:
    capture, keys = files
    first = _load(capture, keys)
    (entry,) = cache_dir.glob("*.model")
    data = entry.read_bytes()
    assert data.startswith(MAGIC)
    entry.write_bytes(data[: len(data) // 2])
    key = cache_key(str(capture), str(keys))
    assert CaptureCache(cache_dir).load(key) is None and not entry.exists()
    assert render_json(_load(capture, keys)) == render_json(first)


def test_size_bound_evicts_the_least_recently_used(cache_dir: Path, files: tuple[Path, Path]) -> None:
    capture, keys = files
    loaded = _load(capture, keys, use_cache=False)
    cache = CaptureCache(cache_dir, limit=1 << 30)
    for key in ("a" * 64, "b" * 64, "c" * 64):
        assert cache.store(key, loaded)
    for age, key in ((300, "a"), (200, "b"), (100, "c")):  # written in that order, a while ago
        os.utime(cache_dir / f"{key * 64}.model", (time.time() - age, time.time() - age))
    size = (cache_dir / f"{'a' * 64}.model").stat().st_size
    assert cache.load("a" * 64) is not None  # used last: kept
    CaptureCache(cache_dir, limit=2 * size).evict()
    assert sorted(p.stem[0] for p in cache_dir.glob("*.model")) == ["a", "c"]


def test_inspector_loader_keeps_and_reuses_the_analysis(cache_dir: Path, files: tuple[Path, Path]) -> None:
    capture, keys = files
    finals, reused, models = [], [], []
    for _ in range(2):
        posted: list[object] = []
        session = LoadSession(capture_file(str(capture), str(keys), use_cache=True), posted.append,
                              threading.Event())
        session.run()
        wait_for_writers()
        finals.append([m for m in posted if isinstance(m, CaptureUpdated)][-1])
        details = finals[-1].capture or [m for m in posted if isinstance(m, DetailsRead)][-1].details
        if isinstance(details, KeptModel):  # read as the rows are shown; whole for an export
            details = details.whole()
        models.append(details)
        reused.append(session.loader.from_cache)
    assert reused == [False, True]
    assert finals[0].final and finals[1].final
    # The reopen shows the view kept in the cache first (no model), then brings the details, read on demand.
    assert finals[0].capture is not None and finals[1].capture is None
    assert render_json(models[1]) == render_json(models[0])
    assert len(finals[1].view.rows) == len(finals[0].view.rows) > 0


def test_no_cache_flag_and_clear_command(cache_dir: Path, files: tuple[Path, Path],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    capture, keys = files
    args = ["report", str(capture), "--keylog", str(keys), "--format", "json"]
    assert main([*args, "--no-cache"]) == 0
    wait_for_writers()
    assert not list(cache_dir.glob("*.model"))
    assert main(args) == 0
    wait_for_writers()
    assert len(list(cache_dir.glob("*.model"))) == 1
    capsys.readouterr()
    assert main(["cache", "clear"]) == 0
    assert "removed 1 entries" in capsys.readouterr().out
    assert not list(cache_dir.glob("*.model"))


def _not_loaded(*_args: object, **_kwargs: object) -> object:
    raise AssertionError("loaded the model again instead of replaying the kept output")


def test_a_reopened_report_or_check_prints_the_kept_output_without_loading(
        cache_dir: Path, files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    capture, keys = files
    report = ["report", str(capture), "--keylog", str(keys)]
    for fmt in ("json", "text"):
        assert main([*report, "--format", fmt, "-o", str(tmp_path / f"first.{fmt}")]) == 0
    check = ["check", str(capture), "--keylog", str(keys), "--max-wasted-bytes", "0"]
    first_check = main(check)
    first_check_text = capsys.readouterr().out
    wait_for_writers()
    assert len(list(cache_dir.glob("*.result"))) == 3
    monkeypatch.setattr("pushscope.pipeline.load_capture", _not_loaded)
    for fmt in ("json", "text"):
        assert main([*report, "--format", fmt, "-o", str(tmp_path / f"again.{fmt}")]) == 0
        assert (tmp_path / f"again.{fmt}").read_bytes() == (tmp_path / f"first.{fmt}").read_bytes()
    assert main(check) == first_check and capsys.readouterr().out == first_check_text
    with pytest.raises(AssertionError, match="loaded the model"):  # other options: another output, not replayed
        main([*report, "--format", "json", "--no-redact", "-o", str(tmp_path / "other.json")])


def test_a_broken_kept_output_is_a_miss_and_goes(cache_dir: Path, files: tuple[Path, Path], tmp_path: Path) -> None:
    capture, keys = files
    args = ["report", str(capture), "--keylog", str(keys), "--format", "json"]
    assert main([*args, "-o", str(tmp_path / "first.json")]) == 0
    (entry,) = cache_dir.glob("*.result")
    entry.write_bytes(entry.read_bytes()[:-30])  # its closing part cut off
    assert main([*args, "-o", str(tmp_path / "again.json")]) == 0  # read and rendered again, and kept again
    assert (tmp_path / "again.json").read_bytes() == (tmp_path / "first.json").read_bytes()
    assert len(list(cache_dir.glob("*.result"))) == 1


def test_a_reopened_diff_prints_the_kept_comparison_without_loading(
        cache_dir: Path, files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    capture, keys = files
    other = tmp_path / "after.pcapng"
    other.write_bytes(capture.read_bytes()[:-200])  # the last packets cut off: another capture
    args = ["diff", str(capture), str(other), "--keylog", str(keys), "--format", "json"]
    first = main([*args, "-o", str(tmp_path / "first.json")])
    monkeypatch.setattr("pushscope.pipeline.load_capture", _not_loaded)
    assert main([*args, "-o", str(tmp_path / "again.json")]) == first
    assert (tmp_path / "again.json").read_bytes() == (tmp_path / "first.json").read_bytes()
    with pytest.raises(AssertionError, match="loaded the model"):  # the other way round: another comparison
        main(["diff", str(other), str(capture), "--keylog", str(keys), "--format", "json", "-o", str(tmp_path / "x")])
