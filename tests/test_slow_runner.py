"""A slow runner: the latency verdicts of the golden and the pressure gate do not depend on
how fast the node is, and a candidate that is slower than its baseline is refused anyway.

A delaying proxy sits in front of the reference node serving the example registry. Delaying
every generation request by the same amount slows the candidate and its baseline alike, as
on a slower GPU class or a busy shared runner: the verdicts equal those at full speed.
Delaying only the candidate's requests, by twice as long as the node took plus a second
(3× and 1 s more, whatever the machine's speed), is a regression over the 1.5× limits
users care about: refused for latency at full speed and slowed.

No assertion depends on how fast the machine running the tests is: the refusal comes from
the proportional delay, and the only times checked are the lower bounds the proxy's sleeps
guarantee.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from adapterctl.cli.app import main
from tests.conftest import _guarded_connect, copy_registry
from tests.forwarding import Forwarding, serving

NEW, OLD = "support-bot@1.1.0", "support-bot@1.0.0"
"""The candidate, and its baseline (staging serves 1.1.0, so it is named: --baseline)."""
EVERY_MS = 400.0
"""Added to every generation request: a slower node, for the candidate and baseline alike."""
SLOW_FACTOR = 3.0
EXTRA_S = 1.0
"""The slow candidate takes ``SLOW_FACTOR`` × what it took on the (slowed) node, plus
``EXTRA_S``: twice the 1.5× limits, so that the refusal does not hang on noise. (At 2× the
node's time alone, the unpaired Mann-Whitney U test over 18 and 18 requests came to
p ≈ 0.002 on a busy runner, near the 0.01 it must beat: latencies spread widely across
cases, and a candidate held in the proxy leaves the node less busy for its own requests.)"""
PROFILE = "environments/staging/pressure/slow-runner.yaml"
# The staging profile's limits (steady-mix.yaml), on a shorter schedule.
SLOW_RUNNER = """\
# yaml-language-server: $schema=../../../schemas/pressure-profile.schema.json
name: slow-runner
description: steady-mix's limits on a short schedule, for the slow-runner tests.
seed: 20261120
requests: 24
arrival:
  rate_per_s: 16
  bursts: [{at_s: 0.5, requests: 4}]
concurrency: 8
prompt_tokens: [{tokens: 8, weight: 3}, {tokens: 32, weight: 2}]
output_tokens: [{tokens: 8, weight: 2}, {tokens: 16}]
mix: [{target: candidate, weight: 3}, {target: sql-helper}, {target: base}]
budgets:
  hardware_class: gpu-l40s
  p95_ms: 1500
  p99_ms: 3000
  ttft_p95_ms: 400
  max_error_rate: 0.0
  min_throughput_rps: 8
vs_baseline:
  max_ratio: {p95: 1.5, ttft_p95: 1.5}
  min_latency_delta_ms: 250
  min_throughput_ratio: 0.7
