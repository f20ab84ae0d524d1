"""The model's pickled form: every object comes back equal, of its own class, rebuilt through its __init__."""

from __future__ import annotations

import io
import math
import pickle
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pushscope import pipeline
from pushscope.analysis.evidence import Explanation
from pushscope.analysis.kept_evidence import KeptExplanation, keep_explanation, restore_explanations
from pushscope.events import Diagnostic
from pushscope.model.entities import Capture, Exchange, Push
from pushscope.model.frames import FrameLog
from pushscope.model.pickling import (
    Columns,
    ModelPickler,
    ModelRef,
    SharedNumbers,
    columns_of,
    init_fields,
    rows_from_columns,
)
from pushscope.model_entry import read_model, write_model

CAPTURES = Path(__file__).resolve().parents[2] / "captures"


def _round_trip(capture: pipeline.Capture) -> tuple[bytes, pipeline.Capture]:
    written = io.BytesIO()
    write_model(capture, written)
    return written.getvalue(), read_model(io.BytesIO(written.getvalue()))


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


@dataclass(slots=True)
class Timed:
    at: float | None
    size: int
    label: str


def test_a_piece_is_written_as_columns_and_equal_numbers_come_back_as_one_object() -> None:
    items = [Timed(float(f"{1700000000 + i // 4}.5"), 100_000 + i % 2, f"x{i}") for i in range(40)]
    piece = columns_of(items)
    assert piece is not None and piece.cls is Timed and piece.shared == (0, 1)  # labels: no number column
    back = rows_from_columns(pickle.loads(_dumps(piece)))
    assert back == items and all(type(item) is Timed for item in back)
    assert len({id(item.at) for item in back}) == 10 and len({id(item.size) for item in back}) == 2


def test_sharing_never_changes_a_number_s_class_or_sign() -> None:
    mixed = [Timed(1.0, 1, "a"), Timed(1.0, 1, "b"), Timed(None, True, "c"), Timed(1.0, 1, "d")]
    assert columns_of(mixed).shared == (0,)  # type: ignore[union-attr]  # 1 and True: not one class
    zeros = [Timed(0.0, 7, "a"), Timed(-0.0, 7, "b"), Timed(0.0, 7, "c"), Timed(0.0, 7, "d")]
    piece = columns_of(zeros)
    assert piece is not None and 0 not in piece.shared  # 0.0 would stand for -0.0
    back = rows_from_columns(pickle.loads(_dumps(piece)))
    assert [math.copysign(1.0, item.at) for item in back] == [1.0, -1.0, 1.0, 1.0]  # type: ignore[arg-type]
    ids = [Timed(float(i), 1000 + i, "") for i in range(8)]  # all different: sharing would only cost time
    assert columns_of(ids).shared == ()  # type: ignore[union-attr]  # (and the labels are no numbers)


def test_a_piece_of_several_classes_stays_a_list_and_bad_columns_are_refused() -> None:
    assert columns_of([Timed(1.0, 1, ""), Exchange(0, "c", "h2", 1)]) is None and columns_of([]) is None
    with pytest.raises(ValueError):
        rows_from_columns(Columns(Timed, ((1.0,), (2,))))
    with pytest.raises(ValueError):
        rows_from_columns(Columns(Timed, ((1.0, 2.0), (2,), ("a", "b"))))


# Captures whose pushes' evidence names other exchanges (a fresh copy, documents checked), another push (pushed
# twice), a refusal, an own request and unreadable traffic.
KEPT = ("nginx-preload-twoloads", "h3-cancel-cached", "h3-push-not-authoritative", "apache-rerequest",
        "nginx-midstream", "h3-server-cancel")


@pytest.mark.parametrize("name", KEPT)
def test_evidence_is_kept_as_its_facts_and_names_the_model_s_own_objects(name: str) -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    model = pipeline.load_capture(str(CAPTURES / f"{name}.pcapng"), str(CAPTURES / f"{name}.keys"))
    assert model.pushes and all(type(push.evidence) is Explanation for push in model.pushes)
    data, back = _round_trip(model)
    assert b"PUSH_PROMISE for" not in data  # no rendered text in the entry
    for before, after in zip(model.pushes, back.pushes, strict=True):
        evidence = after.evidence
        assert type(evidence) is Explanation and list(evidence) == list(before.evidence)
        assert evidence.push is after
        assert evidence.exchange is None or evidence.exchange is back.exchange(evidence.exchange.id)
        assert all(seen.document is back.exchange(seen.document.id) for seen in evidence.references)
        for value in evidence._rest:
            if isinstance(value, Exchange):
                assert value is back.exchange(value.id)
            if isinstance(value, Push):
                assert value is back.pushes[value.id]


