"""The request schedule: a profile and its seed turned into concrete requests.

Everything is drawn from one ``random.Random(profile.seed)`` in a fixed order (arrival
times first, then each request's target, lengths, words and sampling seed), so the same
profile gives the same requests on every machine and Python version: the candidate and
the baseline are replayed exactly the same traffic.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from adapterctl.model.pressure import Arrival, PressureProfile

T = TypeVar("T")

_WORDS = (
    "account address answer billing cancel change charge customer delivery discount "
    "email error invoice item label language late list missing money number order "
    "package parcel password payment phone policy price product question receipt "
    "refund replace report request return review schedule service shipping size "
    "status store subscription support table ticket time total tracking update user "
    "voucher warranty week window"
)
VOCABULARY = tuple(_WORDS.split())
"""Plain words the example tokenizers know; a prompt of n words is about n tokens."""


@dataclass(frozen=True, slots=True)
class Request:
    """One request of the schedule, the same for every revision it is replayed against."""

    index: int
    """Position in the schedule (arrival order)."""
    offset_s: float
    """Seconds after the start of the schedule."""
    target: str
    """The mix target, as the profile names it ('candidate', 'base' or a line)."""
    prompt: str
    prompt_words: int
    max_tokens: int
    seed: int
    """Sampling seed sent with the request."""
    burst: bool
    """Released as part of a burst."""


def generate(profile: PressureProfile) -> tuple[Request, ...]:
    """The profile's requests in arrival order (ties: regular arrivals before bursts)."""
    rng = random.Random(profile.seed)
    times = [(t, False) for t in arrivals(profile, rng)]
    times += [(b.at_s, True) for b in profile.arrival.bursts for _ in range(b.requests)]
    times.sort(key=lambda pair: pair[0])  # stable: ties keep the order above
    targets = _Weighted([(e.target, e.weight) for e in profile.mix])
    prompts = _Weighted([(b.tokens, b.weight) for b in profile.prompt_tokens])
    outputs = _Weighted([(b.tokens, b.weight) for b in profile.output_tokens])
    requests = []
    for index, (offset, burst) in enumerate(times):
        target, words, max_tokens = targets.draw(rng), prompts.draw(rng), outputs.draw(rng)
        prompt = " ".join(rng.choice(VOCABULARY) for _ in range(words))
        seed = rng.randrange(2**31)
        requests.append(Request(index, offset, target, prompt, words, max_tokens, seed, burst))
    return tuple(requests)


def arrivals(profile: PressureProfile, rng: random.Random) -> list[float]:
    """Regular arrival times: ``requests`` of them, or as many as fall in ``duration_s``."""
    gaps = _gaps(profile.arrival, rng)
    times = itertools.accumulate(gaps, initial=0.0)
    if profile.requests is not None:
        return list(itertools.islice(times, profile.requests))
    limit = profile.duration_s or 0.0
    return list(itertools.takewhile(lambda t: t < limit, times))


def _gaps(arrival: Arrival, rng: random.Random) -> Iterator[float]:
    """Endless gaps between arrivals: even, or exponential (a Poisson process)."""
    if arrival.process == "uniform":
        yield from itertools.repeat(1 / arrival.rate_per_s)
    while True:
        yield rng.expovariate(arrival.rate_per_s)


class _Weighted(Generic[T]):
    """Draws a value with probability proportional to its weight."""

    def __init__(self, choices: Sequence[tuple[T, float]]) -> None:
        self.values = [value for value, _ in choices]
        self.cumulative = list(itertools.accumulate(weight for _, weight in choices))

    def draw(self, rng: random.Random) -> T:
        point = rng.random() * self.cumulative[-1]
        index = bisect.bisect_right(self.cumulative, point)
        return self.values[min(index, len(self.values) - 1)]


def halves(requests: Sequence[Request]) -> tuple[tuple[Request, ...], tuple[Request, ...]]:
    """The schedule cut in two at its middle request, never inside a burst (requests at the
    same instant stay together)."""
    cut = len(requests) // 2
    while 0 < cut < len(requests) and requests[cut].offset_s == requests[cut - 1].offset_s:
        cut += 1
    return tuple(requests[:cut]), tuple(requests[cut:])
