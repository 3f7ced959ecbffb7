"""Findings from latency verdicts (:mod:`adapterctl.latency`), shared by the golden and the
pressure gate: a failed test is an error, an inconclusive one a warning with the numbers,
a budget for another hardware class an info."""

from __future__ import annotations

from dataclasses import dataclass

from adapterctl.findings import Finding, Location, Severity
from adapterctl.latency import ALPHA, BINOMIAL, Evidence, RatioLimit, Verdict

_MORE = "more requests make the test decisive: {how}"


@dataclass(frozen=True, slots=True)
class Subject:
    """What a finding is about: ``rule``, where its limit is set, and how to say it."""

    rule: str
    where: Location
    label: str
    """As a sentence names the metric: 'p95 latency'."""
    revision: str
    more: str
    """How to get more samples, for hints: 'raise gates.golden.repeats'."""
    fix: str | None = None
    """The hint of a failure (default: look in the evidence file, or fix the revision)."""


def ms(value: float) -> str:
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def applies(budget_class: str | None, node_class: str | None) -> bool:
    """Whether a budget promised for ``budget_class`` is enforced on a node of
    ``node_class`` (a budget without a class holds on every node)."""
    return budget_class is None or budget_class == node_class


def not_checked(subject: Subject, limit: str, budget_class: str, node_class: str | None) -> Finding:
    """The info finding for a budget of another hardware class."""
    where = f"on {node_class}" if node_class else "here: the node declares no hardware class"
    message = f"{subject.label} budget {limit} holds for {budget_class}; not checked {where}"
    return Finding(subject.rule, Severity.INFO, subject.where, message)


def no_baseline(rule: str, where: Location, candidate: str) -> Finding:
    """The info finding for ratio limits that a run without a baseline cannot check."""
    line = candidate.partition("@")[0]
    message = (
        f"ratio to the baseline not checked: no baseline ran beside {candidate} "
        f"(--baseline none, or the environment serves no other revision of {line})"
    )
    return Finding(rule, Severity.INFO, where, message)


def budget_finding(subject: Subject, evidence: Evidence) -> Finding | None:
    """The finding for an absolute budget's verdict (None when it passed)."""
    head = f"{subject.label} of {subject.revision} is {ms(evidence.value)}"
    budget = f"the budget of {evidence.limit:g} ms"
    return _finding(subject, evidence, head, f"over {budget}", f"against {budget}")


def ratio_finding(
    subject: Subject, evidence: Evidence, baseline: tuple[str, float], limit: RatioLimit
) -> Finding | None:
    """The finding for a ratio-to-baseline verdict (None when it passed). ``baseline`` is
    the baseline's name and its own percentile."""
    name, value = baseline
    factor = f"{evidence.value / value:.2f}×" if value > 0 else "more than"
    head = f"{subject.label} of {subject.revision} is {ms(evidence.value)}"
    bound = f"at most {limit.ratio:g}×" + (
        f", or {ms(limit.min_delta_ms)} more" if limit.min_delta_ms else ""
    )
    over = f"{factor} {name}'s {ms(value)} ({bound})"
    return _finding(subject, evidence, head, over, f"against {name}'s ({bound})")


def _finding(
    subject: Subject, evidence: Evidence, head: str, over: str, against: str
) -> Finding | None:
    if evidence.verdict is Verdict.PASS:
        return None
    if evidence.verdict is Verdict.FAIL:
        message = f"{head}, {over}: {evidence.describe()}"
        return Finding(subject.rule, Severity.ERROR, subject.where, message, _fix(subject))
    if evidence.too_few:
        message = f"{subject.label} of {subject.revision} cannot be judged {against}: "
        hint = _MORE.format(how=f"{subject.more} ({evidence.needed} reach {ALPHA:g})")
        if evidence.test == BINOMIAL:
            hint = _MORE.format(how=subject.more)
        return Finding(
            subject.rule, Severity.WARNING, subject.where, message + evidence.describe(), hint
        )
    message = f"{head}, {over} in this run, but not significantly: {evidence.describe()}"
    hint = _MORE.format(how=subject.more)
    return Finding(subject.rule, Severity.WARNING, subject.where, message, hint)


def _fix(subject: Subject) -> str:
    if subject.fix is not None:
        return subject.fix
    return f"find the slow requests in the evidence file, or fix {subject.revision}"
