"""The metrics the gate judges and the reports show, each with its scope and its unit.

A latency metric's ``key`` names its budget (``budgets.<key>_ms``) and its ratio to the
baseline (``vs_baseline.max_ratio.<key>``) in the profile.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from adapterctl.latency import percentile
from adapterctl.pressure.stats import RevisionStats, Summary

Scope = Literal["candidate", "all"]


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    label: str
    """As a sentence names it: 'p95 latency'."""
    scope: Scope
    unit: str
    read: Callable[[Summary], float | None]
    samples: Callable[[Summary], Sequence[float]] | None = None
    """The samples a percentile is taken of (latency metrics), for the gate's tests."""
    index: Callable[[Summary], Sequence[int]] | None = None
    """Each sample's request in the schedule, to pair the revisions' samples."""
    percentile: int = 0

    def keyed(self, summary: Summary) -> dict[int, float]:
        """The samples by request (latency metrics)."""
        assert self.samples is not None, f"{self.key} is not a latency metric"
        assert self.index is not None, f"{self.key} is not a latency metric"
        return dict(zip(self.index(summary), self.samples(summary), strict=True))

    def value(self, stats: RevisionStats) -> float | None:
        return self.read(stats.candidate if self.scope == "candidate" else stats.all)

    def show(self, value: float | None) -> str:
        """The value with its unit, e.g. ``812 ms``, ``3.21 requests/s``, ``12.5%``."""
        if value is None:
            return "n/a"
        if self.unit == "%":
            return f"{value:.1%}"
        if self.unit == "ms":
            return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"
        return f"{value:.2f} {self.unit}"


def _percentile(key: str, label: str, ttft: bool, p: int) -> Metric:
    """A latency metric: the ``p``-th percentile of the latencies or times to first token."""

    def samples(s: Summary) -> Sequence[float]:
        return s.ttfts if ttft else s.latencies

    def index(s: Summary) -> Sequence[int]:
        return s.ttft_index if ttft else s.latency_index

    return Metric(
        key, label, "candidate", "ms", lambda s: percentile(samples(s), p), samples, index, p
    )


def _latency(p: int) -> Metric:
    return _percentile(f"p{p}", f"p{p} latency", False, p)


def _ttft(p: int) -> Metric:
    return _percentile(f"ttft_p{p}", f"p{p} time to first token", True, p)


LATENCY = (_latency(50), _latency(95), _latency(99), _ttft(50), _ttft(95), _ttft(99))
"""Over the candidate's requests that succeeded."""
ERROR_RATE = Metric("error_rate", "error rate", "candidate", "%", lambda s: s.error_rate)
THROUGHPUT = Metric("throughput", "throughput", "all", "requests/s", lambda s: s.throughput_rps)
OUTPUT_RATE = Metric(
    "output_tokens_per_s", "output tokens/s", "all", "tokens/s", lambda s: s.output_tokens_per_s
)
QUEUE_P95 = Metric("queue_p95", "p95 wait for a free slot", "all", "ms", lambda s: s.queue_ms.p95)

REPORTED = (ERROR_RATE, THROUGHPUT, OUTPUT_RATE, *LATENCY, QUEUE_P95)
"""In the order the summaries and the table show them."""


def ratio(candidate: float | None, baseline: float | None) -> float | None:
    """candidate ÷ baseline, or None when either is unknown or the baseline is 0."""
    if candidate is None or baseline is None or baseline == 0:
        return None
    return candidate / baseline
