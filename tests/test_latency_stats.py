"""The shared latency statistics: Mann-Whitney U and the binomial test, checked against
definitions computed the slow way."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from adapterctl import latency
from adapterctl.latency import RatioLimit, Verdict, budget, compare


def _u(x: list[float], y: list[float]) -> float:
    return sum((a > b) + 0.5 * (a == b) for a in x for b in y)


def _permutation_p(x: list[float], y: list[float]) -> float:
    """P(U ≥ observed) over every way of splitting the pooled values: the test's definition."""
    pooled, observed = [*x, *y], _u(x, y)
    splits = list(itertools.combinations(range(len(pooled)), len(x)))
    hits = 0
    for chosen in splits:
        left = [pooled[i] for i in chosen]
        right = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        hits += _u(left, right) >= observed - 1e-9
    return hits / len(splits)


@pytest.mark.parametrize("seed", range(12))
def test_the_exact_p_value_is_the_permutation_p_value(seed: int) -> None:
    rng = random.Random(seed)
    x = [rng.uniform(0, 2) for _ in range(rng.randint(1, 7))]
    y = [rng.uniform(0, 1.5) for _ in range(rng.randint(1, 7))]
    assert latency.mann_whitney_greater(x, y) == pytest.approx(_permutation_p(x, y), abs=1e-12)


def test_the_normal_approximation_agrees_with_the_exact_value_for_large_samples() -> None:
    rng = random.Random(7)
    x = [rng.gauss(1.1, 0.2) for _ in range(45)]
    y = [rng.gauss(1.0, 0.2) for _ in range(50)]
    exact = latency.mann_whitney_greater(x, y)  # 45 × 50 ≤ 2500: exact
    ranks, ties = latency._ranks([*x, *y])
    u = sum(ranks[:45]) - 45 * 46 / 2
    approximate = latency._normal_upper_tail(45, 50, u, ties)
    assert exact == pytest.approx(approximate, rel=0.05)


def test_ties_use_mid_ranks_and_the_tie_correction() -> None:
    x = [2.0] * 30 + [3.0] * 30
    y = [1.0] * 30 + [2.0] * 30
    p = latency.mann_whitney_greater(x, y)
    assert p < 1e-6
    assert latency.mann_whitney_greater([5.0] * 10, [5.0] * 10) == 1.0  # no evidence either way


def test_the_binomial_tail_is_the_sum_of_the_probabilities() -> None:
    for n, k, chance in [(9, 2, 0.05), (21, 3, 0.05), (40, 1, 0.01), (7, 7, 0.5)]:
        direct = sum(math.comb(n, i) * chance**i * (1 - chance) ** (n - i) for i in range(k, n + 1))
        assert latency.binomial_tail(n, k, chance) == pytest.approx(direct, rel=1e-9)
    assert latency.binomial_tail(10, 0, 0.05) == 1.0


def test_five_of_each_revision_is_the_least_that_can_reach_alpha() -> None:
    assert latency.samples_needed() == 5
    assert compare([1.0] * 4, [1.0] * 4, RatioLimit(1.5), 95).too_few
    assert not compare([1.0] * 5, [1.0] * 5, RatioLimit(1.5), 95).too_few


def test_a_fail_needs_this_runs_percentile_over_the_limit_and_significance() -> None:
    baseline = [100.0 + i for i in range(20)]
    assert compare([300.0 + i for i in range(20)], baseline, RatioLimit(1.5), 95).verdict is (
        Verdict.FAIL
    )
    # the whole distribution a little slower, its p95 within 1.5×: not a failure
    shifted = [140.0 + i for i in range(20)]
    evidence = compare(shifted, baseline, RatioLimit(1.5), 95)
    assert (evidence.verdict, evidence.value <= evidence.limit) == (Verdict.PASS, True)


def test_the_verdict_does_not_change_when_both_revisions_slow_alike() -> None:
    rng = random.Random(3)
    candidate = [rng.uniform(900, 1300) for _ in range(21)]
    baseline = [rng.uniform(850, 1250) for _ in range(21)]
    for slower in (1.0, 2.0, 5.0, 20.0):
        scaled = compare(
            [v * slower for v in candidate], [v * slower for v in baseline], RatioLimit(1.5), 95
        )
        assert scaled.verdict is Verdict.PASS
        assert scaled.p_value == pytest.approx(
            compare(candidate, baseline, RatioLimit(1.5), 95).p_value
        )


def test_a_budget_is_failed_only_by_more_slow_requests_than_its_percentile_allows() -> None:
    fast = [100.0] * 19
    assert budget([*fast, 3000.0], 2000, 95).verdict is Verdict.PASS
    assert budget([*fast[:18], 3000.0, 3000.0], 2000, 95).verdict is Verdict.INCONCLUSIVE
    assert budget([*fast[:14], *[3000.0] * 6], 2000, 95).verdict is Verdict.FAIL


def test_percentiles_are_nearest_rank() -> None:
    assert latency.percentile([float(v) for v in range(1, 21)], 95) == 19.0
    assert latency.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert latency.percentile([], 95) is None


