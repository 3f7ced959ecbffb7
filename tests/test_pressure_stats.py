"""Percentiles (nearest rank), throughput and error rate of samples."""

from __future__ import annotations

import pytest

from adapterctl.latency import percentile
from adapterctl.pressure.results import Round, Sample
from adapterctl.pressure.stats import Percentiles, revision_stats, summarize


def sample(
    latency_ms: float,
    *,
    target: str = "candidate",
    revision: str = "bot@2.0.0",
    ttft_ms: float | None = 5.0,
    tokens: int = 10,
    error: str | None = None,
    queue_ms: float = 0.0,
) -> Sample:
    return Sample(
        revision, 1, 0, target, revision, 0.0, queue_ms, ttft_ms, latency_ms, tokens, error
    )


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        (list(range(1, 21)), 50, 10),
        (list(range(1, 21)), 95, 19),
        (list(range(1, 21)), 99, 20),
        (list(range(1, 101)), 95, 95),
        (list(range(1, 101)), 99, 99),
        ([3.0, 1.0, 2.0], 50, 2.0),
        ([3.0, 1.0, 2.0], 95, 3.0),
        ([7.0], 1, 7.0),
        ([7.0], 99, 7.0),
        ([1.0, 2.0], 50, 1.0),
        ([1.0, 2.0], 51, 2.0),
    ],
)
def test_percentile_is_the_nearest_rank(values: list[float], p: int, expected: float) -> None:
    assert percentile(values, p) == expected


def test_percentile_of_nothing_is_unknown() -> None:
    assert percentile([], 95) is None
    assert Percentiles.of([]) == Percentiles(None, None, None)


def test_summary_counts_errors_and_judges_latency_on_answers_only() -> None:
    samples = [
        sample(100, tokens=10, queue_ms=4),
        sample(200, tokens=20),
        sample(300, tokens=30, ttft_ms=None),  # answered without text: no first token
        sample(5000, tokens=0, ttft_ms=None, error="HTTP 500: boom"),
    ]
    summary = summarize(samples, wall_s=2.0)
    assert (summary.requests, summary.errors, summary.completed) == (4, 1, 3)
    assert summary.error_rate == 0.25
    assert summary.throughput_rps == 1.5
    assert summary.output_tokens == 60
    assert summary.output_tokens_per_s == 30.0
    assert summary.latency_ms == Percentiles(200, 300, 300)
    assert summary.ttft_ms == Percentiles(5.0, 5.0, 5.0)
    assert summary.queue_ms.p99 == 4


def test_an_empty_summary_divides_by_nothing() -> None:
    summary = summarize([], wall_s=0.0)
    assert (summary.error_rate, summary.throughput_rps, summary.output_tokens_per_s) == (0, 0, 0)


def test_revision_stats_add_up_its_rounds_in_both_scopes() -> None:
    new, old = "bot@2.0.0", "bot@1.0.0"
    rounds = [
        Round(1, new, 1.0, (sample(10), sample(20, target="base"))),
        Round(2, old, 1.0, (sample(30, revision=old),)),
        Round(3, old, 1.0, (sample(40, revision=old),)),
        Round(4, new, 3.0, (sample(50), sample(60, target="sql-helper", error="timeout"))),
    ]
    stats = revision_stats(rounds, new)
    assert stats.revision == new
    assert (stats.candidate.requests, stats.candidate.wall_s) == (2, 4.0)
    assert stats.candidate.latency_ms.p99 == 50
    assert (stats.all.requests, stats.all.errors) == (4, 1)
    assert stats.all.throughput_rps == 0.75
    assert revision_stats(rounds, old).all.latency_ms == Percentiles(30, 40, 40)
