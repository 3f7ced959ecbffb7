"""A staging workload profile: ``environments/<env>/pressure/<profile>.yaml``.

The profile describes traffic, not requests: a seeded generator turns it into the request
schedule (see :mod:`adapterctl.pressure.schedule`), so the candidate and the baseline are
replayed exactly the same requests. Budgets and ratios to the baseline gate the candidate.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, Strict, field_validator, model_validator

from adapterctl.model.common import Bool, Fraction, Frozen, Name, Text

Positive = Annotated[float, Strict(), Field(gt=0)]
Weight = Positive
Milliseconds = Positive
Ratio = Positive
Seconds = Annotated[float, Strict(), Field(ge=0, le=86_400)]

MAX_REQUESTS = 100_000
"""The most requests one schedule may hold (each is kept, with its sample, in the evidence)."""
Count = Annotated[int, Strict(), Field(ge=1, le=MAX_REQUESTS)]
CANDIDATE = "candidate"
"""Mix target: the revision under test (the baseline, in the baseline's rounds)."""
BASE = "base"
"""Mix target: the environment's base model, without an adapter."""
KEYWORDS = (CANDIDATE, BASE)


class TokenBucket(Frozen):
    """One length and how often it is drawn."""

    tokens: Annotated[int, Strict(), Field(ge=1, le=131_072)]
    """Prompt length in words (about one token each), or output length in tokens."""
    weight: Weight = 1.0
    """Relative frequency among the buckets."""


class Burst(Frozen):
    """Extra requests released all at once."""

    at_s: Seconds
    """Seconds after the start of the schedule."""
    requests: Count


class Arrival(Frozen):
    """When requests arrive."""

    rate_per_s: Annotated[float, Strict(), Field(gt=0, le=10_000)]
    """Mean arrival rate, requests per second."""
    process: Literal["poisson", "uniform"] = "poisson"
    """poisson: exponential gaps (real traffic); uniform: evenly spaced."""
    bursts: tuple[Burst, ...] = ()


class MixEntry(Frozen):
    """One target of the traffic and its share."""

    target: Name
    """'candidate' (the revision under test), 'base' (the base model), or an adapter line,
    served at the version the environment routes most of its traffic to."""
    weight: Weight = 1.0


class Budgets(Frozen):
    """Absolute limits. Latency limits apply to the candidate's requests; throughput to all
    requests of its rounds. Latency and throughput budgets are promises about
    ``hardware_class``; the error rate holds on every node."""

    hardware_class: Name | None = None
    """The hardware class (hardware/<class>.yaml) the latency and throughput budgets are
    promised for: enforced on nodes that declare it, reported as info elsewhere. Without
    a class they are enforced on every node."""
    p50_ms: Milliseconds | None = None
    p95_ms: Milliseconds | None = None
    p99_ms: Milliseconds | None = None
    ttft_p50_ms: Milliseconds | None = None
    ttft_p95_ms: Milliseconds | None = None
    ttft_p99_ms: Milliseconds | None = None
    max_error_rate: Fraction = 0.0
    """Share of the candidate's requests that may fail (timeouts, errors, broken streams)."""
    min_throughput_rps: Positive | None = None
    """Completed requests per second of wall time, over every request of the rounds."""


class LatencyRatios(Frozen):
    """The most the candidate may have of the baseline's value (1.3: 30 % slower)."""

    p50: Ratio | None = None
    p95: Ratio | None = None
    p99: Ratio | None = None
    ttft_p50: Ratio | None = None
    ttft_p95: Ratio | None = None
    ttft_p99: Ratio | None = None


class VsBaseline(Frozen):
    """Limits relative to the baseline, replayed the same schedule."""

    max_ratio: LatencyRatios = Field(default_factory=LatencyRatios)
    min_latency_delta_ms: Milliseconds | None = None
    """Noise floor of the latency ratios: a candidate over a ratio fails only when it is
    also at least this many milliseconds slower (a ratio of two small numbers is noise)."""
    min_throughput_ratio: Ratio | None = None
    """The least the candidate's throughput may be of the baseline's (0.8: 20 % less)."""


class PressureProfile(Frozen):
    """A workload to replay against a candidate and its baseline on a staging node."""

    name: Name
    """The profile's name (its file stem)."""
    description: Text
    seed: Annotated[int, Strict(), Field(ge=0)]
    """Seed of the request schedule: the same seed gives the same requests."""
    requests: Count | None = None
    """Arrivals to draw (bursts come on top); exactly one of requests and duration_s."""
    duration_s: Annotated[float, Strict(), Field(gt=0, le=86_400)] | None = None
    """Draw arrivals for this long instead (bursts come on top)."""
    arrival: Arrival
    concurrency: Annotated[int, Strict(), Field(ge=1, le=4096)] = 8
    """Requests in flight at most; later arrivals wait for a free slot."""
    prompt_tokens: tuple[TokenBucket, ...] = Field(min_length=1)
    output_tokens: tuple[TokenBucket, ...] = Field(min_length=1)
    """Sent as max_tokens."""
    ignore_eos: Bool = True
    """Send vLLM's ignore_eos so that every answer runs to its max_tokens."""
    temperature: Annotated[float, Strict(), Field(ge=0, le=2)] = 0.0
    mix: tuple[MixEntry, ...] = Field(default=(MixEntry(target=CANDIDATE),), min_length=1)
    """Targets served at once, as in multi-tenant serving; must include 'candidate'."""
    timeout_s: Annotated[float, Strict(), Field(gt=0, le=3600)] | None = None
    """Per request (default: the command's --timeout)."""
    budgets: Budgets = Field(default_factory=Budgets)
    vs_baseline: VsBaseline = Field(default_factory=VsBaseline)

    @field_validator("mix")
    @classmethod
    def _mix_names_the_candidate_once(cls, mix: tuple[MixEntry, ...]) -> tuple[MixEntry, ...]:
        targets = [entry.target for entry in mix]
        twice = sorted({target for target in targets if targets.count(target) > 1})
        if twice:
            raise ValueError(f"target '{twice[0]}' is listed twice")
        if CANDIDATE not in targets:
            raise ValueError("the mix must include the target 'candidate'")
        return mix

    @model_validator(mode="after")
    def _one_length(self) -> PressureProfile:
        if (self.requests is None) == (self.duration_s is None):
            raise ValueError("a profile needs exactly one of 'requests' or 'duration_s'")
        end = self.duration_s
        late = [b.at_s for b in self.arrival.bursts if end is not None and b.at_s >= end]
        if late:
            raise ValueError(f"a burst at {late[0]:g} s is not within the {end:g} s schedule")
        if self.expected_requests() > MAX_REQUESTS:
            raise ValueError(
                f"the schedule would hold about {self.expected_requests():,.0f} requests, "
                f"more than {MAX_REQUESTS:,}"
            )
        return self

    def expected_requests(self) -> float:
        """Arrivals (their mean count, for a duration) plus every burst."""
        arrivals = self.requests or (self.duration_s or 0) * self.arrival.rate_per_s
        return arrivals + sum(burst.requests for burst in self.arrival.bursts)
