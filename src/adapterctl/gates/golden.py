"""The golden gate: the candidate against the revision serving now, with noise in mind.

Rules, from the line's ``adapter.yaml`` (``gates.golden``, ``gates.latency``) and each
suite's ``thresholds``:

- absolute: each suite's pass rate (mean over cases of the share of repeats that passed)
  reaches the stricter of the suite's ``pass_rate`` and the line's ``min_pass_rate``;
- no regression: a case that passed on the baseline in *every* repeat must not fail on the
  candidate in *any* repeat, unless the line lists it in ``accepted_changes``;
- metric deltas: a metric's mean score may drop by at most ``max_score_drop``; the noise
  seen across repeats is reported beside the drop;
- latency (:mod:`adapterctl.latency`): the candidate's latencies stay within ``max_ratio``
  × the baseline's (or ``min_delta_ms`` more), by a Wilcoxon signed-rank test over the
  cases and repeats both answered, interleaved on the same node; its p95 within
  ``p95_ms`` on nodes of the budget's ``hardware_class``, by a binomial test.
  Inconclusive tests are warnings.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

from adapterctl import layout
from adapterctl.evals.results import CaseResult
from adapterctl.findings import Finding, JsonPath, Location, Severity
from adapterctl.gates import verdicts
from adapterctl.gates.verdicts import Subject
from adapterctl.latency import RatioLimit, budget, compare, compare_paired, percentile
from adapterctl.model import AdapterLine, GoldenSuite

Locate = Callable[[str, JsonPath], Location]
"""(repository path, JSON path in that file) → location."""


@dataclass(frozen=True, slots=True)
class Comparison:
    """What the gate compares: the results of one run, and who is who."""

    line: AdapterLine
    suites: tuple[GoldenSuite, ...]
    results: tuple[CaseResult, ...]
    candidate: str
    baseline: str | None
    hardware_class: str | None = None
    """The node's hardware class: absolute budgets of another class are not checked."""


def _error(rule: str, location: Location, message: str, hint: str | None = None) -> Finding:
    return Finding(f"golden/{rule}", Severity.ERROR, location, message, hint)


def check(comparison: Comparison, locate: Locate) -> list[Finding]:
    """Every rule's findings, candidate against baseline."""
    findings = list(_pass_rates(comparison, locate))
    if comparison.baseline is not None:
        findings += _regressions(comparison, locate)
        findings += _metric_drops(comparison, locate)
    findings += _latency(comparison, locate)
    return findings


def _of(comparison: Comparison, revision: str, suite: str | None = None) -> list[CaseResult]:
    return [
        r
        for r in comparison.results
        if r.revision == revision and (suite is None or r.suite == suite)
    ]


def pass_rate(results: Sequence[CaseResult]) -> float:
    """Mean over cases of the share of repeats that passed (1.0 for no results)."""
    by_case: dict[str, list[bool]] = defaultdict(list)
    for result in results:
        by_case[result.case].append(result.passed)
    if not by_case:
        return 1.0
    return statistics.fmean(sum(runs) / len(runs) for runs in by_case.values())


def _pass_rates(comparison: Comparison, locate: Locate) -> Iterator[Finding]:
    rules = comparison.line.gates.golden
    for suite in comparison.suites:
        needed = max(suite.thresholds.pass_rate, rules.min_pass_rate)
        rate = pass_rate(_of(comparison, comparison.candidate, suite.suite))
        if rate < needed:
            failing = sorted(
                {r.case for r in _of(comparison, comparison.candidate, suite.suite) if not r.passed}
            )
            yield _error(
                "pass-rate",
                locate(_suite_path(comparison, suite), ("thresholds", "pass_rate")),
                f"{comparison.candidate} passes {rate:.0%} of suite {suite.suite}; "
                f"it needs {needed:.0%} (failing: {', '.join(failing)})",
            )


def _suite_path(comparison: Comparison, suite: GoldenSuite) -> str:
    return layout.suite_path(comparison.line.name, suite.suite)


def _case_index(suite: GoldenSuite, case_id: str) -> int:
    return next(i for i, case in enumerate(suite.cases) if case.id == case_id)


def _regressions(comparison: Comparison, locate: Locate) -> Iterator[Finding]:
    accepted = set(comparison.line.gates.golden.accepted_changes)
    if not comparison.line.gates.golden.no_regression or comparison.baseline is None:
        return
    for suite in comparison.suites:
        base = _runs(_of(comparison, comparison.baseline, suite.suite))
        cand = _runs(_of(comparison, comparison.candidate, suite.suite))
        for case_id, runs in sorted(base.items()):
            failed = [r for r in cand.get(case_id, []) if not r.passed]
            if not all(r.passed for r in runs) or not failed:
                continue
            if case_id in accepted or f"{suite.suite}/{case_id}" in accepted:
                continue
            tried = len(cand[case_id])
            yield _regression(comparison, suite, case_id, (len(runs), tried), failed, locate)


def _runs(results: Sequence[CaseResult]) -> dict[str, list[CaseResult]]:
    by_case: dict[str, list[CaseResult]] = defaultdict(list)
    for result in results:
        by_case[result.case].append(result)
    return by_case


