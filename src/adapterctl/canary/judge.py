"""One measurement: the canary's traffic in one window against the stable revision's.

Every check states its test (DESIGN §3, :mod:`adapterctl.latency`); a failed test is an
error, an undecided one a warning, and a window where either revision answered fewer than
``min_requests`` is at best inconclusive, never a pass:

- server errors: one-sided **Fisher's exact test** that the canary's 5xx rate is higher,
  failed when it is also more than ``error_rate.max_increase`` higher;
- p95 and p99 latency, and time to first token of streamed requests: the stable revision's
  histogram turned into the canary's limit ``max(ratio × b, b + min_delta)``, one-sided
  **Mann-Whitney U** on the buckets, failed when the canary's percentile is over its limit;
- output length: the mean drift, two-sided **Mann-Whitney U** on the token histograms.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from adapterctl.canary.traffic import Traffic
from adapterctl.findings import Finding, Location, Severity
from adapterctl.gates.verdicts import Subject, ratio_finding
from adapterctl.latency import (
    ALPHA,
    Binned,
    RatioLimit,
    compare_binned,
    fisher_greater,
    mann_whitney_binned,
)
from adapterctl.layout import route_key
from adapterctl.model.analysis import Analysis, LatencyLimit

MORE = "more traffic to the canary (a higher weight, a tenant) or a longer analysis.interval"


class Phase(StrEnum):
    """Argo Rollouts' analysis phases."""

    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"


def phase(findings: tuple[Finding, ...]) -> Phase:
    if any(f.severity is Severity.ERROR for f in findings):
        return Phase.FAILED
    if any(f.severity is Severity.WARNING for f in findings):
        return Phase.INCONCLUSIVE
    return Phase.SUCCESSFUL


@dataclass(frozen=True)
class Pair:
    """The two revisions compared: served names, ``alias@version`` (or ``NAME@REVISION`` of
    a base routed as a model of its own)."""

    canary: str
    stable: str
    alias: str = ""
    """The alias both serve (default: the part of the stable's name before '@')."""

    @property
    def versions(self) -> tuple[str, str]:
        """(the stable's route key, the canary's): the gateway's ``version`` labels."""
        alias = self.alias or self.stable.partition("@")[0]
        return route_key(alias, self.stable), route_key(alias, self.canary)


def judge(
    pair: Pair, canary: Traffic, stable: Traffic, analysis: Analysis, where: Location
) -> tuple[Finding, ...]:
    """The findings of one window. With ``min_requests`` of each revision the sample is what
    the environment deems enough: a difference over a limit that is not significant is then
    noted (info), not inconclusive; below it, it keeps the window inconclusive."""
    few = _sample(pair, canary, stable, analysis, where)
    found = _checks(pair, canary, stable, analysis, where)
    if not few:
        found = [replace(f, severity=Severity.INFO, hint=None)
                 if f.severity is Severity.WARNING else f for f in found]  # fmt: skip
    return (*few, *found)


def _checks(
    pair: Pair, canary: Traffic, stable: Traffic, analysis: Analysis, where: Location
) -> list[Finding]:
    findings = _errors(pair, canary, stable, analysis, where)
    findings += _latency(pair, canary.duration, stable.duration, analysis.latency, where, "")
    if canary.ttft.total and stable.ttft.total:
        findings += _latency(pair, canary.ttft, stable.ttft, analysis.ttft, where, "ttft")
    else:
        message = "time to first token not judged: no streamed requests to both revisions"
        findings.append(Finding("canary/ttft", Severity.INFO, where, message))
    findings += _output(pair, canary, stable, analysis, where)
    return findings


def _sample(
    pair: Pair, canary: Traffic, stable: Traffic, analysis: Analysis, where: Location
) -> list[Finding]:
    few = [(name, t.total) for name, t in ((pair.canary, canary), (pair.stable, stable))
           if t.total < analysis.min_requests]  # fmt: skip
    return [
        Finding("canary/sample-size", Severity.WARNING, where,
                f"{name} answered {total} requests, fewer than analysis.min_requests "
                f"{analysis.min_requests}: the window is inconclusive", f"send {MORE}")
        for name, total in few
    ]  # fmt: skip


