"""The experiment's report as JSON (every run and the statistics; ``experiment.schema.json``) and as text.

Everything that came from the server (URLs) was made visible-safe when the run was measured (metrics.py); the
text here adds only numbers and fixed words.
"""

from __future__ import annotations

import statistics
from typing import Any

from pushscope import __version__
from pushscope.experiment.metrics import METRICS
from pushscope.experiment.runner import METRIC_LABELS, PRIMARY_METRIC, ExperimentResult, ProfileStatistics
from pushscope.experiment.statistics import kib

SCHEMA = "pushscope-experiment"
SCHEMA_VERSION = 1
TCP_LIMITS = ("a TCP relay terminates each connection: the kernel's slow start and loss recovery run on the "
              "unshaped loopback legs, so TCP ramps up at once and loss is not modelled")
UDP_LIMITS = "QUIC is shaped per datagram: its own congestion control and loss recovery see the shaped path"


def shaper_note(result: ExperimentResult) -> dict[str, Any]:
    netem = ("this kernel has netem, but the experiment uses the user-space relay" if result.netem_available
             else "this kernel has no netem qdisc")
    limits = UDP_LIMITS if result.options.http == "3" else TCP_LIMITS
    return {"kind": result.shaper, "kernel_netem": result.netem_available, "note": f"{netem}; {limits}"}


def experiment_dict(result: ExperimentResult) -> dict[str, Any]:
    return {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION, "pushscope": __version__,
        "options": result.options.as_dict(), "shaper": shaper_note(result),
        "started_at": round(result.started_at, 3),
        "ended_at": None if result.ended_at is None else round(result.ended_at, 3),
        "primary_metric": PRIMARY_METRIC,
        "profiles": [_profile_dict(result, stats) for stats in result.statistics],
        "runs": [run.as_dict() for run in result.runs],
    }


def _profile_dict(result: ExperimentResult, stats: ProfileStatistics) -> dict[str, Any]:
    path = result.paths.get(stats.profile.name)
    return {
        **stats.profile.as_dict(),
        "measured_path": path.as_dict() if path is not None else None,
        "strategies": {s: {m: (summary.as_dict(1000) if (summary := stats.summaries[m][s]) else None)
                           for m in METRICS} for s in result.options.strategies},
        "comparisons": {m: [d.as_dict(1000) for d in stats.differences[m]] for m in METRICS},
        "winner": dict(stats.winners),
        "wasted_push_bytes_median": stats.wasted_push_bytes,
        "failed_runs": sum(1 for r in result.runs if r.profile == stats.profile.name and not r.ok),
        "sentence": stats.sentence,
    }


# --------------------------------------------------------------------------------------------------------
# text
# --------------------------------------------------------------------------------------------------------
def render_text(result: ExperimentResult) -> str:
    options = result.options
    note = shaper_note(result)
    lines = [f"pushscope experiment {options.url}",
             f"HTTP/{options.http}, {options.cache} cache, {options.runs} runs per strategy and profile, interleaved "
             f"({', '.join(options.strategies)})",
             f"shaper: {note['kind']}", f"  {note['note']}", ""]
    for stats in result.statistics:
        lines += _profile_text(result, stats)
    return "\n".join(lines) + "\n"


def _profile_text(result: ExperimentResult, stats: ProfileStatistics) -> list[str]:
    profile = stats.profile
    lines = [f"{profile.describe()}"]
    path = result.paths.get(profile.name)
    if path is not None:
        lines.append(f"  {path.describe()}")
    header = f"  {'strategy':<9} {'ok':>5}"
    for metric in METRICS:
        header += f"  {METRIC_LABELS[metric].split()[0] + ' ms':>22}"
    lines += [header + f"  {'received':>10}  {'pushed':>9}  {'wasted':>9}",
              f"  {'':<9} {'':>5}" + f"  {'median [IQR]':>22}" * len(METRICS)]
    for strategy in result.options.strategies:
        runs = result.runs_of(profile.name, strategy)
        ok = [r for r in runs if r.ok]
        row = f"  {strategy:<9} {len(ok):>2}/{len(runs):<2}"
        for metric in METRICS:
            summary = stats.summaries[metric][strategy]
            cell = "-" if summary is None else f"{summary.median * 1000:.0f} [{summary.q1 * 1000:.0f}–" \
                                               f"{summary.q3 * 1000:.0f}]"
            row += f"  {cell:>22}"
        row += f"  {_median_bytes(ok, 'bytes_received'):>10}  {_median_bytes(ok, 'pushed_bytes'):>9}"
        row += f"  {_median_bytes(ok, 'wasted_push_bytes'):>9}"
        lines.append(row)
    lines += _verdicts(result, stats)
    lines.append(f"  => {stats.sentence}")
    for metric in METRICS:
        chosen = stats.winners[metric]
        lines.append(f"     {METRIC_LABELS[metric]}: " + (f"{chosen} wins" if chosen else
                                                           "no clear winner (an interval includes zero)"))
    lines.append("")
    return lines


def _median_bytes(runs: list[Any], name: str) -> str:
    values = [getattr(r, name) for r in runs]
    return "-" if not values else kib(statistics.median(values))


def _verdicts(result: ExperimentResult, stats: ProfileStatistics) -> list[str]:
    """How often each pushed URL was used or wasted, over the push runs."""
    counts: dict[tuple[str, str], int] = {}
    for run in result.runs_of(stats.profile.name, "push"):
        for push in run.pushes:
            key = (push.url, push.outcome if not push.reason else f"{push.outcome} ({push.reason})")
            counts[key] = counts.get(key, 0) + 1
    if not counts:
        return []
    lines = ["  pushes (over the push runs):"]
    for (url, verdict), count in sorted(counts.items())[:20]:
        lines.append(f"    {count:>3} x {verdict}: {url[:100]}")
    return lines
