"""The sync agent's metrics: exact samples in the exposition, and a real scrape over HTTP."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from adapterctl.serving.metrics import SyncMetrics, serve

Sample = tuple[str, tuple[tuple[str, str], ...], float]


def samples(text: str, family: str) -> set[Sample]:
    """The samples of ``family`` (without the ``_created`` ones), labels sorted."""
    found = set()
    for metric in text_string_to_metric_families(text):
        if metric.name != family:
            continue
        for sample in metric.samples:
            if not sample.name.endswith("_created"):
                found.add((sample.name, tuple(sorted(sample.labels.items())), sample.value))
    return found


def exposed(metrics: SyncMetrics, family: str) -> set[Sample]:
    return samples(metrics.exposition().decode(), family)


def test_sync_success_keeps_only_the_latest_commit_per_node() -> None:
    metrics = SyncMetrics()
    metrics.sync_succeeded("node-a", "prod", "aaa111", 1_700_000_000.0)
    metrics.sync_succeeded("node-b", "prod", "aaa111", 1_700_000_001.5)
    metrics.sync_succeeded("node-a", "prod", "bbb222", 1_700_000_100.0)

    assert exposed(metrics, "adapterctl_sync_last_success_timestamp_seconds") == {
        (
            "adapterctl_sync_last_success_timestamp_seconds",
            (("env", "prod"), ("node", "node-a")),
            1_700_000_100.0,
        ),
        (
            "adapterctl_sync_last_success_timestamp_seconds",
            (("env", "prod"), ("node", "node-b")),
            1_700_000_001.5,
        ),
    }
    assert exposed(metrics, "adapterctl_sync_last_success_commit") == {
        (
            "adapterctl_sync_last_success_commit",
            (("commit", "bbb222"), ("env", "prod"), ("node", "node-a")),
            1.0,
        ),
        (
            "adapterctl_sync_last_success_commit",
            (("commit", "aaa111"), ("env", "prod"), ("node", "node-b")),
            1.0,
        ),
    }


def test_the_same_commit_twice_keeps_its_series() -> None:
    metrics = SyncMetrics()
    metrics.sync_succeeded("node-a", "prod", "aaa111", 1.0)
    metrics.sync_succeeded("node-a", "prod", "aaa111", 2.0)
    assert exposed(metrics, "adapterctl_sync_last_success_commit") == {
        (
            "adapterctl_sync_last_success_commit",
            (("commit", "aaa111"), ("env", "prod"), ("node", "node-a")),
            1.0,
        )
    }


def test_sync_errors_are_counted_by_reason() -> None:
    metrics = SyncMetrics()
    metrics.sync_failed("node-a", "prod", "base-mismatch")
    metrics.sync_failed("node-a", "prod", "base-mismatch")
    metrics.sync_failed("node-b", "prod", "node-down")
    assert exposed(metrics, "adapterctl_sync_errors") == {
        (
            "adapterctl_sync_errors_total",
            (("env", "prod"), ("node", "node-a"), ("reason", "base-mismatch")),
            2.0,
        ),
        (
            "adapterctl_sync_errors_total",
            (("env", "prod"), ("node", "node-b"), ("reason", "node-down")),
            1.0,
        ),
    }


def _revision(node: str, alias: str, version: str) -> Sample:
    labels = (("alias", alias), ("node", node), ("version", version))
    return ("adapterctl_loaded_revisions", labels, 1.0)


def test_loaded_revisions_are_exactly_the_last_set() -> None:
    metrics = SyncMetrics()
    metrics.loaded("node-a", [("support-bot", "1.0.0"), ("support-bot", "1.1.0")])
    metrics.loaded("node-b", [("sql-helper", "1.0.0")])
    metrics.loaded("node-a", [("support-bot", "1.1.0"), ("sql-helper", "1.0.0")])
    assert exposed(metrics, "adapterctl_loaded_revisions") == {
        _revision("node-a", "support-bot", "1.1.0"),
        _revision("node-a", "sql-helper", "1.0.0"),
        _revision("node-b", "sql-helper", "1.0.0"),
    }
    metrics.loaded("node-a", [])
    assert exposed(metrics, "adapterctl_loaded_revisions") == {
        _revision("node-b", "sql-helper", "1.0.0")
    }


def test_load_latency_is_a_histogram_per_node() -> None:
    metrics = SyncMetrics()
    metrics.load_seconds("node-a", 0.3)
    metrics.load_seconds("node-a", 7.0)
    found = exposed(metrics, "adapterctl_adapter_load_seconds")
    node = (("node", "node-a"),)
    assert ("adapterctl_adapter_load_seconds_count", node, 2.0) in found
    assert ("adapterctl_adapter_load_seconds_sum", node, 7.3) in found
    buckets = {
        dict(labels)["le"]: value
        for name, labels, value in found
        if name == "adapterctl_adapter_load_seconds_bucket"
    }
    assert buckets["0.25"] == 0.0
    assert buckets["0.5"] == 1.0
    assert buckets["5.0"] == 1.0
    assert buckets["10.0"] == 2.0
    assert buckets["+Inf"] == 2.0


def test_a_given_registry_is_used() -> None:
    registry = CollectorRegistry()
    metrics = SyncMetrics(registry)
    metrics.sync_failed("node-a", "prod", "disk-full")
    assert registry.get_sample_value(
        "adapterctl_sync_errors_total", {"node": "node-a", "env": "prod", "reason": "disk-full"}
    ) == pytest.approx(1.0)


@pytest.fixture
def served() -> Iterator[tuple[SyncMetrics, str]]:
    metrics = SyncMetrics()
    stop = serve(metrics, "127.0.0.1", 0)
    try:
        yield metrics, stop.url
    finally:
        stop()


def test_serve_exposes_the_metrics_over_http(served: tuple[SyncMetrics, str]) -> None:
    metrics, url = served
    metrics.sync_succeeded("node-a", "staging", "c0ffee", 1_800_000_000.0)
    metrics.loaded("node-a", [("support-bot", "1.2.0")])
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    assert samples(text, "adapterctl_sync_last_success_commit") == {
        (
            "adapterctl_sync_last_success_commit",
            (("commit", "c0ffee"), ("env", "staging"), ("node", "node-a")),
            1.0,
        )
    }
    assert samples(text, "adapterctl_loaded_revisions") == {
        _revision("node-a", "support-bot", "1.2.0")
    }


def test_stop_closes_the_port() -> None:
    stop = serve(SyncMetrics(), "127.0.0.1", 0)
    url = stop.url
    stop()
    with pytest.raises(urllib.error.URLError, match="refused"):
        urllib.request.urlopen(url, timeout=10)
