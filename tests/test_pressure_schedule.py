"""The request schedule: deterministic from the seed, shaped like the profile; the rounds."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from typing import Any

from adapterctl.model import PressureProfile
from adapterctl.pressure.rounds import plan_rounds
from adapterctl.pressure.schedule import VOCABULARY, generate, halves


def _profile(**fields: Any) -> PressureProfile:
    document: dict[str, Any] = {
        "name": "test",
        "description": "A test workload.",
        "seed": 7,
        "requests": 200,
        "arrival": {"rate_per_s": 10},
        "prompt_tokens": [{"tokens": 4}],
        "output_tokens": [{"tokens": 8}],
    }
    return PressureProfile.model_validate(document | fields)


def test_the_same_seed_gives_the_same_requests() -> None:
    profile = _profile(mix=[{"target": "candidate"}, {"target": "base"}])
    assert generate(profile) == generate(profile)
    other = generate(profile.model_copy(update={"seed": 8}))
    assert [r.offset_s for r in other] != [r.offset_s for r in generate(profile)]


def test_the_schedule_is_stable_across_runs_and_machines() -> None:
    first = generate(_profile(requests=3, prompt_tokens=[{"tokens": 3}]))
    assert [(round(r.offset_s, 6), r.prompt, r.seed) for r in first] == [
        (0.0, "parcel review billing", 922121676),
        (0.039131, "change request policy", 253877686),
        (0.055483, "shipping review billing", 1703729684),
    ]


def test_requests_count_arrivals_and_bursts_come_on_top() -> None:
    bursts = [{"at_s": 2.5, "requests": 5}, {"at_s": 0, "requests": 3}]
    requests = generate(_profile(requests=20, arrival={"rate_per_s": 10, "bursts": bursts}))
    assert len(requests) == 28
    assert [r.index for r in requests] == list(range(28))
    offsets = [r.offset_s for r in requests]
    assert offsets == sorted(offsets)
    burst = [r.offset_s for r in requests if r.burst]
    assert Counter(burst) == {0.0: 3, 2.5: 5}


def test_uniform_arrivals_are_evenly_spaced() -> None:
    requests = generate(_profile(requests=5, arrival={"rate_per_s": 4, "process": "uniform"}))
    assert [r.offset_s for r in requests] == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_poisson_arrivals_have_the_mean_gap_of_the_rate() -> None:
    requests = generate(_profile(requests=4000, arrival={"rate_per_s": 20}))
    gaps = [b.offset_s - a.offset_s for a, b in itertools.pairwise(requests)]
    assert abs(statistics.fmean(gaps) - 1 / 20) < 0.0025
    assert abs(statistics.pstdev(gaps) - 1 / 20) < 0.0025  # exponential: stdev = mean


def test_duration_draws_arrivals_until_it_ends() -> None:
    requests = generate(
        _profile(requests=None, duration_s=3.0, arrival={"rate_per_s": 4, "process": "uniform"})
    )
    assert [r.offset_s for r in requests] == [i / 4 for i in range(12)]


def test_targets_and_lengths_follow_their_weights() -> None:
    profile = _profile(
        requests=6000,
        mix=[{"target": "candidate", "weight": 3}, {"target": "sql-helper"}],
        prompt_tokens=[{"tokens": 2, "weight": 1}, {"tokens": 6, "weight": 4}],
        output_tokens=[{"tokens": 16}, {"tokens": 64}],
    )
    requests = generate(profile)
    share = Counter(r.target for r in requests)["candidate"] / len(requests)
    assert abs(share - 0.75) < 0.02
    long_prompts = Counter(r.prompt_words for r in requests)[6] / len(requests)
    assert abs(long_prompts - 0.8) < 0.02
    assert {r.max_tokens for r in requests} == {16, 64}
    for request in requests[:50]:
        words = request.prompt.split()
        assert len(words) == request.prompt_words
        assert set(words) <= set(VOCABULARY)


def test_halves_never_cut_a_burst() -> None:
    requests = generate(_profile(requests=4, arrival={"rate_per_s": 1, "process": "uniform",
                                                      "bursts": [{"at_s": 1, "requests": 3}]}))  # fmt: skip
    first, second = halves(requests)
    assert [r.offset_s for r in first] == [0.0, 1.0, 1.0, 1.0, 1.0]
    assert [r.offset_s for r in second] == [2.0, 3.0]


def test_rounds_replay_the_same_requests_a_b_b_a() -> None:
    requests = generate(_profile(requests=10, mix=[{"target": "candidate"}, {"target": "base"}]))
    targets = {"base": "tiny-llama"}
    rounds = plan_rounds(requests, targets, "bot@2.0.0", "bot@1.0.0")
    assert [(r.number, r.revision, len(r.shots)) for r in rounds] == [
        (1, "bot@2.0.0", 5),
        (2, "bot@1.0.0", 5),
        (3, "bot@1.0.0", 5),
        (4, "bot@2.0.0", 5),
    ]
    for revision in ("bot@2.0.0", "bot@1.0.0"):
        sent = [s.request for r in rounds if r.revision == revision for s in r.shots]
        assert sorted(sent, key=lambda r: r.index) == list(requests)
    for round_ in rounds:
        assert round_.shots[0].offset_s == 0.0  # each round starts at its first arrival
        for shot in round_.shots:
            expected = round_.revision if shot.request.target == "candidate" else "tiny-llama"
            assert shot.model == expected


def test_without_a_baseline_the_candidate_replays_everything_at_once() -> None:
    requests = generate(_profile(requests=6))
    rounds = plan_rounds(requests, {}, "bot@2.0.0", None)
    assert [(r.revision, [s.offset_s for s in r.shots]) for r in rounds] == [
        ("bot@2.0.0", [r.offset_s for r in requests])
    ]
