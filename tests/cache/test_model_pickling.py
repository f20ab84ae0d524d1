"""The model's pickled form: every object comes back equal, of its own class, rebuilt through its __init__."""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass, field
from pathlib import Path

from pushscope import pipeline
from pushscope.cache import _read_model, _write_model
from pushscope.events import Diagnostic
from pushscope.model.entities import Exchange
from pushscope.model.frames import FrameLog
from pushscope.model.pickling import ModelPickler, init_fields


def _round_trip(capture: pipeline.Capture) -> tuple[bytes, pipeline.Capture]:
    written = io.BytesIO()
    _write_model(capture, written)
    return written.getvalue(), _read_model(io.BytesIO(written.getvalue()))


def test_a_real_model_comes_back_equal_without_its_field_names(files: tuple[Path, Path]) -> None:
    capture, keys = files
    model = pipeline.load_capture(str(capture), str(keys))
    assert model.pushes and any(exchange.frames for exchange in model.exchanges)
    data, back = _round_trip(model)
    assert back == model
    assert back.exchanges == model.exchanges and back.pushes == model.pushes
    assert back.connections == model.connections and back.conversations == model.conversations
    assert [type(exchange.frames) for exchange in back.exchanges] == [FrameLog] * len(back.exchanges)
    # Rebuilt by __init__ with the values in order: pickle's default would have written each slot's name.
    assert b"response_end_position" not in data and b"first_data_at" not in data
    pushed = back.exchange(back.pushes[0].exchange_id)
    assert pushed is not None and back.push_for_exchange(pushed) is back.pushes[0]


def test_a_frame_log_keeps_its_records_and_spilled_ones() -> None:
    log = FrameLog()
    for number in range(300):  # more kinds than a packed record can name: the rest are kept whole
        log.add(float(number), "server", 0, number, ("END_STREAM",) if number % 2 else (), stream_id=number)
    log.compact()
    back = pickle.loads(_dumps(log))
    assert type(back) is FrameLog and back == log and back._spilled


def test_classes_that_init_cannot_rebuild_keep_pickles_own_way() -> None:
    @dataclass
    class AfterInit:
        value: int

        def __post_init__(self) -> None:
            self.value += 1

    @dataclass
    class Hidden:
        value: int
        derived: int = field(init=False, default=0)

    @dataclass(init=False)
    class OwnInit:
        value: int

        def __init__(self, doubled: int) -> None:
            self.value = doubled // 2

    @dataclass
    class OwnPickling:
        value: int

        def __reduce__(self) -> tuple[object, tuple[int]]:
            return OwnPickling, (0,)

    @dataclass
    class Base:
        value: int

    class Derived(Base):  # not a dataclass itself: its own state is not among the fields
        def __init__(self, value: int) -> None:
            super().__init__(value)
            self.extra = value

    @dataclass(frozen=True, slots=True)
    class Frozen:
        value: int

    assert init_fields(Exchange) is not None and init_fields(Frozen) == ("value",)
    assert init_fields(AfterInit) is None and init_fields(Hidden) is None
    assert init_fields(OwnInit) is None and init_fields(OwnPickling) is None and init_fields(Derived) is None
    assert init_fields(Base) == ("value",)
    assert init_fields(Diagnostic) is None  # keyword-only
    diagnostic = Diagnostic(level="warning", message="m", connection_id="c", code="x")
    assert pickle.loads(_dumps(diagnostic)) == diagnostic


def _dumps(value: object) -> bytes:
    written = io.BytesIO()
    ModelPickler(written, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return written.getvalue()
