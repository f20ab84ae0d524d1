"""``pushscope check``: push budgets for CI. Exit 1 names the pushes that broke a budget; 0 when within.

Works on a report dict, so it checks a capture or a saved JSON report alike. Budgets: wasted bytes (the
summary's ``wasted_bytes``), wasted ratio (wasted bytes / all pushed bytes), and the number of cache-duplicated
and of unknown pushes. A budget is broken when the measured value is greater than it. With no budget given,
``DEFAULT_BUDGETS`` apply (never a silent pass): at most a quarter of the pushed bytes wasted, no push unjudged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pushscope.export.coverage import Coverage, coverage_of
from pushscope.safe_text import visible, visible_tree
from pushscope.units import fmt_bytes
from pushscope.vocabulary import Outcome


@dataclass(slots=True)
class Budgets:
    max_wasted_bytes: int | None = None
    max_wasted_ratio: float | None = None
    max_cache_duplicated: int | None = None
    max_unknown: int | None = None
    defaults: bool = False  # these are DEFAULT_BUDGETS, applied because no budget was given
    max_anomalies: int | None = None  # protocol anomalies (what a broken or hostile peer did); 0 = fail on any

    @property
    def given(self) -> bool:
        return any(value is not None for value in (self.max_wasted_bytes, self.max_wasted_ratio,
                                                    self.max_cache_duplicated, self.max_unknown, self.max_anomalies))

    def describe(self) -> str:
        parts = [f"{name} {value:g}" if isinstance(value, float) else f"{name} {value}" for name, value in (
            ("--max-wasted-bytes", self.max_wasted_bytes), ("--max-wasted-ratio", self.max_wasted_ratio),
            ("--max-cache-duplicated", self.max_cache_duplicated), ("--max-unknown", self.max_unknown),
            ("--max-anomalies", self.max_anomalies))
            if value is not None]
        return (", ".join(parts) or "none") + (" (the defaults: no --max-* option given)" if self.defaults else "")


DEFAULT_BUDGETS = Budgets(max_wasted_ratio=0.25, max_unknown=0, defaults=True)


class NamedPush(NamedTuple):
    """What the output says of a push a broken budget names, one line: not the push's whole report dict (a
    gigabyte's failing gate can name all 204,000 of its pushes)."""

    outcome: str
    reason: str
    pushed_bytes: int
    wasted_bytes: int
    connection: str
    push_id: int | None
    promised_stream_id: int | None
    url: str

    @classmethod
    def of(cls, push: dict[str, Any]) -> NamedPush:
        return cls(push["outcome"], push["reason"], push["pushed_bytes"], push["cost"]["wasted_bytes"],
                   push["connection"], push["push_id"], push["promised_stream_id"], push["url"])


@dataclass(slots=True)
class Violation:
    budget: str
    limit: float
    measured: float
    pushes: list[NamedPush] = field(default_factory=list)

    def describe(self) -> str:
        if self.budget == "max-wasted-ratio":
            return f"wasted ratio {self.measured:.3f} > {self.limit:g} (--{self.budget})"
        if self.budget == "max-wasted-bytes":
            return f"wasted {int(self.measured)} bytes > {int(self.limit)} (--{self.budget})"
        if self.budget == "max-anomalies":
            return f"{int(self.measured)} protocol anomalies > {int(self.limit)} (--max-anomalies/--fail-on-anomalies)"
        what = Outcome.CACHE_DUPLICATED if self.budget == "max-cache-duplicated" else Outcome.UNKNOWN
        return f"{int(self.measured)} {what} pushes > {int(self.limit)} (--{self.budget})"


@dataclass(slots=True)
class CheckResult:
    measured: dict[str, float]
    violations: list[Violation]
    budgets: Budgets = field(default_factory=Budgets)
    coverage: Coverage = field(default_factory=Coverage)
    allow_undecrypted: bool = False
    anomalies: list[str] = field(default_factory=list)  # a few per connection, made visible, for the output

    @property
    def undecrypted(self) -> bool:
        """The capture could not be fully read: a gate must not pass on what it did not see."""
        return self.coverage.nothing_decoded or (bool(self.coverage.undecoded) and not self.allow_undecrypted)

    @property
    def ok(self) -> bool:
        return not self.violations and not self.undecrypted

    @property
    def verdict(self) -> str:
        return "UNDECRYPTED" if self.undecrypted else "FAIL" if self.violations else "OK"

    @property
    def exit_code(self) -> int:
        """0 within budget; 1 a budget exceeded; 3 application data not decoded (see pushscope.cli.exitcodes)."""
        return 3 if self.undecrypted else 1 if self.violations else 0


def _wasted(push: dict[str, Any]) -> bool:
    return push["outcome"] == Outcome.WASTED or push["cost"]["wasted_bytes"] > 0


