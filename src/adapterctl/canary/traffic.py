"""One revision's traffic in one window, from the gateway's series (DESIGN §5a).

Both sources reduce to the same counters: for each series of one revision, summed over
gateways, nodes and tenants, how much it grew during the window.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from adapterctl.latency import Binned

REQUESTS = "adapterctl_gateway_requests_total"
DURATION = "adapterctl_gateway_request_duration_seconds"
TTFT = "adapterctl_gateway_time_to_first_token_seconds"
TOKENS = "adapterctl_gateway_output_tokens"
HISTOGRAMS = {"duration": DURATION, "ttft": TTFT, "tokens": TOKENS}

Key = tuple[str, str]
"""(``requests``, code class) or (histogram, ``le``) or (``tokens``, ``sum``)."""
Counters = Mapping[Key, float]


@dataclass(frozen=True, slots=True)
class Traffic:
    """What one revision answered in one window."""

    requests: Mapping[str, int]
    """Status class (2xx, 4xx, 5xx) → requests."""
    duration: Binned
    """End-to-end latency of successful requests, milliseconds."""
    ttft: Binned
    """Time to first token of streamed successful requests, milliseconds."""
    tokens: Binned
    tokens_sum: float

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    @property
    def errors(self) -> int:
        """Server errors: the node or the gateway failed the request."""
        return self.requests.get("5xx", 0)

    @property
    def mean_tokens(self) -> float | None:
        count = self.tokens.total
        return self.tokens_sum / count if count else None


def traffic(counters: Counters) -> Traffic:
    """The traffic that ``counters`` (window increases, possibly fractional) describe."""
    requests = {code: round(n) for (kind, code), n in counters.items() if kind == "requests"}
    return Traffic(
        {code: n for code, n in sorted(requests.items()) if n > 0},
        _binned(counters, "duration", 1000.0),
        _binned(counters, "ttft", 1000.0),
        _binned(counters, "tokens", 1.0),
        counters.get(("tokens", "sum"), 0.0),
    )


def _binned(counters: Counters, kind: str, scale: float) -> Binned:
    """Cumulative ``le`` buckets → a histogram with non-negative whole counts."""
    buckets = sorted(
        (_bound(le), n) for (k, le), n in counters.items() if k == kind and le != "sum"
    )
    bounds, counts, below = [], [], 0
    for bound, cumulative in buckets:
        total = max(round(cumulative), below)
        bounds.append(bound * scale)
        counts.append(total - below)
        below = total
    if not bounds or not math.isinf(bounds[-1]):
        bounds.append(math.inf)
        counts.append(0)
    return Binned(tuple(bounds), tuple(counts))


def _bound(le: str) -> float:
    return math.inf if le == "+Inf" else float(le)