"""
_TEST = "Wilcoxon signed-rank"  # the requests pair up: same case and repeat, same schedule
"""The rank test a ratio finding names: unpaired, or paired by request."""
GENERATION = ("/v1/completions", "/v1/chat/completions")


# --- the delaying proxy -----------------------------------------------------------------


@dataclass
class Delays:
    """What the proxy delays, and what it saw."""

    every_ms: float = 0.0
    """Slept before forwarding each generation request."""
    slow_model: str | None = None
    """Served name whose answers are held until ``SLOW_FACTOR`` × the time so far (the
    ``every_ms`` delay and the node's answer), plus ``EXTRA_S``, has passed."""
    seen: Counter[str] = field(default_factory=Counter)
    """Generation requests forwarded, by the model they asked for."""
    lock: threading.Lock = field(default_factory=threading.Lock)


class _DelayingProxy(Forwarding):
    delays: Delays

    def _handle(self) -> None:
        body = self._body()
        generation = self.command == "POST" and self.path.split("?")[0] in GENERATION
        model = _model(body) if generation else None
        started = time.perf_counter()
        if generation:
            with self.delays.lock:
                self.delays.seen[str(model)] += 1
            time.sleep(self.delays.every_ms / 1000)
        answer = self._forward(body)
        if generation and model == self.delays.slow_model:
            # Relative to what it took on this node, slowed or not: the slow runner's
            # delay is part of what a slower candidate takes longer on.
            time.sleep((SLOW_FACTOR - 1) * (time.perf_counter() - started) + EXTRA_S)
        # A streamed answer's events arrive together: time to first token ≈ latency.
        self._answer(*answer)


def _model(body: bytes | None) -> str | None:
    try:
        model = json.loads(body or b"{}").get("model")
    except (ValueError, AttributeError):
        return None
    return model if isinstance(model, str) else None


@contextlib.contextmanager
def delaying_proxy(node: str, delays: Delays) -> Iterator[str]:
    """A proxy in front of ``node`` (its ``/v1`` URL) that applies ``delays``; yields the
    proxy's ``/v1`` URL."""
    upstream = node.removesuffix("/v1")
    handler = type("DelayingProxy", (_DelayingProxy,), {"upstream": upstream, "delays": delays})
    with serving(handler) as url:
        yield f"{url}/v1"


# --- running the gates ------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One gate run: its exit code, its JSON report and its evidence file."""

    code: int
    findings: list[dict[str, Any]]
    evidence: dict[str, Any]

    @property
    def verdict(self) -> tuple[int, set[str]]:
        """The exit code, and the rule of every error: what decides. A warning is left out:
        the gates warn of a ratio over its limit that is not significant in the run, which
        noise from other work on the machine can give at full speed (seen with two test
        workers) and is no verdict."""
        return self.code, {f["rule"] for f in self.findings if f["severity"] == "error"}

    def errors(self, rule: str) -> list[dict[str, Any]]:
        return [f for f in self.findings if f["rule"] == rule and f["severity"] == "error"]

    def latencies(self, revision: str) -> list[float]:
        """The latencies (ms) of ``revision``'s requests to the line under test."""
        if "results" in self.evidence:  # golden
            return [r["answer"]["latency_ms"] for r in self.evidence["results"]
                    if r["revision"] == revision]  # fmt: skip
        return [s["latency_ms"] for s in self.evidence["samples"]
                if s["revision"] == revision and s["target"] == "candidate"]  # fmt: skip


def _registry(tmp: Path) -> Path:
    root = copy_registry(tmp / "registry")
    (root / PROFILE).write_text(SLOW_RUNNER)
    return root


def _gate(gate: str, tmp: Path, endpoint: str) -> Run:
    """``adapterctl eval`` or ``pressure`` of NEW against OLD in staging, on a cpu-ci node."""
    root = _registry(tmp)
    report = tmp / "report.json"
    args = ["eval"] if gate == "golden" else ["pressure", "--profile", "slow-runner"]
    code = main([
        *args, NEW, "--env", "staging", "--baseline", OLD.split("@")[1], "--endpoint", endpoint,
        "--hardware-class", "cpu-ci", "--root", str(root), "--format", "json",
        "--output", str(report),
    ])  # fmt: skip
    findings: list[dict[str, Any]] = json.loads(report.read_text())["findings"]
    evidence = json.loads((root / f"reports/{gate}/{NEW}.json").read_text())
    assert (evidence["candidate"], evidence["baseline"]) == (NEW, OLD)
    return Run(code, findings, evidence)


def _through_proxy(gate: str, tmp: Path, node: str, delays: Delays) -> Run:
    with delaying_proxy(node, delays) as url:
        run = _gate(gate, tmp, url)
    assert min(delays.seen[NEW], delays.seen[OLD]) > 0, delays.seen
    floor = SLOW_FACTOR * delays.every_ms + EXTRA_S * 1000
    for revision in (NEW, OLD):  # the sleeps happened, on every request (a lower bound only)
        least = floor if revision == delays.slow_model else delays.every_ms
        assert min(run.latencies(revision)) >= least, revision
    return run


@pytest.fixture(scope="module")
def full_speed(example_node: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Both gates straight against the node, run once for the module."""
    with pytest.MonkeyPatch.context() as patch:  # the autouse fixtures, for this scope
        patch.setattr(socket.socket, "connect", _guarded_connect)
        cache = tmp_path_factory.mktemp("cache")
        patch.setenv("XDG_CACHE_HOME", str(cache))
        patch.setenv("ADAPTERCTL_CACHE_DIR", str(cache / "adapterctl"))
        patch.delenv("ADAPTERCTL_STORE", raising=False)
        return {
            gate: _gate(gate, tmp_path_factory.mktemp(f"full-{gate}"), example_node)
            for gate in ("golden", "pressure")
        }


def _line_of(root: Path, path: str, text: str) -> int:
    lines = (root / path).read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.strip().startswith(text))


# --- the tests --------------------------------------------------------------------------


@pytest.mark.parametrize("gate", ["golden", "pressure"])
def test_slowing_every_request_alike_keeps_the_verdict(
    gate: str, full_speed: dict[str, Run], example_node: str, tmp_path: Path
) -> None:
    fast = full_speed[gate]
    assert fast.verdict == (0, set()), fast.findings
    slow = _through_proxy(gate, tmp_path, example_node, Delays(every_ms=EVERY_MS))
    assert slow.verdict == fast.verdict, slow.findings


@pytest.mark.parametrize("every_ms", [0.0, EVERY_MS], ids=["full-speed", "slowed"])
def test_a_slower_candidate_is_refused_by_the_golden_gate(
    every_ms: float, example_node: str, tmp_path: Path
) -> None:
    delays = Delays(every_ms=every_ms, slow_model=NEW)
    run = _through_proxy("golden", tmp_path, example_node, delays)
    assert run.code == 1, run.findings
    (error,) = run.errors("golden/latency")
    line = _line_of(tmp_path / "registry", "adapters/support-bot/adapter.yaml", "max_ratio:")
    assert (error["file"], error["line"], error["path"]) == (
        "adapters/support-bot/adapter.yaml", line, "$.gates.latency.max_ratio"
    )  # fmt: skip
    message = error["message"]
    assert message.startswith(f"p95 latency of {NEW} is "), message
    assert re.search(rf"\(at most 1\.5×, or 100 ms more\): {_TEST} test p = ", message), message
    # Only latency: the answers are the same, just later.
    assert {f["rule"] for f in run.findings if f["severity"] == "error"} == {"golden/latency"}


@pytest.mark.parametrize("every_ms", [0.0, EVERY_MS], ids=["full-speed", "slowed"])
def test_a_slower_candidate_is_refused_by_the_pressure_gate(
    every_ms: float, example_node: str, tmp_path: Path
) -> None:
    delays = Delays(every_ms=every_ms, slow_model=NEW)
    run = _through_proxy("pressure", tmp_path, example_node, delays)
    assert run.code == 1, run.findings
    errors = run.errors("pressure/ratio")
    latency = [f for f in errors if f["path"].startswith("$.vs_baseline.max_ratio.")]
    assert sorted((f["file"], f["path"]) for f in latency) == [
        (PROFILE, "$.vs_baseline.max_ratio.p95"),
        (PROFILE, "$.vs_baseline.max_ratio.ttft_p95"),
    ], run.findings
    for error in latency:
        message = error["message"]
        assert message.startswith(("p95 latency of ", "p95 time to first token of ")), message
        assert f" of {NEW} is " in message, message
        assert re.search(rf"\(at most 1\.5×, or 250 ms more\): {_TEST} test p = ", message), message
    # Besides latency, only the throughput ratio may fail: with its slots held longer, the
    # candidate's rounds may also serve fewer requests per second than the baseline's.
    others = {f["path"] for f in errors} - {f["path"] for f in latency}
    assert others <= {"$.vs_baseline.min_throughput_ratio"}, run.findings
    assert {f["rule"] for f in run.findings if f["severity"] == "error"} == {"pressure/ratio"}