# The report's top-level keys the gate reads (never the exchanges), and the keys of each push.
CHECK_READS = ("pushes", "summary", "connections", "diagnostics", "conversations")
CHECK_PUSH_FIELDS = ("outcome", "reason", "pushed_bytes", "cost", "push_id", "promised_stream_id", "connection", "url")


# Which pushes each budget names when it is broken.
_OFFENDS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "max-wasted-bytes": _wasted,
    "max-wasted-ratio": _wasted,
    "max-cache-duplicated": lambda push: push["outcome"] == Outcome.CACHE_DUPLICATED,
    "max-unknown": lambda push: push["outcome"] == Outcome.UNKNOWN,
}


def check_report(report: dict[str, Any], budgets: Budgets, coverage: Coverage | None = None, *,
                 allow_undecrypted: bool = False) -> CheckResult:
    """``report``'s connections are read once, its pushes once for the totals and again only for the pushes a broken
    budget names: lists, or iterables that make their dicts again on each pass (``json_report.Remade``), so that
    a gigabyte's gate holds only what it names, a line each (``NamedPush``)."""
    pushes = report["pushes"]
    wasted_bytes = report["summary"]["wasted_bytes"]
    pushed_bytes = sum(p["pushed_bytes"] for p in pushes)
    by_outcome = report["summary"]["pushes_by_outcome"]
    # Only the connections with anomalies are kept, and made visible (a copy of every connection's dict is not needed).
    anomalies, troubled = 0, []
    for conn in report["connections"]:
        if conn.get("anomalies"):
            anomalies += len(conn["anomalies"])
            troubled.append(conn)
    measured = {
        "wasted_bytes": wasted_bytes,
        "pushed_bytes": pushed_bytes,
        "wasted_ratio": (wasted_bytes / pushed_bytes) if pushed_bytes else 0.0,
        "cache_duplicated": by_outcome.get(Outcome.CACHE_DUPLICATED, 0),
        "unknown": by_outcome.get(Outcome.UNKNOWN, 0),
        "anomalies": anomalies,
    }
    checks = [("max-wasted-bytes", budgets.max_wasted_bytes, "wasted_bytes"),
              ("max-wasted-ratio", budgets.max_wasted_ratio, "wasted_ratio"),
              ("max-cache-duplicated", budgets.max_cache_duplicated, "cache_duplicated"),
              ("max-unknown", budgets.max_unknown, "unknown"),
              ("max-anomalies", budgets.max_anomalies, "anomalies")]
    violations = [Violation(name, limit, measured[what])
                  for name, limit, what in checks if limit is not None and measured[what] > limit]
    naming = [(violation, _OFFENDS[violation.budget]) for violation in violations if violation.budget in _OFFENDS]
    if naming:
        for push in pushes:
            named = None
            for violation, offends in naming:
                if offends(push):
                    named = named or NamedPush.of(push)
                    violation.pushes.append(named)
    from pushscope.export.text_report import anomaly_lines

    return CheckResult(measured, violations, budgets, coverage or coverage_of(report), allow_undecrypted,
                       anomaly_lines(visible_tree(troubled))[2:])


def render_check(result: CheckResult, source: str) -> str:
    m = result.measured
    head = (f"pushscope check {source}: {result.verdict} — wasted {fmt_bytes(int(m['wasted_bytes']))}"
            f" of {fmt_bytes(int(m['pushed_bytes']))} pushed (ratio {m['wasted_ratio']:.3f}), "
            f"{int(m['cache_duplicated'])} cache-duplicated, {int(m['unknown'])} unknown, "
            f"{int(m['anomalies'])} protocol anomalies")
    lines = [visible(head), f"  budgets: {result.budgets.describe()}"]
    coverage = result.coverage
    if coverage.undecoded:
        lines.append(f"  {coverage.headline()}")
        lines += [f"    {visible(cid or '-')}: {visible(why)}" for cid, why in coverage.undecoded[:10]]
        if len(coverage.undecoded) > 10:
            lines.append(f"    … and {len(coverage.undecoded) - 10} more")
        if result.undecrypted and not coverage.nothing_decoded:
            lines.append("  (--allow-undecrypted judges the connections that were decoded)")
    for violation in result.violations:
        lines.append(f"  budget exceeded: {violation.describe()}")
        for named in violation.pushes:
            push = NamedPush._make(visible_tree(list(named)))  # one push's copy at a time
            where = f"push_id={push.push_id}" if push.push_id is not None else f"stream {push.promised_stream_id}"
            lines.append(f"    {push.outcome:<16} {push.reason or '-':<24} "
                         f"pushed {fmt_bytes(push.pushed_bytes):>9}, wasted "
                         f"{fmt_bytes(push.wasted_bytes):>9}  {push.connection} {where}  {push.url}")
        if violation.budget == "max-anomalies":
            lines += [f"  {line}" for line in result.anomalies]
    return "\n".join(lines) + "\n"
