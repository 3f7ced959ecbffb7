"""The pressure gate: the candidate's latency, errors and throughput under a staging workload.

Rules, from the profile (``environments/<env>/pressure/<profile>.yaml``):

- budgets: on nodes of the budgets' ``hardware_class`` (every node without one), each
  latency percentile and time to first token of the candidate's requests stays within
  ``budgets.<metric>_ms`` (a binomial test, :mod:`adapterctl.latency`) and the
  throughput of its rounds (every request of the mix) reaches
  ``budgets.min_throughput_rps``; on every node, the share of the candidate's requests
  that failed stays within ``budgets.max_error_rate`` (0 unless set);
- ratios: the candidate's latencies and times to first token stay within
  ``vs_baseline.max_ratio.<metric>`` × the baseline's (or ``min_latency_delta_ms`` more),
  by a Wilcoxon signed-rank test over the requests both answered; the throughput reaches
  ``vs_baseline.min_throughput_ratio`` × the baseline's — both replayed the same schedule.

An inconclusive test is a warning with its numbers; a budget of another class an info.

Findings point at the profile's field that set the limit. One INFO finding per metric shows
both revisions side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from adapterctl.findings import Finding, JsonPath, Location, Severity
from adapterctl.gates import verdicts
from adapterctl.gates.verdicts import Subject
from adapterctl.latency import Evidence, RatioLimit, budget, compare, compare_paired
from adapterctl.model.pressure import PressureProfile, VsBaseline
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
    hardware_class: str | None = None
    """The node's hardware class: budgets of another class are not checked."""


def check(comparison: Comparison, locate: Locate) -> list[Finding]:
    """Every rule's findings, then the side-by-side summary."""
    findings = list(_budgets(comparison, locate))
    if comparison.baseline is not None:
        findings += _ratios(comparison, comparison.baseline, locate)
    elif comparison.profile.vs_baseline != VsBaseline():
        where = locate(comparison.path, ("vs_baseline",))
        findings.append(
            verdicts.no_baseline("pressure/ratio", where, comparison.candidate.revision)
        )
    return findings + summary(comparison, locate)


def _finding(rule: str, severity: Severity, location: Location, message: str) -> Finding:
    hint = _HINT if severity is Severity.ERROR else None
    return Finding(f"pressure/{rule}", severity, location, message, hint)


def _budgets(comparison: Comparison, locate: Locate) -> Iterator[Finding]:
    budgets, candidate = comparison.profile.budgets, comparison.candidate
    enforced = verdicts.applies(budgets.hardware_class, comparison.hardware_class)
    for metric in LATENCY:
        limit: float | None = getattr(budgets, f"{metric.key}_ms")
        if limit is None:
            continue
        where = locate(comparison.path, ("budgets", f"{metric.key}_ms"))
        subject = _subject(comparison, metric, where)
        samples = _samples(metric, candidate)
        if not enforced:
            yield _not_checked(comparison, subject, f"{limit:g} ms")
        elif not samples:
            yield _unjudged(where, metric, candidate.revision, candidate.candidate)
        elif found := verdicts.budget_finding(subject, budget(samples, limit, metric.percentile)):
            yield found
    yield from _error_budget(comparison, locate)
    yield from _throughput_budget(comparison, locate, enforced=enforced)


def _subject(comparison: Comparison, metric: Metric, where: Location) -> Subject:
    more = f"raise requests or duration_s in {comparison.path}"
    return Subject("pressure/budget", where, metric.label, comparison.candidate.revision, more)


def _samples(metric: Metric, stats: RevisionStats) -> Sequence[float]:
    assert metric.samples is not None, f"{metric.key} is not a latency metric"
    return metric.samples(stats.candidate)


def _not_checked(comparison: Comparison, subject: Subject, limit: str) -> Finding:
    budget_class = comparison.profile.budgets.hardware_class
    assert budget_class is not None
    return verdicts.not_checked(subject, limit, budget_class, comparison.hardware_class)


def _throughput_budget(
    comparison: Comparison, locate: Locate, *, enforced: bool
) -> Iterator[Finding]:
    floor = comparison.profile.budgets.min_throughput_rps
    if floor is None:
        return
    where = locate(comparison.path, ("budgets", "min_throughput_rps"))
    if not enforced:
        subject = _subject(comparison, THROUGHPUT, where)
        yield _not_checked(comparison, subject, f"{floor:g} requests/s")
        return
    name = comparison.candidate.revision
    throughput = THROUGHPUT.value(comparison.candidate) or 0.0
    if throughput < floor:
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
            limit = RatioLimit(most, limits.min_latency_delta_ms or 0.0)
            yield from _latency_ratio(comparison, baseline, metric, where, limit)
    least = limits.min_throughput_ratio
    if least is not None:
        where = locate(comparison.path, ("vs_baseline", "min_throughput_ratio"))
        yield from _throughput_ratio(comparison, baseline, where, least)


def _latency_ratio(
    comparison: Comparison,
    baseline: RevisionStats,
    metric: Metric,
    where: Location,
    limit: RatioLimit,
) -> Iterator[Finding]:
    name = comparison.candidate.revision
    new, old = _samples(metric, comparison.candidate), _samples(metric, baseline)
    if not old:
        message = (
            f"{metric.label} of {name} cannot be compared: "
            f"none of {baseline.revision}'s requests succeeded"
        )
        yield _finding("ratio", Severity.WARNING, where, message)
    elif not new:
        yield _unjudged(where, metric, name, comparison.candidate.candidate)
    else:
        subject = replace(_subject(comparison, metric, where), rule="pressure/ratio")
        evidence = _compare(metric, comparison.candidate, baseline, limit)
        theirs = (baseline.revision, metric.value(baseline) or 0.0)
        if found := verdicts.ratio_finding(subject, evidence, theirs, limit):
            yield found


def _compare(
    metric: Metric, candidate: RevisionStats, baseline: RevisionStats, limit: RatioLimit
) -> Evidence:
    """Paired by request where both revisions answered the same requests, else unpaired."""
    new, old = metric.keyed(candidate.candidate), metric.keyed(baseline.candidate)
    pairs = [(new[i], old[i]) for i in sorted(new.keys() & old.keys())]
    if pairs:
        return compare_paired(pairs, limit, metric.percentile)
    return compare(list(new.values()), list(old.values()), limit, metric.percentile)


def _throughput_ratio(
    comparison: Comparison, baseline: RevisionStats, where: Location, limit: float
) -> Iterator[Finding]:
    name, old_name = comparison.candidate.revision, baseline.revision
    new, old = THROUGHPUT.value(comparison.candidate), THROUGHPUT.value(baseline)
    if not old:
        message = (
            f"throughput with {name} cannot be compared: none of {old_name}'s requests succeeded"
        )
        yield _finding("ratio", Severity.WARNING, where, message)
    elif new is not None and new / old < limit:
        message = (
            f"throughput with {name} is {THROUGHPUT.show(new)}, {new / old:.2f}× "
            f"{old_name}'s {THROUGHPUT.show(old)} (at least {limit:g}×)"
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
