"""The verdict vocabulary: the schemas list exactly the StrEnums' values, the rules speak only in them, and every
table that presents an outcome covers every outcome."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pushscope import presentation
from pushscope.analysis.rules import RULES
from pushscope.model.entities import Push
from pushscope.vocabulary import OUTCOMES, Outcome, Reason

EXPORT = Path(__file__).resolve().parent.parent / "pushscope" / "export"
FIX = "the JSON schema and pushscope/vocabulary.py disagree: update the schema's enum to the StrEnum's values"


def _schema(name: str) -> dict:
    return json.loads((EXPORT / name).read_text(encoding="utf-8"))


def test_report_schema_lists_every_outcome_and_reason_in_order() -> None:
    defs = _schema("report.schema.json")["$defs"]
    assert defs["outcome"]["enum"] == [str(o) for o in OUTCOMES], FIX
    assert defs["reason"]["enum"] == [str(r) for r in Reason], FIX
    assert defs["push"]["properties"]["outcome"] == {"$ref": "#/$defs/outcome"}
    assert defs["push"]["properties"]["reason"] == {"$ref": "#/$defs/reason"}
    counts = defs["outcome_counts"]
    assert counts["required"] == [str(o) for o in OUTCOMES], FIX
    assert list(counts["properties"]) == [str(o) for o in OUTCOMES], FIX


def test_qlog_schema_lists_every_outcome_and_reason() -> None:
    verdict = _schema("qlog.schema.json")["$defs"]["push_resolved"]["properties"]
    assert verdict["outcome"]["enum"] == [str(o) for o in OUTCOMES], FIX
    assert verdict["reason"]["enum"] == [str(r) for r in Reason], FIX


def test_outcomes_lists_every_outcome_once() -> None:
    assert sorted(OUTCOMES) == sorted(Outcome) and len(set(OUTCOMES)) == len(OUTCOMES)


def test_the_rules_speak_only_the_vocabulary() -> None:
    for rule in RULES:
        assert isinstance(rule.outcome, Outcome) and isinstance(rule.reason, Reason), rule
    judged = {rule.reason for rule in RULES}
    # Every reason but the unjudged one is some rule's (the probe's "rejected" is the rule's too).
    assert judged == set(Reason) - {Reason.NONE}
    assert len(judged) == len(RULES), "two rules share a reason code"


def test_values_read_and_serialise_as_the_plain_strings() -> None:
    push = Push(id=1, connection_id="c", protocol="h2", parent_stream_id=1, promised_stream_id=2, promised_at=0.0)
    assert (push.outcome, push.reason) == ("unknown", "")
    assert json.dumps({Outcome.CACHE_DUPLICATED: Reason.PUSHED_TWICE}) == '{"cache-duplicated": "pushed-twice"}'
    assert f"{Outcome.USED:<6}|{Reason.CLAIMED_LATE}" == "used  |claimed-late"


@pytest.mark.parametrize("table", ["OUTCOME_GLYPHS", "OUTCOME_SHORT", "OUTCOME_MEANINGS", "OUTCOME_STYLES",
                                   "OUTCOME_COLOURS"])
def test_every_presentation_table_covers_every_outcome(table: str) -> None:
    values = getattr(presentation, table)
    assert list(values) == list(OUTCOMES)
    assert all(values.values())


def test_attention_puts_wasted_first_and_requests_last() -> None:
    ranked = sorted(presentation.ATTENTION_RANK, key=presentation.ATTENTION_RANK.__getitem__)
    assert ranked == [Outcome.WASTED, Outcome.CACHE_DUPLICATED, Outcome.UNKNOWN, Outcome.USED, None]
    assert presentation.glyph("no-such-outcome") == "?" and presentation.glyph(None) == "?"
    assert presentation.glyph("wasted") == "✘"