def _sign_flip_p(differences: list[float]) -> float:
    """P(W+ ≥ observed) over every sign pattern: the signed-rank test's definition."""
    ranks, _ = latency._ranks([abs(d) for d in differences])
    observed = sum(r for r, d in zip(ranks, differences, strict=True) if d > 0)
    patterns = list(itertools.product((False, True), repeat=len(differences)))
    hits = sum(
        sum(r for r, up in zip(ranks, signs, strict=True) if up) >= observed - 1e-9
        for signs in patterns
    )
    return hits / len(patterns)


@pytest.mark.parametrize("seed", range(12))
def test_the_signed_rank_p_value_is_the_sign_flip_p_value(seed: int) -> None:
    rng = random.Random(100 + seed)
    differences = [rng.gauss(0.3, 1.0) for _ in range(rng.randint(1, 11))]
    expected = _sign_flip_p(differences)
    assert latency.wilcoxon_greater(differences) == pytest.approx(expected, abs=1e-12)


def test_seven_pairs_is_the_least_the_signed_rank_test_needs() -> None:
    assert latency.pairs_needed() == 7
    pairs = [(300.0 + i, 100.0 + i) for i in range(6)]
    assert latency.compare_paired(pairs, RatioLimit(1.5), 95).too_few
    assert latency.compare_paired([*pairs, (400.0, 100.0)], RatioLimit(1.5), 95).verdict is (
        Verdict.FAIL
    )


def test_pairing_sees_a_regression_that_the_spread_of_prompts_hides() -> None:
    """Short and long prompts: a 2× regression per request, hidden in the unpaired spread."""
    baseline = [100.0 * 1.5**i for i in range(10)]
    candidate = [2.0 * b for b in baseline]
    limit = RatioLimit(1.5)
    assert compare(candidate, baseline, limit, 95).verdict is not Verdict.FAIL
    paired = latency.compare_paired(list(zip(candidate, baseline, strict=True)), limit, 95)
    assert paired.verdict is Verdict.FAIL
    assert paired.describe() == (
        "Wilcoxon signed-rank test p = 0.000977 < 0.01, 10 requests answered by both"
    )


# --- live traffic: histograms (the canary judge) and error rates ----------------------------

BOUNDS = (50.0, 100.0, 200.0, 400.0, 800.0, math.inf)  # milliseconds


def expand(binned: latency.Binned) -> list[float]:
    """The observations a histogram stands for, each at its bucket's upper bound."""
    return [b for b, c in zip(binned.bounds, binned.counts, strict=True) for _ in range(c)]


def test_histogram_percentiles_interpolate_like_prometheus() -> None:
    binned = latency.Binned((0.1, 0.2, math.inf), (10, 10, 0))
    assert binned.percentile(50) == pytest.approx(0.1)
    assert binned.percentile(75) == pytest.approx(0.15)
    assert latency.Binned((0.1, math.inf), (1, 3)).percentile(99) == 0.1  # rank in +Inf
    assert latency.Binned((0.1, math.inf), (0, 0)).percentile(50) is None


@pytest.mark.parametrize("seed", range(5))
def testmann_whitney_binned_is_mann_whitney_on_the_observations(seed: int) -> None:
    rng = random.Random(seed)
    x = latency.Binned(BOUNDS, tuple(rng.randrange(0, 30) for _ in BOUNDS))
    y = latency.Binned(BOUNDS, tuple(rng.randrange(0, 30) for _ in BOUNDS))
    expected = latency.mann_whitney_greater(expand(x), expand(y))
    assert latency.mann_whitney_binned(x, y) == pytest.approx(expected, rel=1e-12)


def test_a_binned_canary_fails_only_when_slower_than_its_limit() -> None:
    stable = latency.Binned(BOUNDS, (0, 200, 600, 180, 20, 0))
    slower = latency.Binned(BOUNDS, (0, 0, 100, 500, 350, 50))
    limit = RatioLimit(1.25, 50)
    assert latency.compare_binned(stable, stable, limit, 95).verdict is Verdict.PASS
    failed = latency.compare_binned(slower, stable, limit, 95)
    assert failed.verdict is Verdict.FAIL
    assert failed.p_value is not None
    assert failed.p_value < latency.ALPHA
    few = latency.Binned(BOUNDS, (0, 0, 0, 0, 2, 0))
    few_stable = latency.Binned(BOUNDS, (0, 1, 1, 0, 0, 0))
    too_few = latency.compare_binned(few, few_stable, limit, 95)
    assert (too_few.verdict, too_few.p_value) == (Verdict.INCONCLUSIVE, None)  # 1/6 at best


def test_fishers_exact_test_is_the_hypergeometric_tail() -> None:
    def direct(errors: int, total: int, base_errors: int, base_total: int) -> float:
        drawn, population = errors + base_errors, total + base_total
        ways = sum(math.comb(drawn, k) * math.comb(population - drawn, total - k)
                   for k in range(errors, min(drawn, total) + 1))  # fmt: skip
        return ways / math.comb(population, total)

    for case in [(3, 20, 0, 20), (5, 100, 1, 900), (0, 10, 4, 10), (12, 300, 12, 300)]:
        assert latency.fisher_greater(*case) == pytest.approx(direct(*case), rel=1e-9)
    assert latency.fisher_greater(0, 50, 0, 50) == 1.0
