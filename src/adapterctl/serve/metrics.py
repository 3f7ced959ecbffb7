"""Prometheus collectors of the reference node, one registry per app.

Request counters and latency are labelled by the served model name (the base id or a
LoRA name). ``vllm:lora_requests_info`` copies vLLM's gauge (``vllm/v1/metrics/loggers.py``,
``PrometheusStatLogger``): labels ``max_lora``, ``waiting_lora_adapters`` and
``running_lora_adapters`` (comma-separated adapter names with requests in that state), value
= the wall-clock time of the last update (``set_to_current_time``), so a scraper takes the
series with the highest value as the current one. Like vLLM, old label sets stay exported.
"""

from __future__ import annotations

from collections import Counter as Tally
from time import perf_counter

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

#: Latency buckets in seconds (CPU inference on tiny models: milliseconds to a minute).
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class NodeMetrics:
    """The collectors of one app and the LoRA request bookkeeping behind the info gauge."""

    def __init__(self, max_loras: int) -> None:
        self.registry = CollectorRegistry()
        self.max_loras = max_loras
        self.requests = Counter(
            "adapterctl:requests_total",
            "Inference requests received, by served model name.",
            ["model"],
            registry=self.registry,
        )
        self.errors = Counter(
            "adapterctl:request_errors_total",
            "Inference requests that ended in an error, by served model name.",
            ["model"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "adapterctl:request_latency_seconds",
            "End-to-end request latency (to the last streamed byte), by served model name.",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.lora_info = Gauge(
            "vllm:lora_requests_info",
            "Running stats on lora requests.",
            ["max_lora", "waiting_lora_adapters", "running_lora_adapters"],
            registry=self.registry,
        )
        self.waiting: Tally[str] = Tally()
        self.running: Tally[str] = Tally()
        self.record_lora_info()

    def record_lora_info(self) -> None:
        """Export the current waiting and running LoRA adapters, stamped with the time."""
        waiting = ",".join(name for name, count in self.waiting.items() if count > 0)
        running = ",".join(name for name, count in self.running.items() if count > 0)
        labels = self.lora_info.labels(
            max_lora=str(self.max_loras),
            waiting_lora_adapters=waiting,
            running_lora_adapters=running,
        )
        labels.set_to_current_time()

    def track(self, model: str, lora: str | None) -> RequestTracker:
        """Count a request for ``model`` and follow it until :meth:`RequestTracker.finish`."""
        self.requests.labels(model=model).inc()
        return RequestTracker(self, model, lora)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class RequestTracker:
    """One request's way through waiting → running → finished (call from the event loop)."""

    def __init__(self, metrics: NodeMetrics, model: str, lora: str | None) -> None:
        self._metrics = metrics
        self._model = model
        self._lora = lora
        self._started = perf_counter()
        self._state = "waiting"
        self._move(None, "waiting")

    def running(self) -> None:
        """The first output arrived: the request is no longer waiting."""
        if self._state == "waiting":
            self._move("waiting", "running")

    def finish(self, *, error: bool) -> None:
        """Record the outcome and the latency; later calls do nothing."""
        if self._state == "finished":
            return
        self._move(self._state, None)
        self._state = "finished"
        if error:
            self._metrics.errors.labels(model=self._model).inc()
        self._metrics.latency.labels(model=self._model).observe(perf_counter() - self._started)

    def _move(self, before: str | None, after: str | None) -> None:
        if after is not None:
            self._state = after
        if self._lora is None:
            return
        tallies = {"waiting": self._metrics.waiting, "running": self._metrics.running}
        if before is not None:
            tallies[before][self._lora] -= 1
        if after is not None:
            tallies[after][self._lora] += 1
        self._metrics.record_lora_info()
