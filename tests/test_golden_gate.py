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
    registry: Registry, results: tuple[CaseResult, ...], **rules: object
) -> list[tuple[str, str]]:
    comparison = Comparison(_line(registry, **rules), (_suite(registry),), results, CAND, BASE)
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


def test_latency_budget_and_ratio(registry: Registry) -> None:
    suite = _suite(registry)
    results = tuple(
        _result(revision, case.id, 0, True, latency=5000.0 if revision == CAND else 1000.0)
        for case in suite.cases
        for revision in (CAND, BASE)
    )
    assert _check(registry, results) == [
        ("golden/latency", f"{CAND} p95 latency 5000 ms is above the budget 4000 ms"),
        ("golden/latency", f"{CAND} p95 latency 5000 ms is more than 1.5× {BASE}'s 1000 ms"),
    ]


def test_without_a_baseline_only_absolute_rules_apply(registry: Registry) -> None:
    suite = _suite(registry)
    results = tuple(r for r in _results(suite, {CAND: {"refund-window"}}) if r.revision == CAND)
    comparison = Comparison(_line(registry), (suite,), results, CAND, None)
    assert [f.rule for f in golden.check(comparison, _locate)] == ["golden/pass-rate"]


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
