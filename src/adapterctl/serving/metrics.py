"""The sync agent's Prometheus metrics, and the HTTP server that exposes them.

Imported only by the agent (``prometheus_client`` comes with the ``serve`` extra). The
series, all labelled by ``node`` (the node configuration's name):

- ``adapterctl_sync_last_success_timestamp_seconds{node,env}``: when the last sync converged.
- ``adapterctl_sync_last_success_commit{node,env,commit}``: 1 for the commit of that sync;
  only the latest commit of a node and environment is kept.
- ``adapterctl_sync_errors_total{node,env,reason}``: failed syncs by a short reason slug
  (``base-mismatch``, ``unsigned-commit``, ``load-failed``, ``node-down``,
  ``tampered-artifact``, ``disk-full``, ...).
- ``adapterctl_loaded_revisions{node,alias,version}``: 1 per revision the node serves,
  exactly the set last reported (stale series are removed).
- ``adapterctl_adapter_load_seconds{node}``: histogram of one adapter load's duration.

docs/observability.md shows them on the shipped Grafana dashboard.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.exposition import generate_latest

#: Load latency buckets in seconds (an adapter load takes from milliseconds to minutes).
LOAD_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class SyncMetrics:
    """The agent's collectors in one registry (its own unless one is given)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = CollectorRegistry() if registry is None else registry
        self._lock = threading.Lock()
        self._commits: dict[tuple[str, str], str] = {}
        self._loaded: dict[str, set[tuple[str, str]]] = {}
        self._last_success = Gauge(
            "adapterctl_sync_last_success_timestamp_seconds",
            "Unix time of the last sync that converged, by node and environment.",
            ["node", "env"],
            registry=self.registry,
        )
        self._commit = Gauge(
            "adapterctl_sync_last_success_commit",
            "1 for the registry commit of the last sync that converged.",
            ["node", "env", "commit"],
            registry=self.registry,
        )
        self._errors = Counter(
            "adapterctl_sync_errors_total",
            "Syncs that failed, by reason.",
            ["node", "env", "reason"],
            registry=self.registry,
        )
        self._revisions = Gauge(
            "adapterctl_loaded_revisions",
            "1 for each adapter revision the node serves.",
            ["node", "alias", "version"],
            registry=self.registry,
        )
        self._load = Histogram(
            "adapterctl_adapter_load_seconds",
            "Duration of one adapter load (POST /v1/load_lora_adapter).",
            ["node"],
            buckets=LOAD_BUCKETS,
            registry=self.registry,
        )

    def sync_succeeded(self, node: str, env: str, commit: str, when: float) -> None:
        """A sync of ``node`` converged on ``commit`` at Unix time ``when``."""
        with self._lock:
            previous = self._commits.get((node, env))
            if previous is not None and previous != commit:
                self._commit.remove(node, env, previous)
            self._commits[(node, env)] = commit
            self._commit.labels(node=node, env=env, commit=commit).set(1)
            self._last_success.labels(node=node, env=env).set(when)

    def sync_failed(self, node: str, env: str, reason: str) -> None:
        """A sync of ``node`` failed; ``reason`` is a short slug such as ``load-failed``."""
        self._errors.labels(node=node, env=env, reason=reason).inc()

    def loaded(self, node: str, revisions: Iterable[tuple[str, str]]) -> None:
        """``node`` now serves exactly ``revisions`` (alias, version) pairs."""
        current = set(revisions)
        with self._lock:
            for alias, version in self._loaded.get(node, set()) - current:
                self._revisions.remove(node, alias, version)
            for alias, version in current:
                self._revisions.labels(node=node, alias=alias, version=version).set(1)
            self._loaded[node] = current

    def load_seconds(self, node: str, seconds: float) -> None:
        """One adapter load on ``node`` took ``seconds``."""
        self._load.labels(node=node).observe(seconds)

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


class MetricsServer:
    """A running metrics HTTP server; call it to stop it."""

    def __init__(self, metrics: SyncMetrics, host: str, port: int) -> None:
        self._server, self._thread = start_http_server(port, addr=host, registry=metrics.registry)
        self.host = host
        self.port = int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Where ``/metrics`` is scraped."""
        return f"http://{self.host}:{self.port}/metrics"

    def __call__(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def serve(metrics: SyncMetrics, host: str, port: int) -> MetricsServer:
    """Serve ``metrics`` on ``host:port`` (0: any free port) from a daemon thread.

    The result is the stop function; its ``port`` and ``url`` say where it listens.
    """
    return MetricsServer(metrics, host, port)
