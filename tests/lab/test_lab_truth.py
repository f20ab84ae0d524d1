"""The lab's truth speaks the product's vocabulary, and decides from the client's facts in the documented order."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pushscope.vocabulary import Outcome, Reason

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
if str(CAPTURES) not in sys.path:
    sys.path.insert(0, str(CAPTURES))

from lab.truth import PushFacts, judge  # noqa: E402


@pytest.mark.parametrize("path", sorted(CAPTURES.glob("*.truth.json")), ids=lambda p: p.name.split(".")[0])
def test_truth_files_use_the_product_vocabulary(path: Path) -> None:
    for push in json.loads(path.read_text())["pushes"]:
        assert push["outcome"] in set(Outcome) and push["reason"] in set(Reason) - {Reason.NONE}, push
        if "client_reason" in push:  # a cut capture keeps the client's own verdict beside unknown
            assert push["outcome"] == Outcome.UNKNOWN and push["reason"] == Reason.EARLIER_TRAFFIC_UNREADABLE
            assert push["client_outcome"] in set(Outcome) and push["client_reason"] in set(Reason), push


@pytest.mark.parametrize(("facts", "verdict"), [
    (PushFacts(completed=True), (Outcome.WASTED, Reason.NOT_REFERENCED)),
    (PushFacts(completed=True, claimed=True, wait_ms=5.0), (Outcome.USED, Reason.CLAIMED)),
    (PushFacts(completed=True, claimed=True, wait_ms=5.1), (Outcome.USED, Reason.CLAIMED_LATE)),
    (PushFacts(completed=False, claimed=True), (Outcome.WASTED, Reason.CONNECTION_CLOSED)),
    (PushFacts(requested_anyway=True, completed=False), (Outcome.WASTED, Reason.CLIENT_REQUESTED_ANYWAY)),
    (PushFacts(server_cancelled=True, requested_anyway=True), (Outcome.WASTED, Reason.SERVER_CANCELLED)),
    (PushFacts(refused=True, server_cancelled=True), (Outcome.WASTED, Reason.REJECTED)),
    (PushFacts(push_disabled=True, refused=True), (Outcome.WASTED, Reason.PUSH_DISABLED)),
    (PushFacts(pushed_twice=True, push_disabled=True), (Outcome.CACHE_DUPLICATED, Reason.PUSHED_TWICE)),
    (PushFacts(had_fresh_copy=True, pushed_twice=True), (Outcome.CACHE_DUPLICATED, Reason.ALREADY_CACHED)),
    (PushFacts(had_fresh_copy=True, refused=True), (Outcome.CACHE_DUPLICATED, Reason.CANCELLED_CACHED)),
    (PushFacts(must_refuse=True, refused=True, had_fresh_copy=True), (Outcome.WASTED, Reason.MUST_REFUSE)),
])
def test_the_first_fact_in_precedence_decides(facts: PushFacts, verdict: tuple[Outcome, Reason]) -> None:
    assert judge(facts) == verdict
