"""Run the experiment: for each network profile, check the shaped path, then load the page N times per strategy,
interleaved (push, no-push, preload, push, no-push, preload, ...) so drift hits every strategy alike.

Each load is one probe session on new connections, through a shaper in front of the server:

- ``push``: the client accepts pushes (HTTP/2 SETTINGS_ENABLE_PUSH=1, HTTP/3 MAX_PUSH_ID);
- ``no-push``: it refuses them (ENABLE_PUSH=0, no MAX_PUSH_ID), so the server must not push;
- ``preload``: it refuses them and fetches Link rel=preload targets from 103 Early Hints or the final headers
  as soon as it sees them, before the body is parsed.

``--cache warm`` loads the page once first (the cache filled, as a browser's would be) and measures the second
load. The statistics are computed per profile from the runs that loaded the page.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pushscope.experiment.metrics import METRICS, RunMetrics, measure_run
from pushscope.experiment.path_check import PathMeasurement, measure_path
from pushscope.experiment.profiles import NetworkProfile
from pushscope.experiment.shaper import Shaper, ShaperProcess, kernel_netem_available
from pushscope.experiment.statistics import Difference, Summary, compare, profile_sentence, summarize, winner

STRATEGIES = ("push", "no-push", "preload")
PRIMARY_METRIC = "render_blocking"
PATH_ATTEMPTS = 2  # measurements of a shaped path before refusing it
METRIC_LABELS = {"document": "document complete", "render_blocking": "render-blocking resources complete",
                 "all_subresources": "all subresources complete"}
Progress = Callable[[int, int, str], None]
Sink = Callable[[str, Any], None]  # (the run's name, one probe item: an event or a diagnostic)


class ExperimentRefused(RuntimeError):
    """The shaped path is not what the profile says (or cannot be measured): no run was made."""


@dataclass(slots=True)
class ExperimentOptions:
    url: str
    profiles: list[NetworkProfile]
    strategies: list[str] = field(default_factory=lambda: list(STRATEGIES))
    runs: int = 10
    cache: Literal["cold", "warm"] = "cold"
    http: Literal["2", "3"] = "2"
    insecure: bool = False
    cacert: str | None = None
    timeout: float = 30.0
    save: str | None = None  # a folder: one saved probe session per run
    seed: int = 0
    check_path: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "profiles": [p.name for p in self.profiles], "strategies": list(self.strategies),
                "runs": self.runs, "cache": self.cache, "http": self.http, "insecure": self.insecure,
                "seed": self.seed, "interleaved": True}


@dataclass(slots=True)
class ProfileStatistics:
    profile: NetworkProfile
    summaries: dict[str, dict[str, Summary | None]]  # metric -> strategy -> summary
    differences: dict[str, list[Difference]]  # metric -> pairs
    winners: dict[str, str | None]
    sentence: str
    wasted_push_bytes: float | None


@dataclass(slots=True)
class ExperimentResult:
    options: ExperimentOptions
    shaper: str = Shaper.kind
    netem_available: bool = False
    paths: dict[str, PathMeasurement] = field(default_factory=dict)
    runs: list[RunMetrics] = field(default_factory=list)
    statistics: list[ProfileStatistics] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None

    def runs_of(self, profile: str, strategy: str) -> list[RunMetrics]:
        return [run for run in self.runs if run.profile == profile and run.strategy == strategy]


def target_of(url: str) -> tuple[str, int]:
    """The server's address (the shaper's target): the URL's host resolved, its port."""
    from pushscope.sources.probe.connection import Origin

    origin = Origin.of(url)
    try:
        info = socket.getaddrinfo(origin.host, origin.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ExperimentRefused(f"cannot resolve {origin.host}: {exc}") from exc
    return str(info[0][4][0]), origin.port


def check_paths(options: ExperimentOptions, result: ExperimentResult, progress: Progress | None) -> None:
    protocol: Literal["tcp", "udp"] = "udp" if options.http == "3" else "tcp"
    problems: list[str] = []
    for number, profile in enumerate(options.profiles):
        if progress:
            progress(number, len(options.profiles), f"measuring the shaped path for {profile.name}")
        measured = measure_path(profile, protocol, seed=options.seed, attempts=PATH_ATTEMPTS)
        result.paths[profile.name] = measured
        problems += [f"{profile.name}: {problem}" for problem in measured.problems()]
    if problems:
        raise ExperimentRefused("the shaped path is more than 10 % off its profile, so no run was made: "
                                + "; ".join(problems))


def probe_options(options: ExperimentOptions, strategy: str, relay_port: int) -> Any:
    from pushscope.sources.probe.connection import ProbeOptions

    return ProbeOptions(url=options.url, http=options.http, runs=["cold", "warm"] if options.cache == "warm" else
                        ["cold"], insecure=options.insecure, cacert=options.cacert, timeout=options.timeout,
                        linger=0.2, accept_push=strategy == "push", preload=strategy == "preload",
                        connect_to=("127.0.0.1", relay_port))


def run_experiment(options: ExperimentOptions, progress: Progress | None = None, sink: Sink | None = None,
                   cancelled: Callable[[], bool] = lambda: False) -> ExperimentResult:
    """Every run, interleaved; ``sink`` receives each run's probe items as they happen (the inspector folds them),
    ``cancelled`` is asked before each run."""
    result = ExperimentResult(options, netem_available=kernel_netem_available())
    if options.check_path:
        check_paths(options, result, progress)
    target = target_of(options.url)
    total = len(options.profiles) * options.runs * len(options.strategies)
    for profile in options.profiles:
        if cancelled():
            break
        with ShaperProcess(profile, target, seed=options.seed) as shaper:
            for round_number in range(options.runs):
                for strategy in options.strategies:
                    if cancelled():
                        break
                    if progress:
                        progress(len(result.runs), total, cell_progress(result, profile, strategy, round_number))
                    result.runs.append(one_run(options, profile, strategy, round_number, shaper.port, sink))
        result.statistics.append(profile_statistics(result, profile))
    if progress:
        progress(len(result.runs), total, "done")
    result.ended_at = time.time()
    return result


def cell_progress(result: ExperimentResult, profile: NetworkProfile, strategy: str, round_number: int) -> str:
    """``3g: preload, run 4 of 10 (push 4/10, no-push 4/10, preload 3/10)``."""
    options = result.options
    cells = ", ".join(f"{s} {len(result.runs_of(profile.name, s))}/{options.runs}" for s in options.strategies)
    return f"{profile.name}: {strategy}, run {round_number + 1} of {options.runs} ({cells})"


def run_name(profile: NetworkProfile, strategy: str, round_number: int) -> str:
    return f"{profile.name}/{strategy}/{round_number + 1}"


def one_run(options: ExperimentOptions, profile: NetworkProfile, strategy: str, round_number: int,
            port: int, sink: Sink | None = None) -> RunMetrics:
    from pushscope.events import SourceProgress
    from pushscope.sources.probe.session import run_session

    probe = probe_options(options, strategy, port)
    name = run_name(profile, strategy, round_number)

    def forward(item: Any) -> None:
        if sink is not None and not isinstance(item, SourceProgress):  # the experiment reports its own progress
            sink(name, item)

    session = run_session(probe, forward if sink is not None else None)
    measured_index = len(session.runs) - 1
    metrics = measure_run(session, measured_index, profile.name, strategy, round_number)
    if options.save:
        metrics.events_file = save_run(options, session, probe, profile, strategy, round_number)
    return metrics


def save_run(options: ExperimentOptions, session: Any, probe: Any, profile: NetworkProfile, strategy: str,
             round_number: int) -> str:
    from pushscope.sources.probe.recording import write_session

    folder = Path(options.save or ".")
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in profile.name)
    path = folder / f"{safe}-{strategy}-{round_number + 1:03d}.jsonl"
    write_session(path, session.items, url=options.url,
                  options={"experiment": {"profile": profile.name, "strategy": strategy, "round": round_number + 1,
                                          "cache": options.cache, "http": options.http}})
    return str(path)


def profile_statistics(result: ExperimentResult, profile: NetworkProfile) -> ProfileStatistics:
    options = result.options
    summaries: dict[str, dict[str, Summary | None]] = {}
    differences: dict[str, list[Difference]] = {}
    winners: dict[str, str | None] = {}
    for metric in METRICS:
        samples = {s: [v for r in result.runs_of(profile.name, s) if r.ok and (v := r.value(metric)) is not None]
                   for s in options.strategies}
        summaries[metric] = {s: summarize(values) for s, values in samples.items()}
        differences[metric] = compare({s: v for s, v in samples.items() if v}, seed=options.seed)
        winners[metric] = winner(differences[metric], [s for s, v in samples.items() if v])
    wasted = summarize([float(r.wasted_push_bytes) for r in result.runs_of(profile.name, "push") if r.ok])
    wasted_median = wasted.median if wasted is not None else None
    sentence = profile_sentence(profile.name, differences[PRIMARY_METRIC], wasted_median,
                                METRIC_LABELS[PRIMARY_METRIC])
    return ProfileStatistics(profile, summaries, differences, winners, sentence, wasted_median)
