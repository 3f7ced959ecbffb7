"""``adapterctl triage``: the judging as pure functions, the scraping over real loopback HTTP.

The recorded expositions under tests/data/metrics/ are the reference node's exact format:
refnode.txt was scraped from a running reference node, the others were rendered by its
``NodeMetrics`` with chosen counts; vllm.txt follows vLLM's documented exposition;
gateway.txt was scraped from a running ``adapterctl gateway`` (staging) in front of two
nodes (gpu-a, gpu-b: each a tests/regressing.py proxy in front of one reference node, where
every 3rd request to support-bot@1.1.0 failed), with traffic from two tenants.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import openai
import pytest
from openai import NotFoundError, OpenAI

from adapterctl.cli.app import main
from adapterctl.serving import gateway_scrape, scrape
from adapterctl.serving.gateway_scrape import GatewayScrape, gateway_url, parse_gateway
from adapterctl.serving.nodeconfig import load_nodes
from adapterctl.serving.scrape import Latency, ModelCounts, NodeScrape, metrics_url, parse
from adapterctl.serving.triage import triage
from adapterctl.serving.triage_findings import Verdict
from adapterctl.serving.triage_stats import Stats, Thresholds
from tests.gatewayproc import Gateway, Registry, ask, start
from tests.regressing import regressing

DATA = Path(__file__).parent / "data" / "metrics"
BOUNDS = (0.1, 0.5, 1.0, 5.0, 10.0, float("inf"))


# --- constructed samples ---------------------------------------------------------------


def counts(requests: int, errors: int, latency_s: float = 0.2) -> ModelCounts:
    """``requests`` requests that all took ``latency_s``."""
    buckets = tuple((bound, float(requests) if latency_s <= bound else 0.0) for bound in BOUNDS)
    return ModelCounts(requests, errors, Latency(buckets, requests * latency_s, requests))


Models = dict[str, ModelCounts]


def node(name: str, models: Models) -> NodeScrape:
    return NodeScrape(name, f"http://{name}/metrics", "tiny-llama", models, None, "adapterctl")


def healthy(name: str, override: Models | None = None) -> NodeScrape:
    models = {
        "tiny-llama": counts(200, 1),
        "support-bot@1.0.0": counts(300, 2),
        "support-bot@1.1.0": counts(100, 1),
        "sql-helper@1.0.0": counts(150, 0),
    }
    return node(name, {**models, **(override or {})})


def failing(errors: float, latency_s: float = 0.2) -> Models:
    """Every model of the base with this share of errors."""
    sizes = {"tiny-llama": 200, "support-bot@1.0.0": 300, "support-bot@1.1.0": 100}
    sizes["sql-helper@1.0.0"] = 150
    return {name: counts(n, round(n * errors), latency_s) for name, n in sizes.items()}


def down(name: str) -> NodeScrape:
    return NodeScrape(name, f"http://{name}/metrics", None, problem="unreachable: refused")


def test_nothing_stands_out() -> None:
    result = triage([healthy("a"), healthy("b")])
    assert result.verdict is Verdict.NONE
    assert result.findings == []


def test_one_revision_failing_everywhere_is_adapter_specific() -> None:
    bad = {"support-bot@1.1.0": counts(100, 30)}
    result = triage([healthy("a", bad), healthy("b", bad)])
    assert result.verdict is Verdict.ADAPTER
    [finding] = result.findings
    assert finding.subject == "support-bot@1.1.0"
    assert finding.nodes == ("a", "b")
    assert finding.message == (
        "support-bot@1.1.0 is elevated on every node that serves it (a, b): "
        "error rate 30.0% (60 of 200), p95 0.48 s, against error rate 0.5% (6 of 1300), "
        "p95 0.48 s for the base and other revisions there"
    )


def test_a_revision_failing_on_one_node_only_is_not_adapter_specific() -> None:
    bad = {"support-bot@1.1.0": counts(100, 30)}
    assert triage([healthy("a", bad), healthy("b")]).verdict is Verdict.NONE


def test_a_slow_revision_is_adapter_specific() -> None:
    slow = {"support-bot@1.1.0": counts(100, 0, latency_s=4.0)}
    result = triage([healthy("a", slow), healthy("b", slow)])
    assert result.verdict is Verdict.ADAPTER
    assert "p95 4.8 s, against error rate" in result.findings[0].message


def test_everything_on_the_base_failing_is_base_specific() -> None:
    result = triage([node("a", failing(0.2)), node("b", failing(0.15))])
    assert result.verdict is Verdict.BASE
    [finding] = result.findings
    assert finding.subject == "tiny-llama"
    assert finding.message.startswith(
        "base tiny-llama: it and every revision on it are elevated on every node (a, b): "
        "sql-helper@1.0.0 error rate 17.3% (52 of 300)"
    )


def test_a_slow_base_is_base_specific_above_the_latency_threshold() -> None:
    slow = failing(0.0, latency_s=12.0)  # p95: the highest finite bound, 10 s
    assert triage([node("a", slow), node("b", slow)]).verdict is Verdict.BASE
    limits = Thresholds(latency_s=30.0)
    assert triage([node("a", slow), node("b", slow)], limits).verdict is Verdict.NONE


def test_one_node_failing_across_all_models_is_infrastructure() -> None:
    result = triage([healthy("a"), healthy("b"), node("c", failing(0.3, latency_s=6.0))])
    assert result.verdict is Verdict.INFRASTRUCTURE
    [finding] = result.findings
    assert finding.message == (
        "node c is elevated across all its models: error rate 30.0% (225 of 750), p95 9.75 s, "
        "against error rate 0.5% (8 of 1500), p95 0.48 s on the other nodes"
    )


def test_an_unreachable_node_is_infrastructure_and_the_others_are_still_judged() -> None:
    bad = {"support-bot@1.1.0": counts(100, 30)}
    result = triage([healthy("a", bad), healthy("b", bad), down("c")])
    assert [f.verdict for f in result.findings] == [Verdict.INFRASTRUCTURE, Verdict.ADAPTER]
    assert result.findings[0].message == "node c cannot be read: unreachable: refused"
    assert result.verdict is Verdict.INFRASTRUCTURE


def test_thresholds_decide() -> None:
    nodes = [healthy(name, {"support-bot@1.1.0": counts(100, 4)}) for name in "ab"]  # 4%
    assert triage(nodes).verdict is Verdict.NONE
    assert triage(nodes, Thresholds(error_rate=0.03)).verdict is Verdict.ADAPTER
    assert triage(nodes, Thresholds(error_rate=0.03, ratio=20.0)).verdict is Verdict.NONE


def test_small_samples_are_shown_but_not_judged() -> None:
    nodes = [healthy(name, {"support-bot@1.2.0": counts(10, 5)}) for name in "ab"]
    result = triage(nodes)
    assert result.verdict is Verdict.NONE
    row = next(r for r in result.revisions if r.name == "support-bot@1.2.0")
    assert (row.stats.requests, row.stats.errors) == (20, 10)
    assert row.note == ""  # pooled over both nodes it reaches 20
    cell = next(r for r in result.cells if r.name == "support-bot@1.2.0")
    assert cell.note == "under 20 requests: not judged"
    assert triage(nodes, Thresholds(min_requests=5)).verdict is Verdict.ADAPTER


def test_a_lone_node_failing_everywhere_says_it_cannot_rule_itself_out() -> None:
    result = triage([node("a", failing(0.3))])
    assert result.verdict is Verdict.BASE
    assert result.findings[0].message.endswith(
        "(one node only: a fault of that node cannot be ruled out)"
    )


def test_the_p95_interpolates_like_histogram_quantile() -> None:
    latency = Latency(((0.1, 50.0), (0.5, 90.0), (1.0, 100.0), (float("inf"), 100.0)), 20.0, 100)
    assert latency.quantile(0.95) == pytest.approx(0.75)
    assert latency.quantile(0.5) == pytest.approx(0.1)
    assert latency.mean_s == pytest.approx(0.2)
    beyond = Latency(((1.0, 1.0), (float("inf"), 10.0)), 50.0, 10)
    assert beyond.quantile(0.95) == 1.0  # the highest finite bound, as Prometheus does
    assert Stats().p95_s is None
    assert Stats().error_rate is None


def test_pooling_histograms_keeps_the_shared_bounds() -> None:
    one = Latency(((0.1, 1.0), (0.5, 2.0), (float("inf"), 3.0)), 1.0, 3)
    other = Latency(((0.5, 4.0), (1.0, 5.0), (float("inf"), 5.0)), 2.0, 5)
    assert one.plus(other) == Latency(((0.5, 6.0), (float("inf"), 8.0)), 3.0, 8)


# --- parsing the recorded expositions ------------------------------------------------


def test_the_reference_node_exposition_is_read_exactly() -> None:
    source, models = parse((DATA / "refnode.txt").read_text())
    assert source == "adapterctl"
    assert sorted(models) == [
        "sql-helper@1.0.0",
        "support-bot@1.0.0",
        "support-bot@1.1.0",
        "tiny-llama",
        "unknown",
    ]
    assert (models["support-bot@1.1.0"].requests, models["support-bot@1.1.0"].errors) == (2, 0)
    assert (models["unknown"].requests, models["unknown"].errors) == (1, 1)
    latency = models["tiny-llama"].latency
    assert latency is not None
    assert latency.count == 2
    assert latency.total_s == pytest.approx(0.6346621909979149)
    assert latency.buckets[-1] == (float("inf"), 2.0)
    assert len(latency.buckets) == 13


def test_the_vllm_exposition_is_read_by_model_name() -> None:
    source, models = parse((DATA / "vllm.txt").read_text())
    assert source == "vllm"
    assert list(models) == ["tiny-llama"]
    base = models["tiny-llama"]
    assert (base.requests, base.errors) == (200, 7)
    assert Stats.of(base).p95_s == pytest.approx(1.5)
    assert Stats.of(base).mean_s == pytest.approx(0.65)


def test_label_values_are_unescaped() -> None:
    text = 'adapterctl:requests_total{model="a\\"b\\\\c"} 3.0\n'
    assert parse(text)[1] == {'a"b\\c': ModelCounts(3.0, 0.0)}


def test_counts_since_an_earlier_scrape() -> None:
    before = node("a", {"tiny-llama": counts(100, 1)})
    after = node("a", {"tiny-llama": counts(130, 4)})
    delta = scrape.since(after, before).models["tiny-llama"]
    assert (delta.requests, delta.errors) == (30, 3)
    assert delta.latency is not None
    assert delta.latency.count == 30
    restarted = scrape.since(before, after).models["tiny-llama"]  # a counter reset
    assert restarted.requests == 100


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://gpu-a:8000/v1", "http://gpu-a:8000/metrics"),
        ("http://gpu-a:8000/v1/", "http://gpu-a:8000/metrics"),
        ("https://gw.example/node-a/v1", "https://gw.example/node-a/metrics"),
    ],
)
def test_metrics_live_at_the_server_root(endpoint: str, url: str) -> None:
    assert metrics_url(endpoint) == url


# --- over loopback HTTP, through the command ------------------------------------------


class _Recorded(BaseHTTPRequestHandler):
    body: bytes = b""
    seen: list[str | None]
    gate: threading.Event | None = None

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization"))
        if self.gate is not None:
            self.gate.wait(timeout=30)
        if self.path != "/metrics":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        del format, args


Serve = Callable[..., str]


@pytest.fixture
def serve_metrics() -> Iterator[Serve]:
    """Serve a recorded exposition per call; yields a function returning the ``/v1`` URL."""
    servers: list[tuple[ThreadingHTTPServer, threading.Thread, threading.Event | None]] = []

    def start(
        recording: str, seen: list[str | None] | None = None, gate: threading.Event | None = None
    ) -> str:
        attributes = {
            "body": (DATA / recording).read_bytes(),
            "seen": [] if seen is None else seen,
            "gate": gate,
        }
        handler = type("Handler", (_Recorded,), attributes)
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread, gate))
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for server, thread, gate in servers:
        if gate is not None:
            gate.set()
        server.shutdown()
        server.server_close()
        thread.join()


def write_node(folder: Path, name: str, endpoint: str, env: str = "prod", extra: str = "") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(
        f"name: {name}\nenvironment: {env}\nendpoint: {endpoint}\n"
        f"base: {{path: base, served_name: tiny-llama}}\ncache_dir: cache\n{extra}"
    )
    return path


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(configs: list[Path], *options: str) -> int:
    """``adapterctl triage`` with a generous --timeout (a safety net), unless ``options``
    give one (the last one given counts)."""
    args = ["triage", "--env", "prod", "--timeout", "60"]
    for config in configs:
        args += ["--node-config", str(config)]
    return main([*args, *options])


def test_triage_names_the_failing_revision(
    serve_metrics: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configs = [
        write_node(tmp_path, "gpu-a", serve_metrics("adapter-a.txt")),
        write_node(tmp_path, "gpu-b", serve_metrics("adapter-b.txt")),
    ]
    assert run(configs, "--format", "json") == 1
    document = json.loads(capsys.readouterr().out)
    assert document["format"] == "adapterctl/triage/v1"
    assert document["environment"] == "prod"
    assert document["verdict"] == "adapter-specific"
    assert [f["subject"] for f in document["findings"]] == ["support-bot@1.1.0"]
    row = next(r for r in document["revisions"] if r["name"] == "support-bot@1.1.0")
    assert (row["requests"], row["errors"], row["nodes"]) == (180, 53, ["gpu-a", "gpu-b"])
    assert row["error_rate"] == pytest.approx(53 / 180)
    unknown = next(r for r in document["revisions"] if r["name"] == "unknown")
    assert (unknown["requests"], unknown["errors"]) == (8, 8)
    assert document["thresholds"] == {
        "error_rate": 0.05,
        "ratio": 3.0,
        "latency_s": 10.0,
        "min_requests": 20,
    }


def test_triage_text_shows_tables_and_the_verdict(
    serve_metrics: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configs = [
        write_node(tmp_path, "gpu-a", serve_metrics("healthy-a.txt")),
        write_node(tmp_path, "gpu-b", serve_metrics("healthy-b.txt")),
        write_node(tmp_path, "gpu-c", serve_metrics("degraded-c.txt")),
    ]
    assert run(configs) == 1
    out = capsys.readouterr().out
    assert "prod: per served name" in out
    assert "prod: per node" in out
    assert out.endswith(
        "verdict: infrastructure: the evidence points at infrastructure: nodes that cannot be "
        "read, or that fail across all their models where the others are normal.\n"
        "  - infrastructure: node gpu-c is elevated across all its models: error rate 38.6% "
        "(272 of 705), p95 9.38 s, against error rate 0.5% (7 of 1400), p95 0.438 s on the "
        "other nodes\n"
    )


def test_triage_of_healthy_nodes_exits_0(
    serve_metrics: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configs = [
        write_node(tmp_path, "gpu-a", serve_metrics("healthy-a.txt")),
        write_node(tmp_path, "gpu-b", serve_metrics("healthy-b.txt")),
    ]
    assert run(configs) == 0
    assert capsys.readouterr().out.endswith("verdict: none: nothing stands out.\n")


def test_the_base_failing_everywhere(
    serve_metrics: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configs = [
        write_node(tmp_path, "gpu-a", serve_metrics("base-a.txt")),
        write_node(tmp_path, "gpu-b", serve_metrics("base-b.txt")),
    ]
    assert run(configs, "-f", "json") == 1
    assert json.loads(capsys.readouterr().out)["verdict"] == "base-specific"


def test_an_unreachable_node_is_evidence(
    serve_metrics: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configs = [
        write_node(tmp_path, "gpu-a", serve_metrics("healthy-a.txt")),
        write_node(tmp_path, "gpu-b", serve_metrics("healthy-b.txt")),
        write_node(tmp_path, "gpu-c", f"http://127.0.0.1:{closed_port()}/v1"),
    ]
    assert run(configs, "-f", "json") == 1
    document = json.loads(capsys.readouterr().out)
    assert document["findings"] == [
        {
            "verdict": "infrastructure",
            "subject": "gpu-c",
            "nodes": ["gpu-c"],
            "message": "node gpu-c cannot be read: unreachable: connection refused",
        }
    ]
    assert document["nodes"][2]["kind"] == "unreachable"


def test_a_node_that_does_not_answer_in_time(
    serve_metrics: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stuck = serve_metrics("healthy-a.txt", gate=threading.Event())
    configs = [write_node(tmp_path, "gpu-a", stuck)]
    assert run(configs, "--timeout", "0.2", "-f", "json") == 1
    [finding] = json.loads(capsys.readouterr().out)["findings"]
    assert finding["message"] == "node gpu-a cannot be read: no answer within 0.2 s"


def test_the_api_key_is_sent_and_vllm_metrics_are_read(
    serve_metrics: Serve,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NODE_KEY", "sekret")
    seen: list[str | None] = []
    endpoint = serve_metrics("vllm.txt", seen=seen)
    configs = [write_node(tmp_path, "gpu-a", endpoint, extra="api_key_env: NODE_KEY\n")]
    assert run(configs, "-f", "json") == 0  # 3.5% errors: under the 5% threshold
    document = json.loads(capsys.readouterr().out)
    assert seen == ["Bearer sekret"]
    [row] = document["revisions"]
    assert (row["name"], row["kind"], row["requests"], row["errors"]) == (
        "tiny-llama",
        "base",
        200,
        7,
    )
    assert document["nodes"][0]["kind"] == "vllm metrics"


def test_a_missing_node_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run([Path("nope.yaml")]) == 2
    assert capsys.readouterr().err == "adapterctl: error: --node-config nope.yaml: no such file\n"


def test_a_node_of_another_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_node(tmp_path, "gpu-a", "http://127.0.0.1:1/v1", env="staging")
    assert run([Path("gpu-a.yaml")]) == 2
    assert capsys.readouterr().err == (
        "adapterctl: error: gpu-a.yaml: node 'gpu-a' serves staging, not prod\n"
    )


def test_an_invalid_node_config_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_node(tmp_path, "gpu-a", "5")
    assert run([Path("gpu-a.yaml")]) == 1
    assert capsys.readouterr().err == (
        "adapterctl: error: gpu-a.yaml:3 $.endpoint: expected a string, got 5 "
        '(YAML reads it as a number: 5)\n  → quote the value: "5"\n'
    )


# --- against a running reference node -------------------------------------------------


def test_triage_counts_what_the_reference_node_served(
    example_node: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nodes = load_nodes([write_node(tmp_path, "ref", example_node)], "prod")

    def send(window: float) -> None:  # instead of waiting, make the traffic
        del window
        with OpenAI(base_url=example_node, api_key="unused", max_retries=0) as client:
            for model in ("support-bot@1.1.0", "support-bot@1.1.0", "sql-helper@1.0.0"):
                client.completions.create(model=model, prompt="Refund?", max_tokens=2)
            client.completions.create(model="tiny-llama", prompt="Hi", max_tokens=2)
            for _ in range(2):
                with pytest.raises(NotFoundError):
                    client.completions.create(model="nope@9.9.9", prompt="Hi", max_tokens=2)

    [window] = scrape.observe(nodes, timeout=60, window=60, wait=send)  # timeouts: safety nets
    result = triage([window])
    found = {row.name: (row.stats.requests, row.stats.errors) for row in result.revisions}
    assert {name: found.get(name) for name in found if found[name] != (0, 0)} == {
        "support-bot@1.1.0": (2, 0),
        "sql-helper@1.0.0": (1, 0),
        "tiny-llama": (1, 0),
        "unknown": (2, 2),  # the node pools names it does not serve, as errors
    }
    served = next(row for row in result.revisions if row.name == "support-bot@1.1.0")
    assert served.stats.latency is not None
    assert served.stats.latency.count == 2
    assert result.verdict is Verdict.NONE  # too few requests, and unknown is never judged

    [since_start] = scrape.scrape(nodes, timeout=60)
    assert run([tmp_path / "ref.yaml"], "-f", "json") in (0, 1)
    document = json.loads(capsys.readouterr().out)
    reported = {row["name"]: (row["requests"], row["errors"]) for row in document["revisions"]}
    assert reported == {
        name: (model.requests, model.errors) for name, model in since_start.models.items()
    }


# --- the gateway's per-revision series ------------------------------------------------

GATEWAY_LIMIT = (
    "gpu-a, gpu-b: vLLM counts adapter requests under the base's name, so the revisions' "
    "numbers come from the gateways' series and the base's are vLLM's less the revisions' "
    "requests the gateways had answered there (requests that bypass the gateways count as "
    "the base's, and vLLM's own errors stay with it)"
)
FROM_GATEWAY = (
    "support-bot@1.1.0 is elevated on every node that serves it (gpu-a, gpu-b): error rate "
    "33.3% (20 of 60), p95 0.679 s, against error rate 3.9% (14 of 360), p95 1.55 s for the "
    "base and other revisions there"
)


def recorded_gateway(env: str = "staging") -> GatewayScrape:
    cells, refused = parse_gateway((DATA / "gateway.txt").read_text(), env)
    return GatewayScrape("http://gw-a:8080/metrics", cells, refused)


def vllm_node(name: str) -> NodeScrape:
    source, models = parse((DATA / "vllm.txt").read_text())
    return NodeScrape(name, f"http://{name}:8000/metrics", "tiny-llama", models, None, source)


def test_the_gateway_exposition_is_read_per_node_and_revision() -> None:
    cells, refused = parse_gateway((DATA / "gateway.txt").read_text(), "staging")
    found = {cell: (c.requests, c.errors) for cell, c in cells.items()}
    assert found == {  # summed over the tenants acme and other
        ("gpu-a", "sql-helper@1.1.0"): (2, 0),
        ("gpu-a", "support-bot@1.0.0"): (30, 0),
        ("gpu-a", "support-bot@1.1.0"): (30, 10),
        ("gpu-b", "sql-helper@1.1.0"): (2, 0),
        ("gpu-b", "support-bot@1.0.0"): (29, 0),
        ("gpu-b", "support-bot@1.1.0"): (30, 10),
    }
    latency = cells[("gpu-a", "support-bot@1.1.0")].latency
    assert latency is not None
    assert latency.count == 20  # the gateway times the answered requests only
    assert latency.buckets[-1] == (float("inf"), 20.0)
    assert refused == 2  # an unknown model (404) and an unknown key (401)
    assert parse_gateway((DATA / "gateway.txt").read_text(), "prod") == ({}, 0.0)


def test_the_gateway_names_the_failing_revision_where_vllm_cannot() -> None:
    nodes = [vllm_node("gpu-a"), vllm_node("gpu-b")]
    alone = triage(nodes)
    assert alone.verdict is Verdict.NONE
    assert [row.name for row in alone.revisions] == ["tiny-llama"]

    result = triage(nodes, gateways=[recorded_gateway()])
    assert result.verdict is Verdict.ADAPTER
    [finding] = result.findings
    assert (finding.subject, finding.nodes) == ("support-bot@1.1.0", ("gpu-a", "gpu-b"))
    assert finding.message == FROM_GATEWAY
    rows = {row.name: (row.stats.requests, row.stats.errors) for row in result.revisions}
    assert rows == {
        "sql-helper@1.1.0": (4, 0),
        "support-bot@1.0.0": (59, 0),
        "support-bot@1.1.0": (60, 20),
        "tiny-llama": (297, 14),  # 2 x 200 under model_name, less 52 + 51 answered revisions
    }
    assert [row.kind for row in result.nodes] == ["vllm+gateway metrics"] * 2
    assert result.limits == [GATEWAY_LIMIT]
    [gateway] = result.gateways
    assert (gateway.name, gateway.kind, gateway.nodes) == (
        "http://gw-a:8080/metrics",
        "gateway",
        ("gpu-a", "gpu-b"),
    )
    assert (gateway.stats.requests, gateway.stats.errors) == (123, 20)
    assert gateway.note == "2 refused by the gateway itself (no revision chosen)"


def test_a_vllm_base_keeps_only_its_own_traffic() -> None:
    base = counts(100, 3, latency_s=0.8)  # 60 of its own and 40 revision requests, vLLM says
    node_a = NodeScrape("a", "http://a/metrics", "tiny-llama", {"tiny-llama": base}, None, "vllm")
    answered = counts(40, 0, latency_s=0.2).latency  # the gateway times the answered ones
    revision = ModelCounts(50, 10, answered)  # 10 failed before vLLM counted them
    cells = {("a", "support-bot@1.1.0"): revision}
    [combined] = gateway_scrape.combine([node_a], [GatewayScrape("http://gw/metrics", cells)])
    own = combined.models["tiny-llama"]
    assert (own.requests, own.errors) == (60, 3)
    assert own.latency is not None
    assert own.latency.count == 60
    assert own.latency.buckets == ((0.1, 0.0), (0.5, 0.0), (1.0, 60.0), (5.0, 60.0),
                                   (10.0, 60.0), (float("inf"), 60.0))  # fmt: skip
    assert combined.models["support-bot@1.1.0"] is revision
    assert combined.source == "vllm+gateway"


def test_a_latency_less_a_part_stays_cumulative_at_the_shared_bounds() -> None:
    whole = Latency(((0.3, 20.0), (0.5, 90.0), (0.8, 150.0), (float("inf"), 200.0)), 130.0, 200)
    part = Latency(((0.25, 40.0), (0.5, 45.0), (float("inf"), 50.0)), 10.0, 50)
    assert whole.without(part) == Latency(((0.5, 45.0), (float("inf"), 150.0)), None, 150)
    assert whole.without(part).mean_s is None  # the sums were taken at different places
    assert whole.without(whole).buckets == ((0.3, 0.0), (0.5, 0.0), (0.8, 0.0),
                                            (float("inf"), 0.0))  # fmt: skip
    assert part.without(whole).count == 0  # never below zero


def test_the_gateway_stands_in_for_a_reference_nodes_revision_counts() -> None:
    models = {
        "tiny-llama": counts(200, 1),
        "support-bot@1.1.0": counts(20, 0),  # what reached the node
        "unknown": counts(4, 4),
    }
    node_a = NodeScrape("a", "http://a/metrics", "tiny-llama", models, None, "adapterctl")
    cells = {("a", "support-bot@1.1.0"): counts(30, 10), ("a", "support-bot@1.0.0"): counts(40, 0)}
    result = triage([node_a], gateways=[GatewayScrape("http://gw/metrics", cells)])
    rows = {row.name: (row.stats.requests, row.stats.errors) for row in result.revisions}
    assert rows == {
        "support-bot@1.0.0": (40, 0),
        "support-bot@1.1.0": (30, 10),
        "tiny-llama": (200, 1),  # the reference node counts the base's own requests
        "unknown": (4, 4),
    }
    assert [f.subject for f in result.findings] == ["support-bot@1.1.0"]
    assert result.limits == []


def test_series_for_nodes_no_configuration_names_are_left_out() -> None:
    result = triage([vllm_node("gpu-x")], gateways=[recorded_gateway()])
    assert result.verdict is Verdict.NONE
    assert result.limits[1] == (
        "the gateways' series name gpu-a, gpu-b, which no --node-config names: their 123 "
        "requests are not judged (a gateway must call its nodes by the names of their node "
        "configurations)"
    )


def test_gateways_are_summed_and_an_unreadable_one_is_infrastructure() -> None:
    down_gateway = GatewayScrape("http://gw-b:8080/metrics", problem="HTTP 503 Service Unavailable")
    nodes = [vllm_node("gpu-a"), vllm_node("gpu-b")]
    result = triage(nodes, gateways=[recorded_gateway(), recorded_gateway(), down_gateway])
    assert result.findings[0].message == (
        "gateway http://gw-b:8080/metrics cannot be read: HTTP 503 Service Unavailable"
    )
    assert [f.verdict for f in result.findings] == [Verdict.INFRASTRUCTURE, Verdict.ADAPTER]
    row = next(r for r in result.revisions if r.name == "support-bot@1.1.0")
    assert (row.stats.requests, row.stats.errors) == (120, 40)
    assert [(r.kind, r.note) for r in result.gateways][2] == (
        "unreachable",
        "HTTP 503 Service Unavailable",
    )


@pytest.mark.parametrize(
    "given",
    ["http://gw-a:8080", "http://gw-a:8080/", "http://gw-a:8080/metrics", "http://gw-a:8080/v1"],
)
def test_a_gateway_is_given_by_its_root_or_metrics_url(given: str) -> None:
    assert gateway_url(given) == "http://gw-a:8080/metrics"


def staging(configs: list[Path], *options: str) -> int:
    args = ["triage", "--env", "staging", "--timeout", "60"]
    for config in configs:
        args += ["--node-config", str(config)]
    return main([*args, *options])


def test_triage_reads_the_gateways_given(
    serve_metrics: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configs = [
        write_node(tmp_path, name, serve_metrics("vllm.txt"), env="staging")
        for name in ("gpu-a", "gpu-b")
    ]
    gateway = serve_metrics("gateway.txt").removesuffix("/v1")
    assert staging(configs) == 0  # vLLM alone cannot tell the revisions apart
    capsys.readouterr()
    assert staging(configs, "--gateway", gateway) == 1
    out = capsys.readouterr().out
    assert "staging: per gateway" in out
    assert out.endswith(
        f"limit: {GATEWAY_LIMIT}\n"
        "verdict: adapter-specific: the evidence points at an adapter revision: roll it back "
        "or drain its route; the base and the nodes look normal.\n"
        f"  - adapter-specific: {FROM_GATEWAY}\n"
    )
    assert staging(configs, "--gateway", f"{gateway}/metrics", "-f", "json") == 1
    document = json.loads(capsys.readouterr().out)
    assert [f["subject"] for f in document["findings"]] == ["support-bot@1.1.0"]
    [row] = document["gateways"]
    assert (row["name"], row["kind"], row["requests"]) == (f"{gateway}/metrics", "gateway", 123)


def test_a_gateway_of_another_environment_and_an_unreachable_one(
    serve_metrics: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configs = [
        write_node(tmp_path, "gpu-a", serve_metrics("healthy-a.txt")),
        write_node(tmp_path, "gpu-b", serve_metrics("healthy-b.txt")),
    ]
    staging_only = serve_metrics("gateway.txt").removesuffix("/v1")
    assert run(configs, "--gateway", staging_only, "-f", "json") == 0
    [row] = json.loads(capsys.readouterr().out)["gateways"]
    assert (row["requests"], row["note"]) == (0, "no requests recorded")
    down_url = f"http://127.0.0.1:{closed_port()}"
    assert run(configs, "--gateway", staging_only, "--gateway", down_url, "-f", "json") == 1
    document = json.loads(capsys.readouterr().out)
    assert document["findings"] == [
        {
            "verdict": "infrastructure",
            "subject": f"{down_url}/metrics",
            "nodes": [],
            "message": f"gateway {down_url}/metrics cannot be read: "
            "unreachable: connection refused",
        }
    ]
    assert run(configs, "--gateway", down_url) == 1
    assert capsys.readouterr().out.endswith(
        "verdict: infrastructure: the evidence points at infrastructure: gateways or nodes that "
        "cannot be read, or nodes that fail across all their models where the others are "
        f"normal.\n  - infrastructure: gateway {down_url}/metrics cannot be read: unreachable: "
        "connection refused\n"
    )


# --- a real gateway in front of the reference node, one revision made to fail --------


def gateway_requests(url: str) -> float:
    found = gateway_scrape.fetch_gateway(url, "staging", timeout=60)
    assert found.problem is None, found.problem
    return sum(counts.requests for counts in found.cells.values())


def test_triage_names_the_revision_the_gateway_saw_fail(example_node: str, tmp_path: Path) -> None:
    reg = Registry(tmp_path / "registry")
    reg.staging_routes(
        "  support-bot:\n    - {version: 1.0.0, weight: 50}\n    - {version: 1.1.0, weight: 50}\n"
    )
    gateway = Gateway(tmp_path / "gateway", reg)
    config = write_node(tmp_path, "node-a", example_node, env="staging")
    nodes = load_nodes([config], "staging")
    with regressing(example_node.removesuffix("/v1")) as (proxy, regression):
        regression.fail_every["support-bot@1.1.0"] = 3  # failed before the node sees them
        start(gateway, {"node-a": f"{proxy}/v1"})
        try:

            def one(model: str) -> None:
                with contextlib.suppress(openai.InternalServerError):
                    ask(gateway, model)

            def send(window: float) -> None:  # instead of waiting, make the traffic
                del window
                with ThreadPoolExecutor(8) as pool:
                    list(pool.map(one, ["support-bot@1.1.0", "support-bot@1.0.0"] * 30))
                with OpenAI(base_url=example_node, api_key="unused", max_retries=0) as client:
                    for _ in range(5):
                        client.completions.create(model="tiny-llama", prompt="Hi", max_tokens=1)
                deadline = time.monotonic() + 30  # the gateway counts once the answer is sent
                while gateway_requests(gateway.url) < 60:
                    assert time.monotonic() < deadline, gateway.output()
                    time.sleep(0.05)  # polling the gateway's counters

            scrapes, gateways = gateway_scrape.observe(
                nodes, [gateway.url], "staging", timeout=60, window=60, wait=send
            )  # timeouts: safety nets
        finally:
            assert gateway.stop() == 0, gateway.output()

    alone = triage(scrapes)  # the node answered every request it saw
    assert alone.verdict is Verdict.NONE
    seen = next(row for row in alone.revisions if row.name == "support-bot@1.1.0")
    assert (seen.stats.requests, seen.stats.errors) == (20, 0)

    result = triage(scrapes, gateways=gateways)
    assert result.verdict is Verdict.ADAPTER
    [finding] = result.findings
    assert (finding.subject, finding.nodes) == ("support-bot@1.1.0", ("node-a",))
    assert finding.message.startswith(
        "support-bot@1.1.0 is elevated on every node that serves it (node-a): "
        "error rate 33.3% (10 of 30), p95 "
    )
    rows = {row.name: (row.stats.requests, row.stats.errors) for row in result.revisions}
    assert rows == {"support-bot@1.0.0": (30, 0), "support-bot@1.1.0": (30, 10),
                    "tiny-llama": (5, 0)}  # fmt: skip
    assert [row.kind for row in result.nodes] == ["adapterctl+gateway metrics"]
