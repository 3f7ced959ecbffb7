"""What a replay records: one sample per request sent, grouped in rounds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sample:
    """One request as the node answered it.

    Times are measured from the moment the request was sent (as vLLM's serving benchmark
    does); ``queue_ms`` is how long it waited for a free slot after its scheduled arrival.
    """

    revision: str
    """The revision whose round sent it (the candidate's or the baseline's served name)."""
    round: int
    index: int
    """The request's position in the schedule: the same request in every revision's round."""
    target: str
    """The mix target ('candidate', 'base' or a line)."""
    model: str
    """The served model name asked."""
    offset_s: float
    """Scheduled arrival, seconds after the start of the round."""
    queue_ms: float
    ttft_ms: float | None
    """Time to the first generated text (None: failed, or answered without text)."""
    latency_ms: float
    """Time to the end of the answer (or to the failure)."""
    output_tokens: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Round:
    """One replay of a part of the schedule against one revision."""

    number: int
    """1-based, in the order the rounds ran."""
    revision: str
    wall_s: float
    """From the start of the round until its last answer."""
    samples: tuple[Sample, ...]
