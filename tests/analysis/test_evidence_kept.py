"""A push keeps only what its evidence shows, rendered when read; the index lets go of a connection once judged."""

from __future__ import annotations

import pickle

from factory import Lab, html

from pushscope.analysis.evidence import Explanation
from pushscope.analysis.facts import CaptureIndex, gather_facts
from pushscope.analysis.rules import first_rule
from pushscope.model.entities import Evidence

JS = "application/javascript"


def pages_with_an_unused_push(lab: Lab, pages: int, at: float = 0.0) -> None:
    """One connection loading ``pages`` pages that all reference /style.css; the first page pushes /style.css and
    /unused.js."""
    conn = lab.h2(at)
    for n in range(pages):
        stream = conn.request(f"/page{n}.html", at + 0.010 + n * 0.1)
        if n == 0:
            conn.push(stream, "/style.css", at + 0.015, content_type="text/css", end=at + 0.016)
            conn.push(stream, "/unused.js", at + 0.020, content_type=JS, end=at + 0.025)
        conn.respond(stream, at + 0.030 + n * 0.1, body=html("/style.css"), end=at + 0.040 + n * 0.1)


def test_evidence_is_rendered_when_read_and_pickles_as_a_list() -> None:
    lab = Lab()
    pages_with_an_unused_push(lab, 6)
    lab.analyse()
    push = lab.push("/unused.js")
    assert push.reason == "not-referenced"
    assert isinstance(push.evidence, Explanation)
    checked = " | ".join(e.text for e in push.evidence if e.kind == "documents-checked")
    # the six pages and the pushed stylesheet they reference
    assert checked == ("checked 7 documents loaded on this connection: https://example.test/page0.html, "
                       "https://example.test/page1.html, https://example.test/page2.html, "
                       "https://example.test/page3.html and 3 more")
    assert push.evidence[-1].kind == "verdict" and push.evidence[0].kind == "promise"
    rendered = list(push.evidence)
    assert rendered == list(push.evidence) and push.evidence == rendered  # the same texts at every read
    copy = pickle.loads(pickle.dumps(push.evidence))
    assert type(copy) is list and all(type(item) is Evidence for item in copy) and copy == rendered


def test_a_push_referenced_by_many_pages_shows_three_and_the_earliest_need() -> None:
    lab = Lab()
    pages_with_an_unused_push(lab, 6)
    lab.analyse()
    push = lab.push("/style.css")
    references = [e for e in push.evidence if e.kind == "reference"]
    assert [e.exchange_id for e in references] == [0, 3, 4]  # the first three pages (ids after the two pushes)
    assert push.cost.saved_time is not None and push.reason == "claimed"


def test_the_index_lets_go_of_each_connection_after_its_last_push() -> None:
    lab = Lab()
    pages_with_an_unused_push(lab, 2)
    pages_with_an_unused_push(lab, 2, at=10.0)
    index = CaptureIndex(lab.capture)
    pushes = sorted(lab.capture.pushes, key=lambda p: (p.promised_at, p.id))
    live = []
    for push in pushes:
        first_rule(gather_facts(push, index))
        index.judged(push)
        live.append(sorted(index._connections))
    first, second = lab.capture.pushes[0].connection_id, lab.capture.pushes[2].connection_id
    assert live == [[first], [], [second], []]
    assert not index._clients  # both connections are one client: let go after its last push