def test_an_explanation_that_holds_an_unknown_value_is_kept_rendered(files: tuple[Path, Path]) -> None:
    capture, keys = files
    model = pipeline.load_capture(str(capture), str(keys))
    explanation = model.pushes[0].evidence
    assert type(explanation) is Explanation and keep_explanation(explanation) is not NotImplemented
    explanation._rest = (*explanation._rest, "vary_notes", frozenset({"a"}))  # a value it cannot name
    assert keep_explanation(explanation) is NotImplemented
    _, back = _round_trip(model)
    assert type(back.pushes[0].evidence) is list and back.pushes[0].evidence == list(explanation)
    assert all(type(push.evidence) is Explanation for push in back.pushes[1:])


def test_a_kept_explanation_naming_what_the_model_lacks_is_refused() -> None:
    capture = Capture(source="capture", exchanges=[Exchange(0, "c", "h2", 1, pushed=True)])
    push = Push(0, "c", "h2", 1, 2, 0.0, exchange_id=0)
    capture.pushes.append(push)
    push.evidence = KeptExplanation(0, 0.0, 5, None, (), ())  # type: ignore[assignment]
    with pytest.raises(ValueError, match="no exchange 5"):
        restore_explanations(capture)
    push.evidence = KeptExplanation(0, 0.0, 0, "elsewhere", (), ())  # type: ignore[assignment]
    with pytest.raises(ValueError, match="no connection"):
        restore_explanations(capture)
    push.evidence = KeptExplanation(0, 0.0, 0, None, (), ("earlier_promise", ModelRef("push", 9)))  # type: ignore
    with pytest.raises(ValueError, match="no push 9"):
        restore_explanations(capture)
    push.evidence = KeptExplanation(0, 0.0, 0, None, (), ("x", ModelRef("frame", 0)))  # type: ignore[assignment]
    with pytest.raises(ValueError, match="no part of the model"):
        restore_explanations(capture)


@dataclass(slots=True)
class Costed:
    cost: Timed
    name: str


def test_a_column_of_one_dataclass_s_objects_is_written_as_columns_too() -> None:
    items = [Costed(Timed(float(1700000000 + i // 5), 5000, "x"), f"n{i}") for i in range(20)]
    piece = columns_of(items)
    assert piece is not None and type(piece.columns[0]) is Columns and piece.shared == ()
    back = rows_from_columns(pickle.loads(_dumps(piece)))
    assert back == items and all(type(item.cost) is Timed for item in back)
    assert len({id(item.cost.at) for item in back}) == 4  # the nested column's numbers are shared too
    assert len({id(item.cost) for item in back}) == 20


def test_equal_numbers_of_two_pieces_read_together_are_one_object_of_their_own_class() -> None:
    first = [Timed(float(1700000000 + i // 4), 100_000 + i % 2, "") for i in range(40)]
    second = [Timed(float(1700000000 + i // 4), 100_000 + i % 2, "") for i in range(40)]
    floats = [Timed(1.0, 100_000 + i % 2, "") for i in range(20)]  # (an int column as floats below)
    as_floats = columns_of(floats)
    assert as_floats is not None
    as_floats = Columns(Timed, (as_floats.columns[0], tuple(float(size) for size in as_floats.columns[1]),
                                as_floats.columns[2]), as_floats.shared)
    numbers = SharedNumbers()
    back = [rows_from_columns(pickle.loads(_dumps(columns_of(items))), numbers)  # type: ignore[arg-type]
            for items in (first, second)]
    assert back == [first, second]
    assert len({id(item.at) for piece in back for item in piece}) == 10
    assert len({id(item.size) for piece in back for item in piece}) == 2
    read = rows_from_columns(pickle.loads(_dumps(as_floats)), numbers)
    assert {type(item.size) for item in read} == {float}  # 100000.0 is not the 100000 read before
    alone = [rows_from_columns(pickle.loads(_dumps(columns_of(items)))) for items in (first, second)]  # type: ignore
    assert len({id(item.at) for piece in alone for item in piece}) == 20  # each piece on its own


def test_shared_numbers_start_over_when_full() -> None:
    numbers = SharedNumbers(limit=3)
    kept = numbers.of(float)
    kept.update({1.0: 1.0, 2.0: 2.0, 3.0: 3.0})
    assert numbers.of(float) == {} and numbers.of(int) == {}
