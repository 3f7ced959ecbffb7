"""How an environment judges a canary from live traffic (``adapterctl canary analyze``),
in Argo Rollouts' vocabulary: ``count`` measurements of ``interval`` each; the analysis
fails past ``failure_limit`` failed measurements and is inconclusive past
``inconclusive_limit`` inconclusive ones (docs/canary.md)."""

from __future__ import annotations

from pydantic import Field

from adapterctl.model.common import Duration, Frozen, Int, PositiveInt


class LatencyLimit(Frozen):
    """How much slower than the stable revision the canary may be at p95 and p99."""

    max_ratio: float = Field(default=1.25, ge=1.0, le=100.0)
    min_delta_ms: float = Field(default=50.0, ge=0.0, le=600_000.0)
    """Below this difference a slowdown is noise, whatever the ratio."""


class ErrorRateLimit(Frozen):
    """How much higher the canary's server-error rate (5xx) may be than the stable one's."""

    max_increase: float = Field(default=0.01, ge=0.0, le=1.0)
    """In absolute terms: 0.01 lets 0.5 % become 1.5 %."""


class OutputLimit(Frozen):
    """How far the canary's mean output length may drift from the stable revision's."""

    max_drift: float = Field(default=0.25, ge=0.0, le=10.0)
    """Relative: 0.25 accepts answers from 25 % shorter to 25 % longer."""


class Analysis(Frozen):
    """The canary analysis of this environment's promotions."""

    interval: Duration = "5m"
    """Length of one measurement's window."""
    count: PositiveInt = 3
    """Measurements per analysis (the last ``count`` windows)."""
    failure_limit: Int = Field(default=0, ge=0)
    """Failed measurements tolerated; one more and the analysis is Failed."""
    inconclusive_limit: Int = Field(default=0, ge=0)
    """Inconclusive measurements tolerated; one more and the analysis is Inconclusive."""
    min_requests: PositiveInt = 200
    """Requests each revision needs in a window; fewer make the window inconclusive, never a
    pass."""
    error_rate: ErrorRateLimit = Field(default_factory=ErrorRateLimit)
    latency: LatencyLimit = Field(default_factory=LatencyLimit)
    ttft: LatencyLimit = Field(
        default_factory=lambda: LatencyLimit(max_ratio=1.25, min_delta_ms=20.0)
    )
    """Time to first token of streamed requests (judged at p95 and p99 when both revisions
    had streamed requests)."""
    output_tokens: OutputLimit = Field(default_factory=OutputLimit)
