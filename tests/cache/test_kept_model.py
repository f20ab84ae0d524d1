"""A kept model read on demand (the inspector's reopen): each exchange and push read back is the one the capture
holds, piece by piece; a damaged piece is an error that names it, never another exchange; a broken entry is not
opened; the entry held open survives its eviction."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pushscope import kept_model, model_entry, pipeline
from pushscope.cache import HEADER, MAGIC, CaptureCache
from pushscope.export.json_report import render_json
from pushscope.kept_model import KeptModel, KeptModelError, open_kept_model
from pushscope.model.entities import Capture
from pushscope.model_entry import TRAILER, ExchangeIndex
from pushscope.tui.view import build_view
from pushscope.tui.widgets.detail import exchange_content, verdict_text

PIECE = 2  # exchanges per piece here: a small capture spans several pieces, more than are kept read


@pytest.fixture
def kept(files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
         ) -> tuple[Capture, CaptureCache, str]:
    capture, keys = files
    model = pipeline.load_capture(str(capture), str(keys))
    assert len(model.exchanges) >= PIECE * 3 and model.pushes
    monkeypatch.setattr(model_entry, "MODEL_PIECE", PIECE)
    monkeypatch.setattr(kept_model, "PIECES_KEPT", 2)
    cache = CaptureCache(tmp_path / "kept")
    assert cache.store("key", model)
    return model, cache, "key"


def _open(cache: CaptureCache, key: str) -> KeptModel:
    model = open_kept_model(cache, key)
    assert model is not None
    return model


def test_every_exchange_and_push_reads_back_as_the_capture_holds_it(kept: tuple[Capture, CaptureCache, str]) -> None:
    model, cache, key = kept
    details = _open(cache, key)
    try:
        assert details.exchange_count == len(model.exchanges)
        assert details.started_at == model.started_at and details.probed == model.probed
        assert dict(details.connections) == model.connections
        # Forwards, backwards and again: pieces read, dropped (two kept) and read again give the same exchanges.
        order = [*range(len(model.exchanges)), *reversed(range(len(model.exchanges))), 0, len(model.exchanges) - 1]
        for exchange_id in order:
            assert details.exchange(exchange_id) == model.exchanges[exchange_id]
        for missing in (-1, len(model.exchanges), None, "1", 1.0, True):
            assert details.exchange(missing) is None  # type: ignore[arg-type]
        for push in model.pushes:
            read = details.push(push.id)
            assert read is not None and verdict_text(read) == verdict_text(push)
            assert list(read.evidence) == list(push.evidence)
            on_stream = details.pushes_on_stream(push.connection_id, push.parent_stream_id)
            assert [(p.id, p.outcome, p.url) for p in on_stream] == [  # (what the pane lists of them)
                (p.id, p.outcome, p.url) for p in model.pushes_on_stream(push.connection_id, push.parent_stream_id)]
        assert details.push(len(model.pushes)) is None and details.push(None) is None
        # The detail pane shows every row as it shows it from the capture itself.
        view = build_view(model)
        for row in view.rows:
            assert exchange_content(details, row, probed=view.probed) == \
                exchange_content(model, row, probed=view.probed)
        # The whole model, for an export: the same report.
        assert json.loads(render_json(details.whole())) == json.loads(render_json(model))
    finally:
        details.close()


def test_a_damaged_piece_is_an_error_that_names_it_and_the_others_still_read(
        kept: tuple[Capture, CaptureCache, str]) -> None:
    model, cache, key = kept
    path = cache.model_path(key)
    opened = _open(cache, key)
    start, end = opened._index.span(1)  # exchanges 2 and 3
    base = opened._base
    opened.close()
    data = bytearray(path.read_bytes())
    data[base + (start + end) // 2] ^= 0x01  # one bit: a checksum, not the unpickler, must catch it
    path.write_bytes(bytes(data))
    details = _open(cache, key)  # connections, pushes and the index are whole: it opens
    try:
        with pytest.raises(KeptModelError, match="exchanges 2-3 could not be read"):
            details.exchange(2)
        assert details.exchange(0) == model.exchanges[0] and details.exchange(4) == model.exchanges[4]
    finally:
        details.close()
    with pytest.raises(KeptModelError, match="closed"):
        details.exchange(0)


@pytest.mark.parametrize("damage", ["truncated", "magic", "trailer", "index", "shell"])
def test_a_broken_entry_is_not_opened(kept: tuple[Capture, CaptureCache, str], damage: str) -> None:
    _, cache, key = kept
    path = cache.model_path(key)
    data = bytearray(path.read_bytes())
    payload = len(MAGIC) + HEADER.size
    if damage == "truncated":
        data = data[:-3]
    elif damage == "magic":
        data[0] ^= 0xFF
    elif damage == "trailer":  # points into the exchanges
        data[-TRAILER.size:] = TRAILER.pack(TRAILER.unpack(data[-TRAILER.size:])[0] - 40)
    elif damage == "index":  # the index's last byte (pickle's STOP) gone wrong
        data[-TRAILER.size - 1] ^= 0xFF
    else:
        data[payload + 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert open_kept_model(cache, key) is None


def test_an_index_that_does_not_fit_its_pieces_is_refused() -> None:
    index = ExchangeIndex(5, 2, (10, 20, 30), (1, 2, 3), 40)
    assert ExchangeIndex.read(index.as_written(), 50) == index
    for wrong in [(5, 2, (10, 20), (1, 2), 40),  # too few pieces for 5 exchanges
                  (5, 2, (10, 30, 20), (1, 2, 3), 40),  # out of order
                  (5, 2, (10, 20, 30), (1, 2, 3), 30),  # the last piece empty
                  (5, 2, (10, 20, 30), (1, 2), 40),  # a checksum short
                  (5, 0, (), (), 40),
                  (5, 2, (10, 20, -30), (1, 2, 3), 40),
                  (5, 2, [10, 20, 30], (1, 2, 3), 40),
                  (5.0, 2, (10, 20, 30), (1, 2, 3), 40)]:
        with pytest.raises(ValueError):
            ExchangeIndex.read(("exchange pieces", *wrong), 50)
    with pytest.raises(ValueError):
        ExchangeIndex.read(index.as_written(), 40)  # the index before the pieces' end
    with pytest.raises(ValueError):
        ExchangeIndex.read(("something else", *index.as_written()[1:]), 50)


def test_the_entry_held_open_outlives_its_eviction(kept: tuple[Capture, CaptureCache, str]) -> None:
    model, cache, key = kept
    details = _open(cache, key)
    try:
        cache.clear()
        assert not cache.model_path(key).exists()
        assert [details.exchange(i) for i in range(len(model.exchanges))] == model.exchanges
    finally:
        details.close()
    assert open_kept_model(cache, key) is None


def test_whole_models_read_side_by_side_and_beside_pieces(kept: tuple[Capture, CaptureCache, str]) -> None:
    """Exports in threads of their own, and the detail pane reading pieces meanwhile: no read moves another's place
    in the entry they share."""
    model, cache, key = kept
    details = _open(cache, key)
    expected = json.loads(render_json(model))
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            wholes = [pool.submit(details.whole) for _ in range(3)]
            for _ in range(20):
                assert [details.exchange(i) for i in range(len(model.exchanges))] == model.exchanges
            for whole in wholes:
                assert json.loads(render_json(whole.result())) == expected
    finally:
        details.close()
