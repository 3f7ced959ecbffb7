"""Triage's numbers: a model's pooled counts, the thresholds, and when they are elevated.

A count below ``min_requests`` is shown but never judged. "Elevated" means, with
:class:`Thresholds` ``t``:

- against a reference (other nodes, other models): error rate ≥ ``t.error_rate`` and
  ≥ ``t.ratio`` × the reference's, or p95 latency ≥ ``t.ratio`` × the reference's;
- with no healthy reference (base-specific): error rate ≥ ``t.error_rate`` or p95 latency
  ≥ ``t.latency_s``; a reference is normal when it is below both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from adapterctl.serving.scrape import Latency, ModelCounts


@dataclass(frozen=True, slots=True)
class Thresholds:
    error_rate: float = 0.05
    """Error rate at or above which a model is elevated (with ``ratio`` against a reference)."""
    ratio: float = 3.0
    """How many times the reference's error rate or p95 latency counts as elevated."""
    latency_s: float = 10.0
    """p95 latency (seconds) at or above which a model is elevated with no reference."""
    min_requests: int = 20
    """Fewer requests than this are shown but never judged."""


@dataclass(frozen=True, slots=True)
class Stats:
    """Pooled counts: requests, errors and the latency histogram."""

    requests: float = 0.0
    errors: float = 0.0
    latency: Latency | None = None

    @classmethod
    def of(cls, counts: ModelCounts) -> Stats:
        return cls(counts.requests, counts.errors, counts.latency)

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests > 0 else None

    @property
    def mean_s(self) -> float | None:
        return None if self.latency is None else self.latency.mean_s

    @property
    def p95_s(self) -> float | None:
        return None if self.latency is None else self.latency.quantile(0.95)

    def plus(self, other: Stats) -> Stats:
        mine, theirs = self.latency, other.latency
        latency = mine.plus(theirs) if mine and theirs else (mine or theirs)
        return Stats(self.requests + other.requests, self.errors + other.errors, latency)


def pooled(stats: Iterable[Stats]) -> Stats:
    total = Stats()
    for one in stats:
        total = total.plus(one)
    return total


def judged(stats: Stats, t: Thresholds) -> bool:
    return stats.requests >= t.min_requests


def errors_above(cell: Stats, reference: Stats, t: Thresholds) -> bool:
    rate, other = cell.error_rate, reference.error_rate
    if rate is None or rate < t.error_rate:
        return False
    return other is None or rate >= t.ratio * other


def latency_above(cell: Stats, reference: Stats, t: Thresholds) -> bool:
    mine, theirs = cell.p95_s, reference.p95_s
    return mine is not None and theirs is not None and theirs > 0 and mine >= t.ratio * theirs


def above(cell: Stats, reference: Stats, t: Thresholds) -> bool:
    """Elevated against a reference (both judged)."""
    if not (judged(cell, t) and judged(reference, t)):
        return False
    return errors_above(cell, reference, t) or latency_above(cell, reference, t)


def elevated(stats: Stats, t: Thresholds) -> bool:
    """Elevated with no reference: the absolute thresholds."""
    rate, p95 = stats.error_rate, stats.p95_s
    return (rate is not None and rate >= t.error_rate) or (p95 is not None and p95 >= t.latency_s)


def numbers(stats: Stats) -> str:
    """``error rate 30.0% (31 of 100), p95 0.29 s`` (n/a where unknown)."""
    rate = stats.error_rate
    shown = "n/a" if rate is None else f"{rate:.1%}"
    p95 = stats.p95_s
    latency = "n/a" if p95 is None else f"{p95:.3g} s"
    return f"error rate {shown} ({stats.errors:g} of {stats.requests:g}), p95 {latency}"
