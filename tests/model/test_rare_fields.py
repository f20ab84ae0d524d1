"""An exchange's and a push's rare fields: attributes as before, kept in one optional dict (``rare``)."""

from __future__ import annotations

import dataclasses
import io
import pickle
import sys

import pytest

from pushscope.model.compact import EMPTY, SharedValues, compact_exchange
from pushscope.model.entities import RARE_EXCHANGE_FIELDS, RARE_PUSH_FIELDS, Exchange, Push, PushTruth, Reset
from pushscope.model.pickling import ModelPickler, columns_of, rows_from_columns
from pushscope.vocabulary import Outcome, Reason

SET = {"push_id": 3, "informational": [[(":status", "103")]], "trailers": [("grpc-status", "0")],
       "request_body_bytes": 512, "body_truncated": True, "reset": Reset("client", 8, "CANCEL", 1.5, "RST_STREAM"),
       "unknown_fields": (":path",), "assumed_authority": "example.test"}
DEFAULTS = {"push_id": None, "informational": [], "trailers": [], "request_body_bytes": 0, "body_truncated": False,
            "reset": None, "unknown_fields": (), "assumed_authority": ""}


def test_every_rare_field_is_named_and_reads_its_default_without_a_dict() -> None:
    assert set(RARE_EXCHANGE_FIELDS) == set(SET)
    assert not set(RARE_EXCHANGE_FIELDS) & {f.name for f in dataclasses.fields(Exchange)}  # no slot each
    exchange = Exchange(0, "t0", "h2", 1)
    assert exchange.rare is None
    assert {name: getattr(exchange, name) for name in RARE_EXCHANGE_FIELDS} == DEFAULTS
    assert exchange.informational is EMPTY and exchange.trailers is EMPTY


@pytest.mark.parametrize("name", sorted(SET))
def test_a_rare_field_set_reads_back_and_set_back_leaves_no_trace(name: str) -> None:
    exchange = Exchange(0, "t0", "h2", 1)
    setattr(exchange, name, SET[name])
    assert getattr(exchange, name) is SET[name] and exchange.rare == {name: SET[name]}
    assert exchange != Exchange(0, "t0", "h2", 1)
    setattr(exchange, name, DEFAULTS[name])
    assert exchange.rare is None and exchange == Exchange(0, "t0", "h2", 1)


def test_default_means_the_same_kind_of_empty_value() -> None:
    exchange = Exchange(0, "t0", "h2", 1)
    exchange.informational, exchange.unknown_fields, exchange.assumed_authority = [], (), ""
    assert exchange.rare is None and exchange.informational is EMPTY
    exchange.request_body_bytes = False  # not the int 0: kept as given
    exchange.body_truncated = 0  # type: ignore[assignment]  # not False
    assert exchange.rare == {"request_body_bytes": False, "body_truncated": 0}


def test_a_copy_made_by_replace_does_not_share_later_changes() -> None:
    original = Exchange(0, "t0", "h2", 1).with_rare(push_id=1)
    copy = dataclasses.replace(original, id=5)
    copy.reset = SET["reset"]  # type: ignore[assignment]
    copy.push_id = None
    assert original.push_id == 1 and original.reset is None and original.rare == {"push_id": 1}
    assert copy.rare == {"reset": SET["reset"]}


def test_with_rare_refuses_what_is_not_a_rare_field() -> None:
    with pytest.raises(TypeError):
        Exchange(0, "t0", "h2", 1).with_rare(stream_id=3)


def test_rare_fields_survive_compaction_and_the_cache_pickling() -> None:
    plain = Exchange(0, "t0", "h2", 1)
    rare = Exchange(1, "t0", "h2", 3).with_rare(**SET)
    for exchange in (plain, rare):
        compact_exchange(exchange, SharedValues())
    buffer = io.BytesIO()
    ModelPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(columns_of([plain, rare]))
    read = rows_from_columns(pickle.loads(buffer.getvalue()))
    assert read == [plain, rare]
    assert {name: getattr(read[1], name) for name in RARE_EXCHANGE_FIELDS} == SET
    assert read[0].rare is None


def test_an_exchange_costs_seven_slots_fewer() -> None:
    """26 fields, as before; 19 slots (eight fields in ``rare``, and ``rare`` itself): 184 bytes, not 240."""
    fields = len(dataclasses.fields(Exchange))
    assert fields - 1 + len(RARE_EXCHANGE_FIELDS) == 26 and fields == 19
    assert sys.getsizeof(Exchange(0, "t0", "h2", 1)) <= sys.getsizeof(object()) + 8 * fields + 16


PUSH_SET = {"push_id": 4, "reset": Reset("client", 8, "CANCEL", 2.0, "RST_STREAM"), "reason_detail": "why",
            "preload_link": "</a.css>; rel=preload", "unknown_fields": (":path",), "assumed_authority": "a.test",
            "truth": PushTruth("t0", 1, "https://a.test/a.css", 2, None, 1.0, Outcome.USED, Reason.CLAIMED)}
PUSH_DEFAULTS = {"push_id": None, "reset": None, "reason_detail": "", "preload_link": None, "unknown_fields": (),
                 "assumed_authority": "", "truth": None}


def test_a_push_keeps_its_rare_fields_the_same_way() -> None:
    assert set(RARE_PUSH_FIELDS) == set(PUSH_SET)
    assert not set(RARE_PUSH_FIELDS) & {f.name for f in dataclasses.fields(Push)}
    push = Push(0, "t0", "h2", 1, 2, 1.0)
    assert push.rare is None and {name: getattr(push, name) for name in RARE_PUSH_FIELDS} == PUSH_DEFAULTS
    push.with_rare(**PUSH_SET)
    assert {name: getattr(push, name) for name in RARE_PUSH_FIELDS} == PUSH_SET
    for name, value in PUSH_DEFAULTS.items():
        setattr(push, name, value)
    assert push.rare is None and push == Push(0, "t0", "h2", 1, 2, 1.0)
    with pytest.raises(TypeError):
        push.with_rare(outcome=Outcome.USED)
    assert len(dataclasses.fields(Push)) == 18  # 24 fields in all: 176 bytes a push, not 224


def test_a_pushs_rare_fields_survive_the_cache_pickling() -> None:
    pushes = [Push(0, "t0", "h2", 1, 2, 1.0), Push(1, "t0", "h3", 1, None, 1.5).with_rare(**PUSH_SET)]
    buffer = io.BytesIO()
    ModelPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(columns_of(pushes))
    read = rows_from_columns(pickle.loads(buffer.getvalue()))
    assert read == pushes and read[1].truth == PUSH_SET["truth"] and read[0].rare is None
