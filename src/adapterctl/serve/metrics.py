"""Prometheus collectors of the reference node, one registry per app.

The reference node's own series (``adapterctl:``) are labelled by the served model name (the
base id or a LoRA name), so adapter requests are counted apart from base requests; vLLM
counts them under the base's name and has no per-adapter request series.

``vllm:lora_requests_info`` copies vLLM 0.32's gauge (``vllm/v1/metrics/loggers.py``,
``PrometheusStatLogger``; ``vllm/v1/metrics/stats.py``, ``LoRARequestStates``): labels
``max_lora`` (``--max-loras``), ``waiting_lora_adapters`` and ``running_lora_adapters``, value
= the wall-clock time of the last update (``set_to_current_time``), so a scraper takes the
series with the highest value as the current one. Like vLLM, old label sets stay exported,
and both adapter labels hold the same list: every adapter with an unfinished request
(waiting or running), comma-separated, in the order they became active — vLLM fills both
from one table, whose entries only differ in their counts.
"""

from __future__ import annotations

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
        self.active: dict[str, int] = {}
        """Unfinished requests per adapter, adapters in the order they became active."""
        self.record_lora_info()

    def record_lora_info(self) -> None:
        """Export the adapters with unfinished requests, stamped with the time."""
        active = ",".join(self.active)
        labels = self.lora_info.labels(
            max_lora=str(self.max_loras),
            waiting_lora_adapters=active,
            running_lora_adapters=active,
        )
        labels.set_to_current_time()

    def lora_started(self, lora: str) -> None:
        self.active[lora] = self.active.get(lora, 0) + 1
        self.record_lora_info()

    def lora_finished(self, lora: str) -> None:
        left = self.active.pop(lora, 0) - 1
        if left > 0:
            self.active[lora] = left  # vLLM drops an idle adapter and appends it anew
        self.record_lora_info()

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
        if lora is not None:
            metrics.lora_started(lora)

    def running(self) -> None:
        """The first output arrived: the request is no longer waiting (vLLM stamps the
        gauge again; its labels do not change)."""
        if self._state == "waiting":
            self._state = "running"
            if self._lora is not None:
                self._metrics.record_lora_info()

    def finish(self, *, error: bool) -> None:
        """Record the outcome and the latency; later calls do nothing."""
        if self._state == "finished":
            return
        self._state = "finished"
        if self._lora is not None:
            self._metrics.lora_finished(self._lora)
        if error:
            self._metrics.errors.labels(model=self._model).inc()
        self._metrics.latency.labels(model=self._model).observe(perf_counter() - self._started)