def _regression(
    comparison: Comparison,
    suite: GoldenSuite,
    case_id: str,
    repeats: tuple[int, int],
    failed: Sequence[CaseResult],
    locate: Locate,
) -> Finding:
    reasons = [a.reason for a in failed[0].assertions if not a.passed] or [
        failed[0].answer.error or "below the case threshold"
    ]
    return _error(
        "regression",
        locate(_suite_path(comparison, suite), ("cases", _case_index(suite, case_id))),
        f"case {case_id} passed on {comparison.baseline} in all {repeats[0]} repeats but fails on "
        f"{comparison.candidate} in {len(failed)} of {repeats[1]}: {reasons[0]}",
        "fix the candidate, or list the case in gates.golden.accepted_changes of adapter.yaml "
        "if the new behaviour is intended (the product owner approves that change)",
    )


def metric_scores(results: Sequence[CaseResult]) -> dict[str, dict[int, list[float]]]:
    """metric → repeat → the scores of its assertions in that repeat."""
    scores: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for result in results:
        for assertion in result.assertions:
            if assertion.metric:
                scores[assertion.metric][result.repeat].append(assertion.score)
    return scores


def _summary(per_repeat: dict[int, list[float]]) -> tuple[float, float]:
    means = [statistics.fmean(values) for values in per_repeat.values() if values]
    noise = statistics.pstdev(means) if len(means) > 1 else 0.0
    return statistics.fmean(means), noise


def _metric_drops(comparison: Comparison, locate: Locate) -> Iterator[Finding]:
    assert comparison.baseline is not None
    tolerance = comparison.line.gates.golden.max_score_drop
    candidate = metric_scores(_of(comparison, comparison.candidate))
    baseline = metric_scores(_of(comparison, comparison.baseline))
    for metric in sorted(set(candidate) & set(baseline)):
        new, new_noise = _summary(candidate[metric])
        old, old_noise = _summary(baseline[metric])
        if old - new > tolerance:
            yield _error(
                "metric-drop",
                locate(
                    layout.line_path(comparison.line.name), ("gates", "golden", "max_score_drop")
                ),
                f"metric {metric} dropped from {old:.3f} to {new:.3f} (tolerance {tolerance:.3f}; "
                f"noise across repeats ±{old_noise:.3f} baseline, ±{new_noise:.3f} candidate)",
            )


def p95(values: Sequence[float]) -> float:
    """The 95th percentile (nearest rank); 0 for no values."""
    return percentile(values, 95) or 0.0


def _latencies(comparison: Comparison, revision: str) -> list[float]:
    return [r.answer.latency_ms for r in _of(comparison, revision) if r.answer.error is None]


def _pairs(comparison: Comparison, baseline: str) -> list[tuple[float, float]]:
    """(candidate, baseline) latencies of each case and repeat both answered."""

    def timed(revision: str) -> dict[tuple[str, str, int], float]:
        return {
            (r.suite, r.case, r.repeat): r.answer.latency_ms
            for r in _of(comparison, revision)
            if r.answer.error is None
        }

    new, old = timed(comparison.candidate), timed(baseline)
    return [(new[key], old[key]) for key in sorted(new.keys() & old.keys())]


def _latency(comparison: Comparison, locate: Locate) -> Iterator[Finding]:
    rules = comparison.line.gates.latency
    path = layout.line_path(comparison.line.name)
    candidate = _latencies(comparison, comparison.candidate)
    if not candidate:
        return
    subject = partial(
        Subject,
        "golden/latency",
        label="p95 latency",
        revision=comparison.candidate,
        more="raise gates.golden.repeats in adapter.yaml, or --repeat",
    )
    if rules.p95_ms is not None:
        where = locate(path, ("gates", "latency", "p95_ms"))
        if not verdicts.applies(rules.hardware_class, comparison.hardware_class):
            assert rules.hardware_class is not None
            yield verdicts.not_checked(
                subject(where),
                f"{rules.p95_ms:g} ms",
                rules.hardware_class,
                comparison.hardware_class,
            )
        elif found := verdicts.budget_finding(subject(where), budget(candidate, rules.p95_ms, 95)):
            yield found
    if rules.max_ratio is not None and comparison.baseline is None:
        where = locate(path, ("gates", "latency", "max_ratio"))
        yield verdicts.no_baseline("golden/latency", where, comparison.candidate)
    baseline = _latencies(comparison, comparison.baseline) if comparison.baseline else []
    if rules.max_ratio is not None and comparison.baseline is not None and baseline:
        ratio = RatioLimit(rules.max_ratio, rules.min_delta_ms or 0.0)
        pairs = _pairs(comparison, comparison.baseline)
        evidence = (
            compare_paired(pairs, ratio, 95) if pairs else compare(candidate, baseline, ratio, 95)
        )
        where = locate(path, ("gates", "latency", "max_ratio"))
        theirs = (comparison.baseline, p95(baseline))
        if found := verdicts.ratio_finding(subject(where), evidence, theirs, ratio):
            yield found
