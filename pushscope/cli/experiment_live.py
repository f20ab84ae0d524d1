"""The experiment as a source for the inspector: every run's probe items as they happen, each run's connections
named after it (``3g/push/4:p1``), the experiment's progress per cell, and each profile's result sentence.

The runs happen in a child process (``python -m pushscope.cli.experiment_live``): the inspector
redrawing must not hold the interpreter lock while the shaper's timers are due or the probe is reading, or it
would add its own delays to the very times being compared. Items come back over a queue and are folded as they
arrive, so the waterfall of every finished run is there while the next ones load.
"""

from __future__ import annotations

import dataclasses
import pickle
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

from pushscope.events import (
    ConnectionOpened,
    Diagnostic,
    Event,
    PushTruthRecorded,
    RunFinished,
    RunStarted,
    SourceFinished,
    SourceProgress,
)

POLL = 0.2  # seconds between looks at the cancel flag while waiting for the child


def renamed(run: str, item: Any) -> Any:
    """The item as one client among the experiment's: connection ids prefixed by the run's name (runs number their
    connections alike), the run's own HTTP cache named on each connection (a run's cache is its own, so a later
    run's push is never judged against an earlier run's copy), and the probe's run labels under the run's name."""
    if isinstance(item, ConnectionOpened):
        item = dataclasses.replace(item, cache_scope=f"{run}:{item.cache_scope or 'cache'}")
    if isinstance(item, PushTruthRecorded):
        item = dataclasses.replace(item, run=f"{run}:{item.run}")
    if isinstance(item, RunStarted):
        return dataclasses.replace(item, label=f"{run}:{item.label}")
    if isinstance(item, RunFinished):
        return dataclasses.replace(item, label=f"{run}:{item.label}",
                                   connections=tuple(f"{run}:{cid}" for cid in item.connections))
    if isinstance(item, (Event, Diagnostic)) and item.connection_id:
        return dataclasses.replace(item, connection_id=f"{run}:{item.connection_id}")
    return item


def _send(out: Any, lock: threading.Lock, item: Any) -> None:
    data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
    with lock:
        out.write(struct.pack("!I", len(data)) + data)
        out.flush()


def child_main() -> None:
    """The child process: the pickled ExperimentOptions on stdin; items out on stdout, length-prefixed pickles,
    then ("result", result) and ("done", None). A byte on stdin, or its end, asks it to stop after this run."""
    from pushscope.experiment.runner import ExperimentRefused, run_experiment

    source, out, lock, stop = sys.stdin.buffer, sys.stdout.buffer, threading.Lock(), threading.Event()
    options = pickle.loads(source.read(struct.unpack("!I", source.read(4))[0]))
    def stop_on_input() -> None:
        source.read(1)
        stop.set()

    threading.Thread(target=stop_on_input, daemon=True).start()

    def progress(done: int, total: int, text: str) -> None:
        _send(out, lock, SourceProgress(done=done, total=total, unit="runs", detail=text))

    try:
        result = run_experiment(options, progress, lambda run, item: _send(out, lock, renamed(run, item)),
                                cancelled=stop.is_set)
        _send(out, lock, ("result", result))
    except ExperimentRefused as exc:
        _send(out, lock, Diagnostic(level="error", message=str(exc), code="experiment-refused"))
    except Exception as exc:  # reported in the inspector, which must not die with the experiment
        _send(out, lock, Diagnostic(level="error", message=f"the experiment failed: {exc!r}",
                                    code="experiment-failed"))
    finally:
        _send(out, lock, ("done", None))


def _read_items(stdout: Any) -> Iterator[Any]:
    while len(header := stdout.read(4)) == 4:
        size = struct.unpack("!I", header)[0]
        data = stdout.read(size)
        if len(data) < size:
            return
        yield pickle.loads(data)  # our own child's output, not the server's bytes


def experiment_events(options: Any, cancel: threading.Event) -> Iterator[Any]:
    """Run the experiment in a child process; yield Event | Diagnostic | SourceProgress, then the result
    sentences and SourceFinished."""
    child = subprocess.Popen([sys.executable, "-m", "pushscope.cli.experiment_live"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert child.stdin is not None and child.stdout is not None
    data = pickle.dumps(options, protocol=pickle.HIGHEST_PROTOCOL)
    child.stdin.write(struct.pack("!I", len(data)) + data)
    child.stdin.flush()
    watcher = threading.Thread(target=_stop_on_cancel, args=(cancel, child), daemon=True)
    watcher.start()
    result, finished = None, False
    try:
        for item in _read_items(child.stdout):
            if isinstance(item, tuple):
                finished = item[0] == "done"
                result = item[1] if item[0] == "result" else result
                if finished:
                    break
                continue
            yield item
    finally:
        _stop(child)
    if not finished and not cancel.is_set():
        yield Diagnostic(level="error", message=f"the experiment's process ended (status {child.returncode})",
                         code="experiment-failed")
    if result is not None:
        yield from result_items(result)


def _stop_on_cancel(cancel: threading.Event, child: subprocess.Popen[bytes]) -> None:
    while child.poll() is None:
        if cancel.wait(POLL):
            _ask_to_stop(child)
            return


def _ask_to_stop(child: subprocess.Popen[bytes]) -> None:
    try:
        if child.stdin is not None and not child.stdin.closed:
            child.stdin.close()  # the child stops after the run under way
    except OSError:
        pass


def _stop(child: subprocess.Popen[bytes]) -> None:
    _ask_to_stop(child)
    try:
        child.wait(timeout=60)
    except subprocess.TimeoutExpired:
        child.kill()  # our own child, by its handle
        child.wait(timeout=5)


def result_items(result: Any) -> Iterator[Any]:
    for stats in result.statistics:
        path = result.paths.get(stats.profile.name)
        measured = f" ({path.describe()})" if path is not None else ""
        yield Diagnostic(level="info", message=f"{stats.profile.describe()}{measured}: {stats.sentence}",
                         code="experiment-result")
    yield SourceFinished(summary={"runs": len(result.runs), "failed": sum(1 for r in result.runs if not r.ok)})


if __name__ == "__main__":
    child_main()
