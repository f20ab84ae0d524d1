"""The experiment's statistics on synthetic samples whose answers are known."""

from __future__ import annotations

import random

from pushscope.experiment.statistics import compare, median_difference, profile_sentence, summarize, winner


def normal(mean: float, spread: float, n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(mean, spread) for _ in range(n)]


def test_median_and_quartiles() -> None:
    summary = summarize([9, 1, 5, 3, 7, 2, 8, 4, 6])
    assert summary is not None and (summary.n, summary.median, summary.q1, summary.q3, summary.iqr) == (9, 5, 3, 7, 4)
    assert summarize([]) is None
    single = summarize([0.25])
    assert single is not None and single.iqr == 0


def test_equal_distributions_give_intervals_that_include_zero() -> None:
    same = normal(0.5, 0.02, 20, 1)
    identical = median_difference("push", same, "no-push", list(same), seed=3)
    assert identical is not None and identical.estimate == 0 and identical.includes_zero
    for seed in range(5):  # different draws of one distribution
        difference = median_difference("push", normal(0.5, 0.02, 20, 10 + seed), "no-push",
                                       normal(0.5, 0.02, 20, 20 + seed), seed=seed)
        assert difference is not None and difference.includes_zero, difference
    differences = compare({"push": same, "no-push": list(same)})
    assert winner(differences, ["push", "no-push"]) is None
    assert "makes no clear difference" in profile_sentence("4g", differences)


def test_a_known_shift_is_found_with_a_tight_interval() -> None:
    no_push = normal(0.400, 0.004, 20, 2)
    push = [value - 0.100 for value in normal(0.400, 0.004, 20, 3)]
    difference = median_difference("push", push, "no-push", no_push, seed=0)
    assert difference is not None and not difference.includes_zero
    assert -0.106 < difference.low < difference.estimate < difference.high < -0.094
    assert abs(difference.estimate + 0.100) < 0.004


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    a, b = normal(0.3, 0.05, 15, 4), normal(0.32, 0.05, 15, 5)
    assert median_difference("push", a, "no-push", b, seed=7) == median_difference("push", a, "no-push", b, seed=7)
    assert median_difference("push", a, "no-push", b, seed=7) != median_difference("push", a, "no-push", b, seed=8)


def test_the_sentence_names_the_winner_only_when_the_interval_excludes_zero() -> None:
    no_push = normal(0.400, 0.004, 20, 6)
    push = [value - 0.096 for value in normal(0.400, 0.004, 20, 7)]
    preload = [value + 0.001 for value in push]
    samples = {"push": push, "no-push": no_push, "preload": preload}
    differences = compare(samples)
    assert [(d.a, d.b) for d in differences] == [("push", "no-push"), ("preload", "push"), ("preload", "no-push")]
    sentence = profile_sentence("3g", differences, wasted_push_bytes=12 * 1024)
    assert sentence.startswith("push saves 96 ms (95 % CI ")
    assert "on 3g against no push, wastes 12 KiB; preload is within " in sentence
    assert "ms of push; preload saves" not in sentence  # the third pair follows the first clause's form
    assert "preload is 9" in sentence and "faster than no push" in sentence
    assert winner(differences, ["push", "no-push", "preload"]) is None  # push and preload are not told apart
    assert winner(compare({"push": push, "no-push": no_push}), ["push", "no-push"]) == "push"


def test_a_strategy_that_costs_time_is_said_to_cost_it() -> None:
    differences = compare({"push": normal(0.5, 0.003, 12, 8), "no-push": normal(0.45, 0.003, 12, 9)})
    assert profile_sentence("cable", differences).startswith("push costs 50 ms (95 % CI ")
    assert winner(differences, ["push", "no-push"]) == "no-push"
