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


def spread(center: float, n: int = 10) -> tuple[float, ...]:
    """``n`` distinct values from 0.9× to 1.1× ``center``: one revision's samples."""
    return tuple(round(center * (0.9 + 0.2 * i / (n - 1)), 3) for i in range(n))


def summary(
    *, requests: int = 10, errors: int = 0, wall_s: float = 4.0, latency: float | None = 100.0,
    ttft: float | None = 20.0,
) -> Summary:  # fmt: skip
    ok = requests - errors
    latencies = spread(latency, ok) if latency is not None and ok else ()
    ttfts = spread(ttft, ok) if ttft is not None and ok else ()
    return Summary(requests, errors, wall_s, 10 * ok, latencies, ttfts, Percentiles(0.0, 1.0, 2.0),
                   tuple(range(len(latencies))), tuple(range(len(ttfts))))  # fmt: skip


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


def _ratio_errors(findings: list[Finding]) -> list[tuple[str, int | None, str, str]]:
    return [error for error in _errors(findings) if error[0] == "pressure/ratio"]


def test_every_budget_and_ratio_is_judged_with_its_location(registry: Registry) -> None:
    new = stats(
        NEW,
        summary(errors=1, latency=1000, ttft=100),
        summary(requests=20, errors=2, wall_s=6.0, latency=900),
    )
    old = stats(OLD, summary(latency=570, ttft=60), summary(requests=20, wall_s=4.0, latency=600))
    assert _errors(_judge(registry, new, old)) == [
        ("pressure/budget", 10, "$.budgets.p95_ms",
         "p95 latency of support-bot@1.2.0 is 1100 ms, over the budget of 500 ms: "
         "binomial test p = 1.95e-12 < 0.01, 9 of 9 requests over the budget"),
        ("pressure/budget", 11, "$.budgets.ttft_p95_ms",
         "p95 time to first token of support-bot@1.2.0 is 110 ms, over the budget of 100 ms: "
         "binomial test p = 0.000643 < 0.01, 4 of 9 requests over the budget"),
        ("pressure/budget", 12, "$.budgets.max_error_rate",
         "error rate of support-bot@1.2.0 is 10.0% (1 of 10 requests failed), over the budget of 5.0%"),
        ("pressure/budget", 13, "$.budgets.min_throughput_rps",
         "throughput with support-bot@1.2.0 is 3.00 requests/s, under the budget of 5 requests/s"),
        ("pressure/ratio", 15, "$.vs_baseline.max_ratio.p95",
         "p95 latency of support-bot@1.2.0 is 1100 ms, 1.75× support-bot@1.1.0's 627 ms (at most 1.3×): "
         "Wilcoxon signed-rank test p = 0.00195 < 0.01, 9 requests answered by both"),
        ("pressure/ratio", 15, "$.vs_baseline.max_ratio.ttft_p95",
         "p95 time to first token of support-bot@1.2.0 is 110 ms, 1.67× support-bot@1.1.0's 66 ms (at most 1.3×): "
         "Wilcoxon signed-rank test p = 0.00195 < 0.01, 9 requests answered by both"),
        ("pressure/ratio", 16, "$.vs_baseline.min_throughput_ratio",
         "throughput with support-bot@1.2.0 is 3.00 requests/s, 0.60× support-bot@1.1.0's 5.00 requests/s (at least 0.8×)"),
    ]  # fmt: skip


def test_within_budget_only_the_side_by_side_summary_is_reported(registry: Registry) -> None:
    new = stats(NEW, summary(latency=450, ttft=80), summary(requests=24, wall_s=4.0, latency=460))
    old = stats(OLD, summary(latency=400, ttft=70), summary(requests=24, wall_s=4.0, latency=420))
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
        "p50 latency: support-bot@1.2.0 445 ms, support-bot@1.1.0 396 ms (×1.12)",
        "p95 latency: support-bot@1.2.0 495 ms, support-bot@1.1.0 440 ms (×1.12)",
        "p99 latency: support-bot@1.2.0 495 ms, support-bot@1.1.0 440 ms (×1.12)",
        "p50 time to first token: support-bot@1.2.0 79 ms, support-bot@1.1.0 69 ms (×1.14)",
        "p95 time to first token: support-bot@1.2.0 88 ms, support-bot@1.1.0 77 ms (×1.14)",
        "p99 time to first token: support-bot@1.2.0 88 ms, support-bot@1.1.0 77 ms (×1.14)",
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
    old = stats(OLD, summary(latency=300, ttft=40), summary(requests=24, latency=300))
    noise = stats(NEW, summary(latency=390, ttft=50), summary(requests=24, latency=390))
    assert _ratio_errors(_judge(floored, noise, old)) == []
    slower = stats(NEW, summary(latency=500, ttft=50), summary(requests=24, latency=500))
    assert _ratio_errors(_judge(floored, slower, old)) == [
        ("pressure/ratio", 15, "$.vs_baseline.max_ratio.p95",
         "p95 latency of support-bot@1.2.0 is 550 ms, 1.67× support-bot@1.1.0's 330 ms "
         "(at most 1.3×, or 100 ms more): Wilcoxon signed-rank test p = 0.000977 < 0.01, 10 requests answered by both"),
    ]  # fmt: skip


