"""What an evaluation produces: one result per case × revision × repeat."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Answer:
    """What the node answered (or why it could not, after bounded retries)."""

    text: str
    finish_reason: str | None
    latency_ms: float
    error: str | None = None
    """A transport or server error that survived the retries: the case counts as failed."""


@dataclass(frozen=True, slots=True)
class AssertionResult:
    """One assertion checked against one answer."""

    type: str
    passed: bool
    score: float
    """0..1; pass/fail assertions score 1 or 0, scored ones (levenshtein, rouge-n) in between."""
    weight: float
    metric: str | None
    reason: str
    """Why it failed (or what it measured), written for the report."""


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One case, asked of one revision, once."""

    suite: str
    case: str
    revision: str
    """The served model name, e.g. ``support-bot@1.1.0``."""
    repeat: int
    answer: Answer
    assertions: tuple[AssertionResult, ...]
    score: float
    """Weighted mean of the assertion scores."""
    passed: bool
