"""The pressure gate: the candidate's latency, errors and throughput under a staging workload.

Rules, from the profile (``environments/<env>/pressure/<profile>.yaml``):

- budgets: each latency percentile and time to first token of the candidate's requests
  stays within ``budgets.<metric>_ms``; the share of them that failed within
  ``budgets.max_error_rate`` (0 unless set); the throughput of its rounds (every request of
  the mix) reaches ``budgets.min_throughput_rps``;
- ratios: the same latency metrics stay within ``vs_baseline.max_ratio.<metric>`` × the
  baseline's, and the throughput reaches ``vs_baseline.min_throughput_ratio`` × the
  baseline's — both replayed the same schedule.

Findings point at the profile's field that set the limit. One INFO finding per metric shows
both revisions side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from adapterctl.findings import Finding, JsonPath, Location, Severity
from adapterctl.model.pressure import PressureProfile
from adapterctl.pressure.metrics import ERROR_RATE, LATENCY, REPORTED, THROUGHPUT, Metric, ratio
from adapterctl.pressure.stats import RevisionStats, Summary

Locate = Callable[[str, JsonPath], Location]
"""(repository path, JSON path in that file) → location."""
_HINT = "find the slow or failed requests in the evidence file, or fix the candidate"


@dataclass(frozen=True, slots=True)
class Comparison:
    """What the gate compares: the profile, and each revision's summaries."""

    profile: PressureProfile
    path: str
    """The profile's repository path."""
    candidate: RevisionStats
    baseline: RevisionStats | None


def check(comparison: Comparison, locate: Locate) -> list[Finding]:
    """Every rule's findings, then the side-by-side summary."""
    findings = list(_budgets(comparison, locate))
    if comparison.baseline is not None:
        findings += _ratios(comparison, comparison.baseline, locate)
    return findings + summary(comparison, locate)


def _finding(rule: str, severity: Severity, location: Location, message: str) -> Finding:
    hint = _HINT if severity is Severity.ERROR else None
    return Finding(f"pressure/{rule}", severity, location, message, hint)


def _budgets(comparison: Comparison, locate: Locate) -> Iterator[Finding]:
    budgets, candidate = comparison.profile.budgets, comparison.candidate
    name = candidate.revision
    for metric in LATENCY:
        limit: float | None = getattr(budgets, f"{metric.key}_ms")
        if limit is None:
            continue
        where = locate(comparison.path, ("budgets", f"{metric.key}_ms"))
        value = metric.value(candidate)
        if value is None:
            yield _unjudged(where, metric, name, candidate.candidate)
        elif value > limit:
            message = f"{metric.label} of {name} is {metric.show(value)}, over the budget of "
            yield _finding("budget", Severity.ERROR, where, message + f"{limit:g} ms")
    yield from _error_budget(comparison, locate)
    floor = budgets.min_throughput_rps
    throughput = THROUGHPUT.value(candidate) or 0.0
    if floor is not None and throughput < floor:
        where = locate(comparison.path, ("budgets", "min_throughput_rps"))
        message = (
            f"throughput with {name} is {THROUGHPUT.show(throughput)}, "
            f"under the budget of {floor:g} requests/s"
        )
        yield _finding("budget", Severity.ERROR, where, message)


def _unjudged(where: Location, metric: Metric, name: str, summary: Summary) -> Finding:
    message = (
        f"{metric.label} of {name} cannot be judged: none of its "
        f"{summary.requests} requests succeeded"
    )
    return _finding("budget", Severity.ERROR, where, message)


def _error_budget(comparison: Comparison, locate: Locate) -> Iterator[Finding]:
    limit = comparison.profile.budgets.max_error_rate
    own = comparison.candidate.candidate
    if own.error_rate > limit:
        yield _finding(
            "budget",
            Severity.ERROR,
            locate(comparison.path, ("budgets", "max_error_rate")),
            f"error rate of {comparison.candidate.revision} is {ERROR_RATE.show(own.error_rate)} "
            f"({own.errors} of {own.requests} requests failed), over the budget of {limit:.1%}",
        )


def _ratios(comparison: Comparison, baseline: RevisionStats, locate: Locate) -> Iterator[Finding]:
    limits = comparison.profile.vs_baseline
    for metric in LATENCY:
        most: float | None = getattr(limits.max_ratio, metric.key)
        if most is not None:
            where = locate(comparison.path, ("vs_baseline", "max_ratio", metric.key))
            yield from _ratio(comparison, baseline, metric, where, most, at_most=True)
    least = limits.min_throughput_ratio
    if least is not None:
        where = locate(comparison.path, ("vs_baseline", "min_throughput_ratio"))
        yield from _ratio(comparison, baseline, THROUGHPUT, where, least, at_most=False)


def _ratio(
    comparison: Comparison,
    baseline: RevisionStats,
    metric: Metric,
    where: Location,
    limit: float,
    *,
    at_most: bool,
) -> Iterator[Finding]:
    name, old_name = comparison.candidate.revision, baseline.revision
    new, old = metric.value(comparison.candidate), metric.value(baseline)
    of = "with" if metric is THROUGHPUT else "of"
    if old is None or old == 0:
        message = (
            f"{metric.label} {of} {name} cannot be compared: "
            f"none of {old_name}'s requests succeeded"
        )
        yield _finding("ratio", Severity.WARNING, where, message)
        return
    if new is None:
        yield _unjudged(where, metric, name, comparison.candidate.candidate)
        return
    factor = new / old
    floor = comparison.profile.vs_baseline.min_latency_delta_ms
    if at_most and floor is not None and new - old < floor:
        return
    if (factor > limit) if at_most else (factor < limit):
        bound = "at most" if at_most else "at least"
        message = (
            f"{metric.label} {of} {name} is {metric.show(new)}, {factor:.2f}× "
            f"{old_name}'s {metric.show(old)} ({bound} {limit:g}×)"
        )
        yield _finding("ratio", Severity.ERROR, where, message)


def summary(comparison: Comparison, locate: Locate) -> list[Finding]:
    """One INFO finding per metric: both revisions side by side (and their ratio)."""
    where = locate(comparison.path, ())
    revisions = [r for r in (comparison.candidate, comparison.baseline) if r is not None]
    lines = [
        _requests_line("requests to the revision", [(r.revision, r.candidate) for r in revisions]),
        _requests_line("requests, whole mix", [(r.revision, r.all) for r in revisions]),
    ]
    lines += [_metric_line(metric, revisions) for metric in REPORTED]
    return [_finding("summary", Severity.INFO, where, line) for line in lines]


def _requests_line(label: str, summaries: list[tuple[str, Summary]]) -> str:
    parts = [f"{name} {s.requests} ({s.errors} failed)" for name, s in summaries]
    return f"{label}: " + ", ".join(parts)


def _metric_line(metric: Metric, revisions: list[RevisionStats]) -> str:
    values = [metric.value(r) for r in revisions]
    parts = [f"{r.revision} {metric.show(v)}" for r, v in zip(revisions, values, strict=True)]
    factor = ratio(values[0], values[1]) if len(values) == 2 else None
    return f"{metric.label}: " + ", ".join(parts) + (f" (×{factor:.2f})" if factor else "")