def test_without_a_baseline_only_budgets_apply(registry: Registry) -> None:
    new = stats(NEW, summary(latency=812), summary(requests=30, wall_s=2.0))
    findings = _judge(registry, new, None)
    assert [f.message for f in findings if f.severity is Severity.ERROR] == [
        "p95 latency of support-bot@1.2.0 is 893 ms, over the budget of 500 ms: "
        "binomial test p = 9.77e-14 < 0.01, 10 of 10 requests over the budget"
    ]
    summaries = [f.message for f in findings if f.rule == "pressure/summary"]
    assert summaries[6] == "p95 latency: support-bot@1.2.0 893 ms"


def test_a_candidate_without_answers_fails_what_it_cannot_show(registry: Registry) -> None:
    new = stats(
        NEW,
        summary(errors=10, latency=None, ttft=None),
        summary(requests=20, errors=10, wall_s=1.0),
    )
    old = stats(OLD, summary(latency=400, ttft=50))
    assert [message for *_, message in _errors(_judge(registry, new, old))] == [
        "p95 latency of support-bot@1.2.0 cannot be judged: none of its 10 requests succeeded",
        "p95 time to first token of support-bot@1.2.0 cannot be judged: none of its 10 requests succeeded",
        "error rate of support-bot@1.2.0 is 100.0% (10 of 10 requests failed), over the budget of 5.0%",
        "p95 latency of support-bot@1.2.0 cannot be judged: none of its 10 requests succeeded",
        "p95 time to first token of support-bot@1.2.0 cannot be judged: none of its 10 requests succeeded",
    ]


def test_a_baseline_without_answers_cannot_be_compared(registry: Registry) -> None:
    new = stats(NEW, summary(latency=400, ttft=50), summary(requests=20, wall_s=2.0))
    old = stats(OLD, summary(errors=10, latency=None, ttft=None))
    findings = [f for f in _judge(registry, new, old) if f.severity is not Severity.INFO]
    assert {f.severity for f in findings} == {Severity.WARNING}
    assert [f.message for f in findings] == [
        "p95 latency of support-bot@1.2.0 cannot be compared: none of support-bot@1.1.0's requests succeeded",
        "p95 time to first token of support-bot@1.2.0 cannot be compared: none of support-bot@1.1.0's requests succeeded",
        "throughput with support-bot@1.2.0 cannot be compared: none of support-bot@1.1.0's requests succeeded",
    ]


def _samples(latencies: tuple[float, ...]) -> Summary:
    n = len(latencies)
    return Summary(n, 0, 4.0, 10 * n, latencies, tuple(v / 10 for v in latencies),
                   Percentiles(0.0, 1.0, 2.0), tuple(range(n)), tuple(range(n)))  # fmt: skip


