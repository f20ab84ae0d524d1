"""A filtered view's capture: renumbered exchanges, pushes and evidence that still point at the right rows."""

from __future__ import annotations

from pushscope.export.json_report import report_dict
from pushscope.model.subset import is_whole, subset
from pushscope.pipeline import load_capture
from tests.e2e.truth import CAPTURES


def test_subset_keeps_pushes_pointing_at_their_exchanges() -> None:
    capture = load_capture(str(CAPTURES / "nginx-second-connection.pcapng"),
                           str(CAPTURES / "nginx-second-connection.keys"))
    second = [e.id for e in capture.exchanges if e.connection_id == "t1"]
    assert second and not is_whole(capture, second)
    view = subset(capture, second)
    assert list(view.connections) == ["t1"]
    assert [e.id for e in view.exchanges] == list(range(len(second)))
    assert len(view.pushes) == sum(1 for p in capture.pushes if p.connection_id == "t1")
    for push in view.pushes:
        exchange = view.exchange(push.exchange_id)
        assert exchange is not None and exchange.url == push.url
        for item in push.evidence:
            if item.exchange_id is not None:
                assert 0 <= item.exchange_id < len(view.exchanges)
    report = report_dict(view)
    assert report["summary"]["pushes_by_outcome"]["cache-duplicated"] == 2
    # The original is untouched.
    assert len(capture.exchanges) > len(view.exchanges) and capture.exchanges[second[0]].id == second[0]
