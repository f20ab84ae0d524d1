"""The inspector's words and numbers: one time unit per line, visible control characters, no markup."""

from __future__ import annotations

from pushscope.tui.fmt import unit_for


def test_one_unit_per_line() -> None:
    unit = unit_for([0.0105, 2.0173, None])
    assert unit.name == "s"
    assert [unit.offset(v) for v in (0.0105, 2.0173)] == ["+0.01 s", "+2.02 s"]
    assert unit_for([0.0105, 0.2]).offset(0.2) == "+200.0 ms"
    assert unit_for([0.0000105]).duration(0.0000105) == "10 µs"
    assert unit_for([]).name == "ms"


def test_idle_gaps_collapse_and_map_back() -> None:
    from pushscope.timescale import TimeScale, activity_spans

    spans = activity_spans([(0.0, 0.5), (0.2, 0.9), (60.0, 61.0), (61.5, 62.0), (300.0, 300.4)])
    assert spans == [(0.0, 0.9), (60.0, 62.0), (300.0, 300.4)]
    scale = TimeScale.collapsing(spans)
    assert scale.collapses and len(scale.breaks) == 2
    assert scale.to_axis(0.5) == 0.5
    second = scale.to_axis(60.0)
    assert 0.9 < second < 1.5  # the minute of idle time shrank to a short break
    assert scale.to_axis(61.0) - second == 1.0  # time inside a load keeps its length
    assert scale.to_time(scale.to_axis(61.25)) == 61.25
    assert scale.to_axis(300.4) < 4.0
    assert TimeScale().to_axis(5.0) == 5.0
