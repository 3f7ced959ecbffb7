"""The gateway's per-revision Prometheus metrics: what vLLM cannot say (its request metrics
carry the base's name for adapter requests too), measured where the split happens.

Every request series is labelled ``env``, ``alias``, ``version``, ``tenant`` (a tenant some
route names, else ``other``: the label stays bounded) and ``node``:

- ``adapterctl_gateway_requests_total{…, code}``: finished requests by status class
  (``2xx``, ``4xx``, ``5xx``); errors are the ``5xx`` (and ``4xx``) series.
- ``adapterctl_gateway_request_duration_seconds``: end-to-end latency, histogram.
- ``adapterctl_gateway_time_to_first_token_seconds``: streamed requests, to the first chunk.
- ``adapterctl_gateway_output_tokens``: completion tokens per request (the node's ``usage``,
  else one per streamed chunk), histogram.
- ``adapterctl_gateway_requests_in_flight``: gauge.

And the gateway's own state: ``adapterctl_gateway_routes_commit{env,commit}`` (1 for the
commit it routes by), ``adapterctl_gateway_reload_errors_total{env,reason}``,
``adapterctl_gateway_node_up{node}`` and ``adapterctl_gateway_refused_total{env,code}``.
The canary judge (``canary analyze``) reads the request series.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

LABELS = ("env", "alias", "version", "tenant", "node")
LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5,
    2.0, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0, 300.0,
)  # fmt: skip
"""Fine enough that a p95 read from buckets is within ~25 % of the true one."""
CODES = ("2xx", "4xx", "5xx")
"""The status classes a request series is exported with from the start."""
TOKEN_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)
CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass(frozen=True, slots=True)
class Series:
    """The children of one label set, looked up once and kept (the hot path's metrics)."""

    requests: dict[str, Counter]
    """Status class → the counter child (made on first use)."""
    duration: Histogram
    ttft: Histogram
    tokens: Histogram
    in_flight: Gauge


class GatewayMetrics:
    """The collectors in one registry of the gateway's own."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, ...], Series] = {}
        self.registry = CollectorRegistry()
        reg = self.registry
        self.requests = Counter(
            "adapterctl_gateway_requests",
            "Requests answered, by revision and status class.",
            [*LABELS, "code"],
            registry=reg,
        )
        self.duration = Histogram(
            "adapterctl_gateway_request_duration_seconds",
            "End-to-end latency of a request through the gateway.",
            LABELS,
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.ttft = Histogram(
            "adapterctl_gateway_time_to_first_token_seconds",
            "Time to the first streamed chunk of a streamed request.",
            LABELS,
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.tokens = Histogram(
            "adapterctl_gateway_output_tokens",
            "Completion tokens of one request.",
            LABELS,
            buckets=TOKEN_BUCKETS,
            registry=reg,
        )
        self.in_flight = Gauge(
            "adapterctl_gateway_requests_in_flight",
            "Requests being proxied now.",
            LABELS,
            registry=reg,
        )
        self._state(reg)

    def _state(self, reg: CollectorRegistry) -> None:
        self.commit = Gauge(
            "adapterctl_gateway_routes_commit",
            "1 for the registry commit whose routes the gateway serves.",
            ["env", "commit"],
            registry=reg,
        )
        self.reload_errors = Counter(
            "adapterctl_gateway_reload_errors",
            "Route tables refused (the previous one stays), by reason.",
            ["env", "reason"],
            registry=reg,
        )
        self.node_up = Gauge(
            "adapterctl_gateway_node_up",
            "1 while the node answers /v1/models, else 0.",
            ["node"],
            registry=reg,
        )
        self.refused = Counter(
            "adapterctl_gateway_refused",
            "Requests answered by the gateway itself (no revision chosen), by status.",
            ["env", "code"],
            registry=reg,
        )

    def series(self, labels: tuple[str, str, str, str, str]) -> Series:
        """The children for (env, alias, version, tenant, node)."""
        found = self._series.get(labels)
        if found is None:
            found = Series(
                {},
                self.duration.labels(*labels),
                self.ttft.labels(*labels),
                self.tokens.labels(*labels),
                self.in_flight.labels(*labels),
            )
            self._series[labels] = found
        return found

    def prepare(self, labels: tuple[str, str, str, str, str], series: Series) -> None:
        """Export the request counters of ``labels`` at 0 before its first request:
        Prometheus' ``increase()`` cannot count what a series held at its first scrape, so
        a canary's first errors would vanish from the analysis' window."""
        for code in CODES:
            if code not in series.requests:
                series.requests[code] = self.requests.labels(*labels, code)

    def count(self, labels: tuple[str, str, str, str, str], series: Series, status: int) -> None:
        code = f"{status // 100}xx"
        child = series.requests.get(code)
        if child is None:
            child = series.requests[code] = self.requests.labels(*labels, code)
        child.inc()

    def routes(self, env: str, commit: str, previous: str | None) -> None:
        if previous is not None and previous != commit:
            self.commit.remove(env, previous)
        self.commit.labels(env, commit).set(1)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
