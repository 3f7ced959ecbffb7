"""``canary analyze`` on a real gateway's metrics: real traffic through ``adapterctl gateway``
to the reference node, a proxy that makes the canary regress on demand, read by a direct
scrape and by a real Prometheus."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest

from adapterctl.canary import analysis
from adapterctl.canary.judge import Pair, Phase
from adapterctl.canary.sources import Scrape
from adapterctl.findings import Severity
from tests.conftest import REPO
from tests.gatewayproc import STAGING, Gateway, Registry, ask, start
from tests.prometheusproc import Prometheus, prometheus, require_prometheus
from tests.regressing import Regression, regressing
from tests.synccheckout import cli

CANARY = "  support-bot:\n    - {version: 1.0.0, weight: 50}\n    - {version: 1.1.0, weight: 50}\n"
ANALYSIS = "analysis: {interval: 1s, count: 1, min_requests: 20}\n"


STABLE = "  support-bot:\n    - {version: 1.0.0, weight: 100}\n"


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    registry = Registry(tmp_path / "registry")
    registry.staging_routes(STABLE, "Analyse staging's canaries", ANALYSIS)
    registry.staging_routes(CANARY, "Canary support-bot 1.1.0 at 50 %", ANALYSIS)
    return registry


@pytest.fixture
def served(
    example_node: str, tmp_path: Path, reg: Registry
) -> Iterator[tuple[Gateway, Regression]]:
    """A gateway in front of the reference node, through the regressing proxy."""
    gateway = Gateway(tmp_path / "gateway", reg)
    with regressing(example_node.removesuffix("/v1")) as (proxy, regression):
        start(gateway, {"node-a": f"{proxy}/v1"})
        yield gateway, regression
        assert gateway.stop() == 0, gateway.output()


def send(gateway: Gateway, count: int) -> Callable[[float], None]:
    """A window's traffic: ``count`` requests from distinct users, 8 in flight (the
    analysis calls it where it would wait for the window to pass)."""

    def one(n: int) -> None:
        with contextlib.suppress(openai.InternalServerError):  # an injected 500 is traffic too
            ask(gateway, user=f"user-{n}")

    def window(seconds: float) -> None:
        del seconds
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, range(count)))

    return window


def scraped(gateway: Gateway, reg: Registry, count: int) -> analysis.Result:
    subject = analysis.target(reg.root, "staging", "support-bot")
    return analysis.from_scrape(subject, Scrape((f"{gateway.url}/metrics",)), send(gateway, count))


def errors(result: analysis.Result) -> list[str]:
    return [f.rule for f in result.findings if f.severity is Severity.ERROR]


def test_a_healthy_canary_is_successful(served: tuple[Gateway, Regression], reg: Registry) -> None:
    gateway, _ = served
    result = scraped(gateway, reg, 120)
    assert result.target.pair == Pair("support-bot@1.1.0", "support-bot@1.0.0", "support-bot")
    assert (result.phase, errors(result)) == (Phase.SUCCESSFUL, []), result.findings
    measured = result.measurements[0]
    assert measured.canary.total + measured.stable.total == 120
    assert min(measured.canary.total, measured.stable.total) >= 20


def test_a_canary_that_fails_requests_is_failed(
    served: tuple[Gateway, Regression], reg: Registry
) -> None:
    gateway, regression = served
    regression.fail_every["support-bot@1.1.0"] = 3
    result = scraped(gateway, reg, 120)
    assert (result.phase, errors(result)) == (Phase.FAILED, ["canary/error-rate"])
    measured = result.measurements[0]
    assert measured.canary.errors == regression.seen["support-bot@1.1.0"] // 3
    assert measured.stable.errors == 0


def test_a_slower_canary_is_failed(served: tuple[Gateway, Regression], reg: Registry) -> None:
    gateway, regression = served
    regression.delay_s["support-bot@1.1.0"] = 0.3
    result = scraped(gateway, reg, 120)
    assert result.phase is Phase.FAILED
    assert "canary/latency-p95" in errors(result)


def test_no_traffic_is_inconclusive(
    served: tuple[Gateway, Regression], reg: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway, _ = served
    code, out, err = cli(capsys, "canary", "analyze", "support-bot", "--env", "staging",
                         "--scrape", f"{gateway.url}/metrics", "--root", reg.root)  # fmt: skip
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert lines[:2] == [
        "canary analysis of support-bot in staging: support-bot@1.1.0 (canary) against "
        "support-bot@1.0.0 (stable)",
        f"from a scrape of 1 gateway, 1 window of 1s; settings: {STAGING}:10 $.analysis",
    ]
    assert lines[-1] == (
        "? Inconclusive: 1 of 1 window inconclusive (failure_limit 0, inconclusive_limit 0)"
    )
    window = next(line for line in lines if line.startswith("  window 1 of 1 ("))
    assert window.endswith(
        "UTC): support-bot@1.1.0 answered 0 requests, fewer than analysis.min_requests 20: "
        "the window is inconclusive"
    )


REPLAY = """# yaml-language-server: $schema=../../../schemas/pressure-profile.schema.json
name: canary-traffic
description: Callers of the alias, each a new one, through the gateway.
seed: 7
requests: 60
arrival: {rate_per_s: 200}
concurrency: 8
prompt_tokens: [{tokens: 8, weight: 1}]
output_tokens: [{tokens: 4, weight: 1}]
budgets: {max_error_rate: 0.0}
"""


def test_pressure_replays_an_alias_through_the_gateway_by_its_weights(
    served: tuple[Gateway, Regression], reg: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway, regression = served
    profile = reg.root / "environments/staging/pressure/canary-traffic.yaml"
    profile.write_text(REPLAY)
    code, out, _ = cli(capsys, "pressure", "support-bot", "--env", "staging", "--endpoint",
                       f"{gateway.url}/v1", "--profile", "canary-traffic", "--root", reg.root)  # fmt: skip
    assert (code, out.splitlines()[-1]) == (0, "✓ pressure: 1 file, no problems"), out
    assert "requests to the revision: support-bot 60 (0 failed)" in out
    answered = {
        version: gateway.metric("adapterctl_gateway_requests_total", alias="support-bot",
                                version=version, code="2xx")
        for version in ("1.0.0", "1.1.0")
    }  # fmt: skip
    # one warm-up request, then 60 callers, each placed by the hash of its own name
    assert sum(answered.values()) == 61
    assert min(answered.values()) >= 15, answered
    proxied = {model: n for model, n in regression.seen.items() if model}  # not health checks
    assert proxied == {f"support-bot@{v}": n for v, n in answered.items()}


def test_pressure_against_an_alias_has_no_baseline(
    reg: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    (reg.root / "environments/staging/pressure/canary-traffic.yaml").write_text(REPLAY)
    code, out, err = cli(capsys, "pressure", "support-bot", "--env", "staging", "--endpoint",
                         "http://127.0.0.1:9/v1", "--profile", "canary-traffic", "--baseline",
                         "1.0.0", "--root", reg.root)  # fmt: skip
    assert (code, out) == (2, "")
    assert err == (
        "adapterctl: error: --baseline 1.0.0: a replay against the alias support-bot has no "
        "baseline (the gateway splits it); give NAME@VERSION to compare two revisions\n"
    )
    code, out, err = cli(capsys, "pressure", "billing-bot", "--env", "staging", "--endpoint",
                         "http://127.0.0.1:9/v1", "--profile", "canary-traffic", "--root",
                         reg.root)  # fmt: skip
    assert (code, err) == (2, "adapterctl: error: billing-bot is not routed in staging\n"
                              "  → name an alias the environment routes, or a revision as "
                              "NAME@VERSION\n")  # fmt: skip


# --- Prometheus ---------------------------------------------------------------------------


def test_from_prometheus(
    served: tuple[Gateway, Regression], reg: Registry, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    require_prometheus()
    gateway, regression = served
    regression.fail_every["support-bot@1.1.0"] = 3
    with prometheus(tmp_path / "prometheus", [gateway.url.removeprefix("http://")]) as server:
        # no warm-up: the gateway exports every routed revision's counters at 0 from the
        # start, so increase() counts the canary's first errors too
        start_at = server.wait_scrape()
        send(gateway, 120)(0)
        end_at = server.wait_scrape()
        seconds = int(end_at - start_at) + 2
        reg.staging_routes(CANARY, "Analysis window", f"analysis: {{interval: {seconds}s, "
                           "count: 1, min_requests: 20}\n")  # fmt: skip
        code, out, err = cli(capsys, "canary", "analyze", "support-bot", "--env", "staging",
                             "--prometheus", server.url, "--at", _iso(end_at + 0.5),
                             "--root", reg.root, "--format", "json")  # fmt: skip
    assert (code, err) == (1, "")
    document = json.loads(out)
    assert (document["phase"], document["source"]) == ("Failed", f"Prometheus at {server.url}")
    rules = [f["rule"] for f in document["measurements"][0]["findings"] if f["severity"] == "error"]
    assert rules == ["canary/error-rate"]
    assert document["queries"][0] == (
        f'sum by (version, code) (increase(adapterctl_gateway_requests_total{{env="staging", '
        f'alias="support-bot", version=~"1\\\\.0\\\\.0|1\\\\.1\\\\.0"}}[{seconds}s]))'
    )


def window_of(gateway: Gateway, server: Prometheus, reg: Registry, count: int) -> None:
    """``count`` requests that Prometheus has scraped, and staging's analysis interval set
    to the seconds from just before them to now (one window, the last, covers them)."""
    started = server.wait_scrape()
    send(gateway, count)(0)
    seconds = int(server.wait_scrape() - started) + 3
    reg.staging_routes(STABLE, "Analysis window", f"analysis: {{interval: {seconds}s, count: 1, "
                       "min_requests: 20}\n")  # fmt: skip
    reg.staging_routes(CANARY, "Canary support-bot 1.1.0 at 50 %", f"analysis: {{interval: "
                       f"{seconds}s, count: 1, min_requests: 20}}\n")  # fmt: skip


STORE = ("--store", (REPO / "examples/store").as_uri())


def test_promote_grows_a_canary_only_after_its_analysis(
    served: tuple[Gateway, Regression], reg: Registry, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    require_prometheus()
    gateway, regression = served
    promote = ("promote", "support-bot@1.1.0", "--env", "staging", "--root", reg.root, *STORE)
    code, _, err = cli(capsys, *promote, "--weight", "75")
    assert (code, err) == (2, "adapterctl: error: support-bot@1.1.0 is a canary in staging, "
                              "which analyses canaries before they grow: give --prometheus URL "
                              "(or ADAPTERCTL_PROMETHEUS_URL), or --scrape URL for each "
                              "gateway\n")  # fmt: skip
    with prometheus(tmp_path / "prometheus", [gateway.url.removeprefix("http://")]) as server:
        send(gateway, 4)(0)  # every series exists before the window
        window_of(gateway, server, reg, 120)
        code, out, err = cli(capsys, *promote, "--weight", "75", "--prometheus", server.url)
        assert code == 0, out + err
        assert "### Canary analysis\n\n**Canary analysis: Successful** — 0 of 1 window " in out
        branch = "promote/staging/support-bot-1.1.0"
        trailer = reg.git("log", "-1", "--format=%(trailers:key=Canary-Analysis)", branch)
        assert trailer == (
            "Canary-Analysis: Successful: 0 of 1 window failed, 0 inconclusive (failure_limit 0, "
            f"inconclusive_limit 0) (Prometheus at {server.url})"
        )
        reg.git("merge", "-q", "--no-ff", "-m", "Merge the canary's growth", branch)
        code, out, _ = cli(capsys, "history", "--env", "staging", "--root", reg.root)
        assert "    canary analysis: Successful: 0 of 1 window failed" in out

        regression.fail_every["support-bot@1.1.0"] = 3
        window_of(gateway, server, reg, 120)
        code, out, err = cli(capsys, *promote, "--finish", "--prometheus", server.url)
    assert code == 1
    rollback = "rollback/staging/support-bot-1.0.0"
    assert err.splitlines()[-1] == (
        "adapterctl: error: not promoted: the canary analysis of support-bot@1.1.0 in staging "
        f"failed; the rollback is on branch {rollback}: merge it to take the canary out of "
        "traffic"
    )
    assert "**Canary analysis: Failed** — 1 of 1 window failed" in out
    assert "`canary/error-rate` error: window 1 of 1" in out
    assert reg.git("show", f"{rollback}:{STAGING}").count("weight: 100") == 1
    message = reg.git("log", "-1", "--format=%B", rollback)
    assert message.splitlines()[-1].startswith("Canary-Analysis: Failed: 1 of 1 window failed")


def _iso(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + "+00:00"


def test_prometheus_unreachable_never_passes(
    reg: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.test_gateway import closed_port  # noqa: PLC0415

    url = closed_port().removesuffix("/v1")
    code, out, err = cli(capsys, "canary", "analyze", "support-bot", "--env", "staging",
                         "--prometheus", url, "--root", reg.root)  # fmt: skip
    assert (code, out) == (1, "")
    assert (
        err
        == f"adapterctl: error: Prometheus at {url} is unreachable: [Errno 111] Connection refused\n"
    )


def test_an_alias_without_a_canary(reg: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    reg.staging_routes("  support-bot:\n    - {version: 1.1.0, weight: 100}\n")
    code, _, err = cli(capsys, "canary", "analyze", "support-bot", "--env", "staging",
                       "--prometheus", "http://127.0.0.1:9", "--root", reg.root)  # fmt: skip
    assert (code, err) == (
        2,
        "adapterctl: error: support-bot has no canary in staging: 1.1.0 serves 100 %\n",
    )
