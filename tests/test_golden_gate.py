"""The golden gate's rules on recorded results (the run itself is tested elsewhere)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapterctl.evals.results import Answer, AssertionResult, CaseResult
from adapterctl.findings import JsonPath, Location
from adapterctl.gates import golden
from adapterctl.gates.golden import Comparison
from adapterctl.model import AdapterLine, GoldenSuite
from adapterctl.registry import Registry
from tests.conftest import REPO

CAND, BASE = "support-bot@1.2.0", "support-bot@1.1.0"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load(REPO, workers=1)


def _line(registry: Registry, **golden_rules: object) -> AdapterLine:
    line = registry.line("support-bot")
    assert line is not None
    rules = line.gates.golden.model_copy(update=golden_rules)
    return line.model_copy(update={"gates": line.gates.model_copy(update={"golden": rules})})


def _suite(registry: Registry) -> GoldenSuite:
    suite = registry.suite("support-bot", "refunds")
    assert suite is not None
    return suite


def _result(
    revision: str,
    case: str,
    repeat: int,
    passed: bool,
    latency: float = 100.0,
    score: float | None = None,
) -> CaseResult:
    value = score if score is not None else float(passed)
    assertion = AssertionResult(
        "icontains", passed, value, 1.0, "policy", "" if passed else "expected to contain '30 days'"
    )
    return CaseResult(
        "refunds", case, revision, repeat, Answer("x", "stop", latency), (assertion,), value, passed
    )


def _results(
    suite: GoldenSuite, failing: dict[str, set[str]], repeats: int = 3
) -> tuple[CaseResult, ...]:
    return tuple(
        _result(revision, case.id, repeat, case.id not in failing.get(revision, set()))
        for repeat in range(repeats)
        for case in suite.cases
        for revision in (CAND, BASE)
    )


def _locate(path: str, json_path: JsonPath) -> Location:
    return Location(path, None, None, json_path)


def _check(
    registry: Registry,
    results: tuple[CaseResult, ...],
    hardware: str | None = "gpu-l40s",
    **rules: object,
) -> list[tuple[str, str]]:
    """The findings on a node of ``hardware`` (the example budget's class by default)."""
    line = _line(registry, **rules)
    comparison = Comparison(line, (_suite(registry),), results, CAND, BASE, hardware)
    return [(f.rule, f.message) for f in golden.check(comparison, _locate)]


def test_equal_revisions_pass(registry: Registry) -> None:
    assert _check(registry, _results(_suite(registry), {})) == []


def test_the_stricter_pass_rate_applies(registry: Registry) -> None:
    results = _results(_suite(registry), {CAND: {"refund-window"}})
    assert _check(registry, results, max_score_drop=1.0, no_regression=False) == [
        (
            "golden/pass-rate",
            f"{CAND} passes 83% of suite refunds; it needs 90% (failing: refund-window)",
        ),
    ]


def test_a_regression_is_named_even_when_the_pass_rate_is_fine(registry: Registry) -> None:
    results = _results(_suite(registry), {CAND: {"refund-window"}})
    assert _check(registry, results, min_pass_rate=0.5) == [
        (
            "golden/regression",
            f"case refund-window passed on {BASE} in all 3 repeats but fails on {CAND} in 3 of 3: expected to contain '30 days'",
        ),
        (
            "golden/metric-drop",
            "metric policy dropped from 1.000 to 0.833 (tolerance 0.050; noise across repeats ±0.000 baseline, ±0.000 candidate)",
        ),
    ]


def test_an_accepted_change_is_not_a_regression(registry: Registry) -> None:
    results = _results(_suite(registry), {CAND: {"refund-window"}})
    findings = _check(
        registry,
        results,
        min_pass_rate=0.5,
        accepted_changes=("refunds/refund-window",),
        max_score_drop=0.5,
    )
    assert findings == []


def test_a_case_flaky_on_the_baseline_is_noise_not_regression(registry: Registry) -> None:
    suite = _suite(registry)
    results = list(_results(suite, {CAND: {"escalation"}}))
    results = [
        r
        if not (r.revision == BASE and r.case == "escalation" and r.repeat == 1)
        else _result(BASE, "escalation", 1, False)
        for r in results
    ]
    findings = _check(registry, tuple(results), min_pass_rate=0.0, max_score_drop=1.0)
    assert findings == []


def _timed(latencies: dict[str, list[float]], suite: GoldenSuite) -> tuple[CaseResult, ...]:
    """One passing result per latency, cycling through the suite's cases as repeats."""
    cases = [case.id for case in suite.cases]
    return tuple(
        _result(revision, cases[i % len(cases)], i // len(cases), True, latency=value)
        for revision, values in latencies.items()
        for i, value in enumerate(values)
    )


def _spread(center: float, n: int = 21) -> list[float]:
    return [round(center * (0.9 + 0.2 * i / (n - 1)), 3) for i in range(n)]


def test_latency_budget_and_ratio(registry: Registry) -> None:
    suite = _suite(registry)
    results = _timed({CAND: _spread(5000, 7), BASE: _spread(1000, 7)}, suite)
    assert _check(registry, results) == [
        ("golden/latency",
         f"p95 latency of {CAND} is 5500 ms, over the budget of 2000 ms: "
         "binomial test p = 7.81e-10 < 0.01, 7 of 7 requests over the budget"),
        ("golden/latency",
         f"p95 latency of {CAND} is 5500 ms, 5.00× {BASE}'s 1100 ms (at most 1.5×, or 100 ms more): "
         "Wilcoxon signed-rank test p = 0.00781 < 0.01, 7 requests answered by both"),
    ]  # fmt: skip


def test_a_budget_of_another_hardware_class_is_reported_not_enforced(registry: Registry) -> None:
    results = _timed({CAND: _spread(5000), BASE: _spread(4900)}, _suite(registry))
    assert _check(registry, results, "cpu-ci") == [
        ("golden/latency", "p95 latency budget 2000 ms holds for gpu-l40s; not checked on cpu-ci")
    ]
    assert _check(registry, results, None) == [
        ("golden/latency",
         "p95 latency budget 2000 ms holds for gpu-l40s; "
         "not checked here: the node declares no hardware class"),
    ]  # fmt: skip


def test_a_busy_runner_slows_both_revisions_and_changes_no_verdict(registry: Registry) -> None:
    """The failure a loaded shared runner used to cause: both revisions ~2 s, 1.02× apart."""
    suite = _suite(registry)
    for slower in (1.0, 3.0, 10.0):
        alike = {CAND: _spread(2094 * slower), BASE: _spread(2047 * slower)}
        assert _check(registry, _timed(alike, suite), "cpu-ci")[1:] == []
        regressed = {CAND: _spread(2 * 2047 * slower), BASE: _spread(2047 * slower)}
        assert [rule for rule, _ in _check(registry, _timed(regressed, suite), "cpu-ci")[1:]] == [
            "golden/latency"
        ]


def test_one_slow_request_neither_passes_nor_fails(registry: Registry) -> None:
    suite = _suite(registry)
    slow = [*_spread(1000)[:19], 2600.0, 2700.0]
    results = _timed({CAND: slow, BASE: _spread(1000)}, suite)
    comparison = Comparison(_line(registry), (suite,), results, CAND, BASE, "gpu-l40s")
    findings = golden.check(comparison, _locate)
    assert [(f.severity.value, f.message) for f in findings] == [
        ("warning",
         f"p95 latency of {CAND} is 2600 ms, over the budget of 2000 ms in this run, but not "
         "significantly: binomial test p = 0.283 ≥ 0.01, 2 of 21 requests over the budget"),
        ("warning",
         f"p95 latency of {CAND} is 2600 ms, 2.39× {BASE}'s 1090 ms (at most 1.5×, or 100 ms "
         "more) in this run, but not significantly: Wilcoxon signed-rank test p = 0.996 ≥ 0.01, "
         "21 requests answered by both"),
    ]  # fmt: skip
    assert findings[1].hint == (
        "more requests make the test decisive: raise gates.golden.repeats in adapter.yaml, or --repeat"
    )


def test_too_few_requests_cannot_judge_the_ratio(registry: Registry) -> None:
    results = _timed({CAND: [3000.0, 3100.0, 3200.0], BASE: [1000.0, 1100.0]}, _suite(registry))
    findings = _check(registry, results, "cpu-ci")
    assert findings[1:] == [
        ("golden/latency",
         f"p95 latency of {CAND} cannot be judged against {BASE}'s (at most 1.5×, or 100 ms "
         "more): 2 requests answered by both cannot reach the Wilcoxon signed-rank test's "
         "significance level 0.01: the smallest p-value they allow is 0.25"),
    ]  # fmt: skip


def test_a_difference_under_the_noise_floor_is_not_a_regression(registry: Registry) -> None:
    suite = _suite(registry)
    tiny = _timed({CAND: _spread(30), BASE: _spread(10)}, suite)
    assert _check(registry, tiny, "cpu-ci")[1:] == []
    assert _check(registry, tiny, "cpu-ci", min_delta_ms=None)[1:] == []


def test_without_a_baseline_only_absolute_rules_apply(registry: Registry) -> None:
    suite = _suite(registry)
    results = tuple(r for r in _results(suite, {CAND: {"refund-window"}}) if r.revision == CAND)
    comparison = Comparison(_line(registry), (suite,), results, CAND, None, "gpu-l40s")
    findings = golden.check(comparison, _locate)
    assert [(f.rule, f.severity.value) for f in findings] == [
        ("golden/pass-rate", "error"),
        ("golden/latency", "info"),
    ]
    assert findings[1].message == (
        f"ratio to the baseline not checked: no baseline ran beside {CAND} "
        "(--baseline none, or the environment serves no other revision of support-bot)"
    )
    assert findings[1].location.path == ("gates", "latency", "max_ratio")


def test_p95_is_nearest_rank() -> None:
    assert golden.p95([float(v) for v in range(1, 101)]) == 95.0
    assert golden.p95([5.0]) == 5.0
    assert golden.p95([]) == 0.0


def test_pass_rate_counts_repeats_per_case(tmp_path: Path) -> None:
    results = [
        _result(CAND, "a", 0, True),
        _result(CAND, "a", 1, False),
        _result(CAND, "b", 0, True),
    ]
    assert golden.pass_rate(results) == 0.75
