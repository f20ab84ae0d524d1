"""Statistics for the experiment: per strategy the median and interquartile range, per pair of strategies the
median difference with a bootstrap 95 % confidence interval, and one sentence per profile.

No I/O, no clock: the bootstrap draws from ``random.Random`` seeded from the caller's seed and the pair's names,
so the same samples always give the same intervals. A strategy is only ever said to win, save or cost when the
interval excludes zero.
"""

from __future__ import annotations

import random
import statistics
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

RESAMPLES = 2000
CONFIDENCE = 0.95
PAIRS = (("push", "no-push"), ("preload", "push"), ("preload", "no-push"))
LABELS = {"push": "push", "no-push": "no push", "preload": "preload"}


@dataclass(frozen=True, slots=True)
class Summary:
    n: int
    median: float
    q1: float
    q3: float

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    def as_dict(self, scale: float = 1.0) -> dict[str, float | int]:
        return {"n": self.n, "median": round(self.median * scale, 3), "q1": round(self.q1 * scale, 3),
                "q3": round(self.q3 * scale, 3), "iqr": round(self.iqr * scale, 3)}


@dataclass(frozen=True, slots=True)
class Difference:
    """median(a) - median(b) and its bootstrap interval; negative: ``a`` is smaller (faster)."""

    a: str
    b: str
    estimate: float
    low: float
    high: float
    resamples: int = RESAMPLES

    @property
    def includes_zero(self) -> bool:
        return self.low <= 0 <= self.high

    def as_dict(self, scale: float = 1.0) -> dict[str, object]:
        return {"a": self.a, "b": self.b, "median_difference": round(self.estimate * scale, 3),
                "ci95": [round(self.low * scale, 3), round(self.high * scale, 3)],
                "includes_zero": self.includes_zero, "resamples": self.resamples}


def summarize(values: Sequence[float]) -> Summary | None:
    """Median and quartiles (linear interpolation between order statistics); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return Summary(1, ordered[0], ordered[0], ordered[0])
    q1, median, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    return Summary(len(ordered), median, q1, q3)


def pair_seed(seed: int, a: str, b: str) -> int:
    return seed * 1_000_003 + zlib.crc32(f"{a}\0{b}".encode())


def median_difference(a_name: str, a: Sequence[float], b_name: str, b: Sequence[float], *, seed: int = 0,
                      resamples: int = RESAMPLES, confidence: float = CONFIDENCE) -> Difference | None:
    """Percentile bootstrap of median(a) - median(b): both samples resampled with replacement, independently."""
    if not a or not b:
        return None
    rng = random.Random(pair_seed(seed, a_name, b_name))
    draws = sorted(statistics.median(rng.choices(a, k=len(a))) - statistics.median(rng.choices(b, k=len(b)))
                   for _ in range(resamples))
    tail = (1 - confidence) / 2
    low = draws[int(tail * resamples)]
    high = draws[min(resamples - 1, int((1 - tail) * resamples))]
    return Difference(a_name, b_name, statistics.median(a) - statistics.median(b), low, high, resamples)


def compare(samples: Mapping[str, Sequence[float]], *, seed: int = 0) -> list[Difference]:
    """The differences for every pair of strategies present (push against no push first)."""
    found: list[Difference] = []
    for a, b in PAIRS:
        if a in samples and b in samples:
            difference = median_difference(a, samples[a], b, samples[b], seed=seed)
            if difference is not None:
                found.append(difference)
    return found


def winner(differences: Sequence[Difference], strategies: Sequence[str]) -> str | None:
    """The strategy faster than every other with an interval that excludes zero; None when there is none."""
    for candidate in strategies:
        beats = []
        for other in strategies:
            if other == candidate:
                continue
            difference = _between(differences, candidate, other)
            beats.append(difference is not None and difference.high < 0)
        if beats and all(beats):
            return candidate
    return None


def _between(differences: Sequence[Difference], a: str, b: str) -> Difference | None:
    """a - b, from whichever way round it was computed."""
    for difference in differences:
        if (difference.a, difference.b) == (a, b):
            return difference
        if (difference.a, difference.b) == (b, a):
            return Difference(a, b, -difference.estimate, -difference.high, -difference.low, difference.resamples)
    return None


# --------------------------------------------------------------------------------------------------------
# the sentence
# --------------------------------------------------------------------------------------------------------
def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def interval_text(difference: Difference, sign: float = 1.0) -> str:
    low, high = sorted((difference.low * sign, difference.high * sign))
    return f"95 % CI {ms(low)}–{ms(high)} ms"


def pair_clause(difference: Difference, profile: str) -> str:
    """``push saves 96 ms (95 % CI 88–104 ms) on 3g against no push``."""
    a, b = LABELS.get(difference.a, difference.a), LABELS.get(difference.b, difference.b)
    if difference.includes_zero:
        return (f"{a} makes no clear difference on {profile} against {b} (median difference "
                f"{ms(difference.estimate)} ms, {interval_text(difference)})")
    if difference.high < 0:
        return f"{a} saves {ms(-difference.estimate)} ms ({interval_text(difference, -1.0)}) on {profile} against {b}"
    return f"{a} costs {ms(difference.estimate)} ms ({interval_text(difference)}) on {profile} against {b}"


def follow_clause(difference: Difference) -> str:
    """``preload is within 5 ms of push`` (the interval's widest bound), or how much faster or slower it is."""
    a, b = LABELS.get(difference.a, difference.a), LABELS.get(difference.b, difference.b)
    if difference.includes_zero:
        bound = max(abs(difference.low), abs(difference.high))
        return f"{a} is within {ms(bound)} ms of {b}"
    if difference.high < 0:
        return f"{a} is {ms(-difference.estimate)} ms faster than {b} ({interval_text(difference, -1.0)})"
    return f"{a} is {ms(difference.estimate)} ms slower than {b} ({interval_text(difference)})"


def kib(size: float) -> str:
    return f"{size / 1024:.0f} KiB" if size >= 1024 else f"{size:.0f} B"


def profile_sentence(profile: str, differences: Sequence[Difference], wasted_push_bytes: float | None = None,
                     metric: str = "render-blocking resources complete") -> str:
    """One sentence for a profile, first clause against no push, the next ones following it."""
    if not differences:
        return f"{profile}: too few successful runs to compare strategies on {metric}."
    head, *rest = differences
    text = pair_clause(head, profile)
    if head.a == "push" and wasted_push_bytes:
        text += f", wastes {kib(wasted_push_bytes)}"
    for difference in rest:
        text += "; " + follow_clause(difference)
    return text + f" ({metric}, median of runs)."
