"""The shipped Grafana dashboard: real metric names only, adapters split from the base, and
the gateway's per-revision series."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from adapterctl.gateway.metrics import GatewayMetrics
from adapterctl.serve.metrics import NodeMetrics
from adapterctl.serving.metrics import SyncMetrics
from adapterctl.serving.scrape import samples
from tests.conftest import REPO

DASHBOARD = REPO / "docs/grafana/adapterctl-dashboard.json"
VLLM = Path(__file__).parent / "data/metrics/vllm.txt"
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or"}
KEYWORDS |= {"unless", "bool", "offset"}


def exposed_names() -> set[str]:
    """Every sample name the reference node, the sync agent, the gateway and vLLM (recorded)
    expose."""
    node = NodeMetrics(max_loras=1)
    node.track("support-bot@1.0.0", "support-bot@1.0.0").finish(error=True)
    agent = SyncMetrics()
    agent.sync_succeeded("n", "prod", "abc", 1.0)
    agent.sync_failed("n", "prod", "disk-full")
    agent.loaded("n", [("support-bot", "1.0.0")])
    agent.load_seconds("n", 1.0)
    gateway = GatewayMetrics()
    labels = ("prod", "support-bot", "1.0.0", "other", "n")
    series = gateway.series(labels)
    gateway.count(labels, series, 200)
    gateway.routes("prod", "abc", None)
    gateway.reload_errors.labels("prod", "fetch-failed").inc()
    gateway.node_up.labels("n").set(1)
    gateway.refused.labels("prod", "404").inc()
    texts = [node.render()[0].decode(), agent.exposition().decode(), VLLM.read_text()]
    texts.append(gateway.exposition().decode())
    return {sample.name for text in texts for sample in samples(text)}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions and keywords left out)."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", bare)
    bare = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", " ", bare)
    tokens = re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*(?![a-zA-Z0-9_:]|\s*\()", bare)
    return {t.group() for t in tokens if t.group() not in KEYWORDS} - {"inf", "nan"}


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def exprs() -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr"])
        for panel in dashboard()["panels"]
        for target in panel.get("targets", [])
    ]


def test_the_dashboard_is_importable() -> None:
    document = dashboard()
    assert document["schemaVersion"] == 39
    assert [i["name"] for i in document["__inputs"]] == ["DS_PROMETHEUS"]
    ids = [panel["id"] for panel in document["panels"]]
    assert len(ids) == len(set(ids))
    for panel in document["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}


@pytest.mark.parametrize(("title", "expr"), exprs())
def test_every_query_uses_only_exposed_metrics(title: str, expr: str) -> None:
    names = metric_names(expr)
    assert names, f"{title}: no metric in {expr}"
    assert names <= exposed_names(), f"{title}: unknown {sorted(names - exposed_names())}"


def test_the_name_extraction() -> None:
    expr = 'histogram_quantile(0.95, sum by (le, model) (rate(a:b_bucket{model!="x"}[5m])))'
    assert metric_names(expr) == {"a:b_bucket"}
    assert metric_names("time() - max by (node) (x_seconds)") == {"x_seconds"}


def test_adapter_and_base_errors_are_split_by_the_model_label() -> None:
    errors = [(t, e) for t, e in exprs() if "adapterctl:request_errors_total" in e]
    adapters = [t for t, e in errors if 'model=~".+@.+"' in e]
    bases = [t for t, e in errors if 'model!~".+@.+"' in e and 'model!="unknown"' in e]
    assert adapters == ["Adapter error rate by served name (<alias>@<version>)"]
    assert bases == ["Base error rate"]


def test_the_sync_agent_metrics_are_all_shown() -> None:
    shown = {name for _, expr in exprs() for name in metric_names(expr)}
    agent = {
        "adapterctl_sync_last_success_timestamp_seconds",
        "adapterctl_sync_last_success_commit",
        "adapterctl_sync_errors_total",
        "adapterctl_loaded_revisions",
        "adapterctl_adapter_load_seconds_bucket",
    }
    assert agent <= shown


def test_the_gateway_metrics_are_all_shown_per_revision() -> None:
    shown = {name for _, expr in exprs() for name in metric_names(expr)}
    gateway = {
        "adapterctl_gateway_requests_total",
        "adapterctl_gateway_request_duration_seconds_bucket",
        "adapterctl_gateway_time_to_first_token_seconds_bucket",
        "adapterctl_gateway_requests_in_flight",
        "adapterctl_gateway_node_up",
        "adapterctl_gateway_routes_commit",
        "adapterctl_gateway_reload_errors_total",
        "adapterctl_gateway_refused_total",
    }
    assert gateway <= shown
    quantiles = [(t, e) for t, e in exprs() if "histogram_quantile" in e and "gateway" in e]
    assert [t for t, _ in quantiles] == [
        "Gateway p95 latency by revision",
        "Gateway p95 time to first token by revision",
    ]
    assert all("sum by (le, alias, version)" in e for _, e in quantiles)
    errors = [t for t, e in exprs() if 'adapterctl_gateway_requests_total{code="5xx"}' in e]
    assert errors == ["Gateway 5xx rate by revision (<alias>@<version>)"]


def test_panels_do_not_overlap() -> None:
    taken: set[tuple[int, int]] = set()
    for panel in dashboard()["panels"]:
        box = panel["gridPos"]
        cells = {(x, y) for x in range(box["x"], box["x"] + box["w"])
                 for y in range(box["y"], box["y"] + box["h"])}  # fmt: skip
        assert box["x"] + box["w"] <= 24, panel["title"]
        assert not cells & taken, panel["title"]
        taken |= cells
