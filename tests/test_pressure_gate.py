"""The pressure gate's rules on hand-made statistics: exact messages and locations."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapterctl.findings import Finding, Severity
from adapterctl.gates.pressure import Comparison, check
from adapterctl.model import PressureProfile
from adapterctl.pressure.stats import Percentiles, RevisionStats, Summary
from adapterctl.registry import Registry

PATH = "environments/staging/pressure/gate.yaml"
PROFILE = """\
# yaml-language-server: $schema=../../../schemas/pressure-profile.schema.json
name: gate
description: Hand-made numbers.
seed: 1
requests: 10
arrival: {rate_per_s: 10}
prompt_tokens: [{tokens: 4}]
output_tokens: [{tokens: 4}]
budgets:
  p95_ms: 500
  ttft_p95_ms: 100
  max_error_rate: 0.05
  min_throughput_rps: 5
vs_baseline:
  max_ratio: {p95: 1.3, ttft_p95: 1.3}
  min_throughput_ratio: 0.8
"""
NEW, OLD = "support-bot@1.2.0", "support-bot@1.1.0"


def summary(
    *, requests: int = 10, errors: int = 0, wall_s: float = 4.0, p95: float | None = 100.0,
    ttft_p95: float | None = 20.0,
) -> Summary:  # fmt: skip
    latency = Percentiles(None if p95 is None else p95 / 2, p95, p95)
    ttft = Percentiles(None if ttft_p95 is None else ttft_p95 / 2, ttft_p95, ttft_p95)
    return Summary(requests, errors, wall_s, 10 * (requests - errors), latency, ttft,
                   Percentiles(0.0, 1.0, 2.0))  # fmt: skip


def stats(revision: str, own: Summary, everything: Summary | None = None) -> RevisionStats:
    return RevisionStats(revision, own, everything or own)


@pytest.fixture
def registry(registry: Path) -> Registry:
    (registry / PATH).parent.mkdir(parents=True, exist_ok=True)
    (registry / PATH).write_text(PROFILE)
    return Registry.load(registry, workers=1)


def _judge(registry: Registry, new: RevisionStats, old: RevisionStats | None) -> list[Finding]:
    profile = registry.model(PATH, PressureProfile)
    assert profile is not None
    return check(Comparison(profile, PATH, new, old), registry.locate)


def _errors(findings: list[Finding]) -> list[tuple[str, int | None, str, str]]:
    return [
        (f.rule, f.location.line, str(f.location).split(" ", 1)[1], f.message)
        for f in findings
        if f.severity is not Severity.INFO
    ]


def test_every_budget_and_ratio_is_judged_with_its_location(registry: Registry) -> None:
    new = stats(
        NEW,
        summary(errors=1, p95=812, ttft_p95=90),
        summary(requests=20, errors=2, wall_s=6.0, p95=900),
    )
    old = stats(OLD, summary(p95=571, ttft_p95=60), summary(requests=20, wall_s=4.0, p95=600))
    assert _errors(_judge(registry, new, old)) == [
        ("pressure/budget", 10, "$.budgets.p95_ms",
         "p95 latency of support-bot@1.2.0 is 812 ms, over the budget of 500 ms"),
        ("pressure/budget", 12, "$.budgets.max_error_rate",
         "error rate of support-bot@1.2.0 is 10.0% (1 of 10 requests failed), over the budget of 5.0%"),
        ("pressure/budget", 13, "$.budgets.min_throughput_rps",
         "throughput with support-bot@1.2.0 is 3.00 requests/s, under the budget of 5 requests/s"),
        ("pressure/ratio", 15, "$.vs_baseline.max_ratio.p95",
         "p95 latency of support-bot@1.2.0 is 812 ms, 1.42× support-bot@1.1.0's 571 ms (at most 1.3×)"),
        ("pressure/ratio", 15, "$.vs_baseline.max_ratio.ttft_p95",
         "p95 time to first token of support-bot@1.2.0 is 90 ms, 1.50× support-bot@1.1.0's 60 ms (at most 1.3×)"),
        ("pressure/ratio", 16, "$.vs_baseline.min_throughput_ratio",
         "throughput with support-bot@1.2.0 is 3.00 requests/s, 0.60× support-bot@1.1.0's 5.00 requests/s (at least 0.8×)"),
    ]  # fmt: skip


def test_within_budget_only_the_side_by_side_summary_is_reported(registry: Registry) -> None:
    new = stats(NEW, summary(p95=450, ttft_p95=80), summary(requests=24, wall_s=4.0, p95=460))
    old = stats(OLD, summary(p95=400, ttft_p95=70), summary(requests=24, wall_s=4.0, p95=420))
    findings = _judge(registry, new, old)
    assert {f.severity for f in findings} == {Severity.INFO}
    assert {(f.rule, str(f.location)) for f in findings} == {(
        "pressure/summary", f"{PATH}:2"
    )}  # fmt: skip
    assert [f.message for f in findings] == [
        "requests to the revision: support-bot@1.2.0 10 (0 failed), support-bot@1.1.0 10 (0 failed)",
        "requests, whole mix: support-bot@1.2.0 24 (0 failed), support-bot@1.1.0 24 (0 failed)",
        "error rate: support-bot@1.2.0 0.0%, support-bot@1.1.0 0.0%",
        "throughput: support-bot@1.2.0 6.00 requests/s, support-bot@1.1.0 6.00 requests/s (×1.00)",
        "output tokens/s: support-bot@1.2.0 60.00 tokens/s, support-bot@1.1.0 60.00 tokens/s (×1.00)",
        "p50 latency: support-bot@1.2.0 225 ms, support-bot@1.1.0 200 ms (×1.12)",
        "p95 latency: support-bot@1.2.0 450 ms, support-bot@1.1.0 400 ms (×1.12)",
        "p99 latency: support-bot@1.2.0 450 ms, support-bot@1.1.0 400 ms (×1.12)",
        "p50 time to first token: support-bot@1.2.0 40 ms, support-bot@1.1.0 35 ms (×1.14)",
        "p95 time to first token: support-bot@1.2.0 80 ms, support-bot@1.1.0 70 ms (×1.14)",
        "p99 time to first token: support-bot@1.2.0 80 ms, support-bot@1.1.0 70 ms (×1.14)",
        "p95 wait for a free slot: support-bot@1.2.0 1.0 ms, support-bot@1.1.0 1.0 ms (×1.00)",
    ]


def test_a_latency_noise_floor_keeps_small_differences_from_failing(
    registry: Registry,
) -> None:
    profile = registry.root / PATH
    ratios = "max_ratio: {p95: 1.3, ttft_p95: 1.3}\n"
    floor = ratios + "  min_latency_delta_ms: 100\n"
    profile.write_text(profile.read_text().replace(ratios, floor))
    floored = Registry.load(registry.root, workers=1)
    old = stats(OLD, summary(p95=300, ttft_p95=40), summary(requests=24, p95=300))
    noise = stats(NEW, summary(p95=390, ttft_p95=90), summary(requests=24, p95=390))
    assert _errors(_judge(floored, noise, old)) == []
    slower = stats(NEW, summary(p95=420, ttft_p95=90), summary(requests=24, p95=420))
    assert _errors(_judge(floored, slower, old)) == [
        ("pressure/ratio", 15, "$.vs_baseline.max_ratio.p95",
         "p95 latency of support-bot@1.2.0 is 420 ms, 1.40× support-bot@1.1.0's 300 ms (at most 1.3×)"),
    ]  # fmt: skip


def test_without_a_baseline_only_budgets_apply(registry: Registry) -> None:
    new = stats(NEW, summary(p95=812), summary(requests=30, wall_s=2.0))
    findings = _judge(registry, new, None)
    assert [f.message for f in findings if f.severity is Severity.ERROR] == [
        "p95 latency of support-bot@1.2.0 is 812 ms, over the budget of 500 ms"
    ]
    summaries = [f.message for f in findings if f.rule == "pressure/summary"]
    assert summaries[6] == "p95 latency: support-bot@1.2.0 812 ms"


def test_a_candidate_without_answers_fails_what_it_cannot_show(registry: Registry) -> None:
    new = stats(
        NEW,
        summary(errors=10, p95=None, ttft_p95=None),
        summary(requests=20, errors=10, wall_s=1.0),
    )
    old = stats(OLD, summary(p95=400, ttft_p95=50))
    assert [message for *_, message in _errors(_judge(registry, new, old))] == [
        "p95 latency of support-bot@1.2.0 cannot be judged: none of its 10 requests succeeded",
        "p95 time to first token of support-bot@1.2.0 cannot be judged: none of its 10 requests succeeded",
        "error rate of support-bot@1.2.0 is 100.0% (10 of 10 requests failed), over the budget of 5.0%",
        "p95 latency of support-bot@1.2.0 cannot be judged: none of its 10 requests succeeded",
        "p95 time to first token of support-bot@1.2.0 cannot be judged: none of its 10 requests succeeded",
    ]


def test_a_baseline_without_answers_cannot_be_compared(registry: Registry) -> None:
    new = stats(NEW, summary(p95=400, ttft_p95=50), summary(requests=20, wall_s=2.0))
    old = stats(OLD, summary(errors=10, p95=None, ttft_p95=None))
    findings = [f for f in _judge(registry, new, old) if f.severity is not Severity.INFO]
    assert {f.severity for f in findings} == {Severity.WARNING}
    assert [f.message for f in findings] == [
        "p95 latency of support-bot@1.2.0 cannot be compared: none of support-bot@1.1.0's requests succeeded",
        "p95 time to first token of support-bot@1.2.0 cannot be compared: none of support-bot@1.1.0's requests succeeded",
        "throughput with support-bot@1.2.0 cannot be compared: none of support-bot@1.1.0's requests succeeded",
    ]