def test_budgets_of_another_hardware_class_are_reported_not_enforced(registry: Registry) -> None:
    file = registry.root / PATH
    file.write_text(
        file.read_text().replace("budgets:\n", "budgets:\n  hardware_class: gpu-l40s\n")
    )
    classed = Registry.load(registry.root, workers=1)
    profile = classed.model(PATH, PressureProfile)
    assert profile is not None
    new = stats(NEW, summary(errors=1, latency=1000, ttft=100), summary(requests=20, wall_s=2.0))

    def judge(node_class: str | None) -> list[tuple[str, Severity, str]]:
        findings = check(Comparison(profile, PATH, new, None, node_class), classed.locate)
        return [(f.rule, f.severity, f.message) for f in findings if f.rule != "pressure/summary"]

    error_rate = (
        "pressure/budget", Severity.ERROR,
        "error rate of support-bot@1.2.0 is 10.0% (1 of 10 requests failed), over the budget of 5.0%",
    )  # fmt: skip
    assert judge("cpu-ci") == [
        ("pressure/budget", Severity.INFO,
         "p95 latency budget 500 ms holds for gpu-l40s; not checked on cpu-ci"),
        ("pressure/budget", Severity.INFO,
         "p95 time to first token budget 100 ms holds for gpu-l40s; not checked on cpu-ci"),
        error_rate,
        ("pressure/budget", Severity.INFO,
         "throughput budget 5 requests/s holds for gpu-l40s; not checked on cpu-ci"),
        ("pressure/ratio", Severity.INFO,
         "ratio to the baseline not checked: no baseline ran beside support-bot@1.2.0 "
         "(--baseline none, or the environment serves no other revision of support-bot)"),
    ]  # fmt: skip
    assert judge(None)[0] == (
        "pressure/budget", Severity.INFO,
        "p95 latency budget 500 ms holds for gpu-l40s; "
        "not checked here: the node declares no hardware class",
    )  # fmt: skip
    assert [rule for rule, severity, _ in judge("gpu-l40s") if severity is Severity.ERROR] == [
        "pressure/budget"
    ] * 3


def test_one_slow_request_is_inconclusive_not_a_failure(registry: Registry) -> None:
    old = stats(OLD, summary(latency=400, ttft=40))
    outlier = (*spread(400)[:9], 2000.0)
    new = stats(NEW, _samples(outlier))
    findings = [f for f in _judge(registry, new, old) if f.location.path[-1:] == ("p95",)]
    assert [(f.severity, f.message, f.hint) for f in findings] == [(
        Severity.WARNING,
        "p95 latency of support-bot@1.2.0 is 2000 ms, 4.55× support-bot@1.1.0's 440 ms "
        "(at most 1.3×) in this run, but not significantly: "
        "Wilcoxon signed-rank test p = 0.968 ≥ 0.01, 10 requests answered by both",
        f"more requests make the test decisive: raise requests or duration_s in {PATH}",
    )]  # fmt: skip
    budget = [f for f in _judge(registry, new, old) if f.location.path[-1:] == ("p95_ms",)]
    assert [(f.severity, f.message) for f in budget] == [(
        Severity.WARNING,
        "p95 latency of support-bot@1.2.0 is 2000 ms, over the budget of 500 ms in this run, "
        "but not significantly: binomial test p = 0.401 ≥ 0.01, 1 of 10 requests over the budget",
    )]  # fmt: skip


def test_too_few_samples_are_inconclusive_with_the_numbers(registry: Registry) -> None:
    old = stats(OLD, _samples((300.0, 310.0, 320.0)))
    new = stats(NEW, _samples((900.0, 910.0, 920.0)))
    first = next(f for f in _judge(registry, new, old) if f.rule == "pressure/ratio")
    assert (first.severity, first.message, first.hint) == (
        Severity.WARNING,
        "p95 latency of support-bot@1.2.0 cannot be judged against support-bot@1.1.0's "
        "(at most 1.3×): 3 requests answered by both cannot reach the Wilcoxon signed-rank "
        "test's significance level 0.01: the smallest p-value they allow is 0.125",
        f"more requests make the test decisive: raise requests or duration_s in {PATH} "
        "(at least 7 requests answered by both revisions reach 0.01)",
    )


@pytest.mark.parametrize("slower", [1.0, 2.5, 7.0])
def test_a_runner_that_slows_both_revisions_alike_gives_the_same_verdict(
    registry: Registry, slower: float
) -> None:
    def verdicts(latency_new: float, latency_old: float) -> list[tuple[str, Severity, str]]:
        new = stats(NEW, _samples(spread(latency_new * slower, 20)))
        old = stats(OLD, _samples(spread(latency_old * slower, 20)))
        findings = _judge(registry, new, old)
        return [
            (f.rule, f.severity, str(f.location)) for f in findings if f.rule == "pressure/ratio"
        ]

    assert verdicts(420, 400) == []
    assert verdicts(800, 400) == [
        ("pressure/ratio", Severity.ERROR, f"{PATH}:15 $.vs_baseline.max_ratio.p95"),
        ("pressure/ratio", Severity.ERROR, f"{PATH}:15 $.vs_baseline.max_ratio.ttft_p95"),
    ]