def _errors(
    pair: Pair, canary: Traffic, stable: Traffic, analysis: Analysis, where: Location
) -> list[Finding]:
    if not canary.total or not stable.total:
        return []
    rate, base = canary.errors / canary.total, stable.errors / stable.total
    if rate - base <= analysis.error_rate.max_increase:
        return []
    p_value = fisher_greater(canary.errors, canary.total, stable.errors, stable.total)
    numbers = (
        f"{pair.canary} failed {canary.errors} of {canary.total} requests ({rate:.2%}), "
        f"{pair.stable} {stable.errors} of {stable.total} ({base:.2%}); more than "
        f"{analysis.error_rate.max_increase:.2%} higher"
    )
    test = f"Fisher's exact test p = {p_value:.3g} {'<' if p_value < ALPHA else '≥'} {ALPHA:g}"
    if p_value < ALPHA:
        hint = f"roll back, then find the failing requests of {pair.canary} in the node's logs"
        return [Finding("canary/error-rate", Severity.ERROR, where, f"{numbers}: {test}", hint)]
    message = f"{numbers} in this window, but not significantly: {test}"
    return [Finding("canary/error-rate", Severity.WARNING, where, message, f"send {MORE}")]


def _latency(
    pair: Pair, canary: Binned, stable: Binned, limit: LatencyLimit, where: Location, kind: str
) -> list[Finding]:
    if not canary.total or not stable.total:
        return []
    ratio = RatioLimit(limit.max_ratio, limit.min_delta_ms)
    found = []
    for p in (95, 99):
        rule = f"canary/{kind or 'latency'}-p{p}"
        label = f"p{p} {'time to first token' if kind else 'latency'}"
        fix = f"roll back, then compare {pair.canary} with {pair.stable} under the pressure gate"
        subject = Subject(rule, where, label, pair.canary, MORE, fix)
        evidence = compare_binned(canary, stable, ratio, p)
        base = stable.percentile(p)
        assert base is not None
        finding = ratio_finding(subject, evidence, (pair.stable, base), ratio)
        if finding is not None:
            found.append(finding)
    return found


def _output(
    pair: Pair, canary: Traffic, stable: Traffic, analysis: Analysis, where: Location
) -> list[Finding]:
    mean, base = canary.mean_tokens, stable.mean_tokens
    if mean is None or base is None or base == 0:
        return []
    drift = mean / base - 1
    if abs(drift) <= analysis.output_tokens.max_drift:
        return []
    greater = mann_whitney_binned(canary.tokens, stable.tokens)
    less = mann_whitney_binned(stable.tokens, canary.tokens)
    p_value = min(1.0, 2 * min(greater, less))
    numbers = (
        f"{pair.canary} answers {mean:.1f} tokens on average, {pair.stable} {base:.1f} "
        f"({drift:+.0%}; at most ±{analysis.output_tokens.max_drift:.0%})"
    )
    test = (
        f"Mann-Whitney U (two-sided) p = {p_value:.3g} {'<' if p_value < ALPHA else '≥'} {ALPHA:g}"
    )
    if p_value < ALPHA:
        hint = f"read a sample of {pair.canary}'s answers: truncated, rambling, or refusing?"
        return [Finding("canary/output-length", Severity.ERROR, where, f"{numbers}: {test}", hint)]
    message = f"{numbers} in this window, but not significantly: {test}"
    return [Finding("canary/output-length", Severity.WARNING, where, message, f"send {MORE}")]


def in_window(findings: tuple[Finding, ...], label: str) -> tuple[Finding, ...]:
    """The findings with their window named first: ``window 2 of 3 (09:05–09:10): …``."""
    return tuple(replace(f, message=f"{label}: {f.message}") for f in findings)
