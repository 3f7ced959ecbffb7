"""The canary judge on measured traffic (adapterctl.canary.judge and the Argo rules of
adapterctl.canary.analysis); tests/test_canary.py runs it on a real gateway's metrics."""

from __future__ import annotations

import math

import pytest

from adapterctl.canary.analysis import Measurement, Result, Target, Window
from adapterctl.canary.judge import Pair, Phase, judge
from adapterctl.canary.traffic import Traffic, traffic
from adapterctl.findings import Location, Severity
from adapterctl.latency import Binned
from adapterctl.model.analysis import Analysis

PAIR = Pair("support-bot@1.1.0", "support-bot@1.0.0")
WHERE = Location("environments/prod/environment.yaml", 20, path=("analysis",))
SETTINGS = Analysis(min_requests=200)
BOUNDS = (50.0, 100.0, 200.0, 400.0, 800.0, math.inf)
EMPTY = Binned(BOUNDS, (0,) * len(BOUNDS))


def seen(
    ok: int, errors: int = 0, latency: tuple[int, ...] | None = None, tokens: float = 40.0
) -> Traffic:
    """``ok`` successes spread over the buckets like a healthy revision unless ``latency``."""
    spread = latency or (0, ok // 5, ok * 3 // 5, ok - ok // 5 - ok * 3 // 5, 0, 0)
    token_counts = (0, 0, 0, ok, 0, 0)
    return Traffic({"2xx": ok, "5xx": errors}, Binned(BOUNDS, spread), EMPTY,
                   Binned((16.0, 32.0, 64.0, 128.0, 256.0, math.inf), token_counts),
                   tokens * ok)  # fmt: skip


def rules(found: object) -> list[tuple[str, Severity]]:
    assert isinstance(found, tuple)
    return [(f.rule, f.severity) for f in found if f.severity is not Severity.INFO]


def test_a_healthy_canary_passes() -> None:
    assert rules(judge(PAIR, seen(500), seen(4500), SETTINGS, WHERE)) == []


def test_more_server_errors_fail_by_fishers_exact_test() -> None:
    found = judge(PAIR, seen(470, errors=30), seen(4490, errors=10), SETTINGS, WHERE)
    assert rules(found) == [("canary/error-rate", Severity.ERROR)]
    error = next(f for f in found if f.rule == "canary/error-rate")
    assert error.message.startswith(
        "support-bot@1.1.0 failed 30 of 500 requests (6.00%), support-bot@1.0.0 10 of 4500 "
        "(0.22%); more than 1.00% higher: Fisher's exact test p = "
    )
    assert error.message.endswith(" < 0.01")


def test_a_few_more_errors_are_not_yet_a_failure() -> None:
    found = judge(PAIR, seen(197, errors=3), seen(200), Analysis(min_requests=50), WHERE)
    assert rules(found) == []  # enough requests: not significant is noted, not inconclusive
    noted = next(f for f in found if f.rule == "canary/error-rate")
    assert noted.severity is Severity.INFO
    assert noted.message.startswith(
        "support-bot@1.1.0 failed 3 of 200 requests (1.50%), support-bot@1.0.0 0 of 200 (0.00%); "
        "more than 1.00% higher in this window, but not significantly: Fisher's exact test p = "
    )
    found = judge(PAIR, seen(197, errors=3), seen(200), Analysis(min_requests=300), WHERE)
    assert rules(found) == [
        ("canary/sample-size", Severity.WARNING),
        ("canary/sample-size", Severity.WARNING),
        ("canary/error-rate", Severity.WARNING),
    ]


def test_a_slower_canary_fails_its_latency_ratio() -> None:
    slow = seen(500, latency=(0, 0, 0, 100, 350, 50))
    found = judge(PAIR, slow, seen(4500), SETTINGS, WHERE)
    assert rules(found) == [
        ("canary/latency-p95", Severity.ERROR),
        ("canary/latency-p99", Severity.ERROR),
    ]
    p95 = next(f for f in found if f.rule == "canary/latency-p95")
    assert p95.message.startswith(
        "p95 latency of support-bot@1.1.0 is 800 ms, 2.29× support-bot@1.0.0's 350 ms "
        "(at most 1.25×, or 50 ms more): Mann-Whitney U test p = "
    )
    assert p95.hint == (
        "roll back, then compare support-bot@1.1.0 with support-bot@1.0.0 under the pressure gate"
    )


def test_too_few_requests_is_inconclusive_never_a_pass() -> None:
    found = judge(PAIR, seen(40), seen(4500), SETTINGS, WHERE)
    assert rules(found) == [("canary/sample-size", Severity.WARNING)]
    assert found[0].message == (
        "support-bot@1.1.0 answered 40 requests, fewer than analysis.min_requests 200: the "
        "window is inconclusive"
    )


def test_longer_answers_are_an_output_length_drift() -> None:
    verbose = seen(500, tokens=90.0)
    verbose = Traffic(verbose.requests, verbose.duration, verbose.ttft,
                      Binned(verbose.tokens.bounds, (0, 0, 0, 0, 500, 0)), verbose.tokens_sum)  # fmt: skip
    found = judge(PAIR, verbose, seen(4500), SETTINGS, WHERE)
    assert rules(found) == [("canary/output-length", Severity.ERROR)]
    assert next(f for f in found if f.rule == "canary/output-length").message.startswith(
        "support-bot@1.1.0 answers 90.0 tokens on average, support-bot@1.0.0 40.0 (+125%; at "
        "most ±25%): Mann-Whitney U (two-sided) p = "
    )


def test_counters_become_traffic() -> None:
    found = traffic({
        ("requests", "2xx"): 9.6, ("requests", "5xx"): 1.2,
        ("duration", "0.1"): 4.0, ("duration", "0.2"): 9.0, ("duration", "+Inf"): 10.0,
        ("tokens", "16.0"): 10.0, ("tokens", "+Inf"): 10.0, ("tokens", "sum"): 120.0,
    })  # fmt: skip
    assert (found.total, found.errors, found.mean_tokens) == (11, 1, 12.0)
    assert found.duration == Binned((100.0, 200.0, math.inf), (4, 5, 1))
    assert found.ttft == Binned((math.inf,), (0,))


# --- Argo Rollouts' rules over the measurements ---------------------------------------------


def result(*phases: Phase, failure_limit: int = 0, inconclusive_limit: int = 0) -> Result:
    settings = Analysis(count=len(phases), failure_limit=failure_limit,
                        inconclusive_limit=inconclusive_limit, min_requests=200)  # fmt: skip
    target = Target("prod", "support-bot", PAIR, settings, WHERE)
    shapes = {Phase.SUCCESSFUL: seen(500), Phase.FAILED: seen(470, errors=30),
              Phase.INCONCLUSIVE: seen(40)}  # fmt: skip
    measurements = tuple(
        Measurement(Window(i, len(phases), 0.0, 300.0), shapes[p], seen(4500),
                    judge(PAIR, shapes[p], seen(4500), settings, WHERE))
        for i, p in enumerate(phases, 1)
    )  # fmt: skip
    assert [m.phase for m in measurements] == list(phases)
    return Result(target, "a test", (), measurements)


@pytest.mark.parametrize(
    ("phases", "limits", "expected"),
    [
        ((Phase.SUCCESSFUL,) * 3, (0, 0), "Successful: 0 of 3 windows failed, 0 inconclusive"),
        ((Phase.SUCCESSFUL, Phase.FAILED, Phase.SUCCESSFUL), (0, 0),
         "Failed: 1 of 3 windows failed"),
        ((Phase.SUCCESSFUL, Phase.FAILED, Phase.SUCCESSFUL), (1, 0),
         "Successful: 1 of 3 windows failed, 0 inconclusive"),
        ((Phase.INCONCLUSIVE, Phase.SUCCESSFUL), (0, 0), "Inconclusive: 1 of 2 windows inconclusive"),
        ((Phase.INCONCLUSIVE, Phase.SUCCESSFUL), (0, 1),
         "Successful: 0 of 2 windows failed, 1 inconclusive"),
        ((Phase.FAILED, Phase.INCONCLUSIVE), (0, 5), "Failed: 1 of 2 windows failed"),
    ],
)  # fmt: skip
def test_argo_rules(phases: tuple[Phase, ...], limits: tuple[int, int], expected: str) -> None:
    outcome = result(*phases, failure_limit=limits[0], inconclusive_limit=limits[1])
    assert outcome.reason == (
        f"{expected} (failure_limit {limits[0]}, inconclusive_limit {limits[1]})"
    )
