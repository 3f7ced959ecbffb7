"""The identity of an adapter line: ``adapters/<name>/adapter.yaml``."""

from __future__ import annotations

from pydantic import Field

from adapterctl.model.common import Bool, Fraction, Frozen, Name, Number, Owner, Text


class GoldenRules(Frozen):
    """How the golden gate compares a candidate with the serving revision."""

    min_pass_rate: Fraction = 1.0
    """Absolute: the pass rate each suite must reach."""
    no_regression: Bool = True
    """A case passing on the baseline in every repeat must not fail on the candidate."""
    accepted_changes: tuple[Text, ...] = ()
    """Case ids whose regression is accepted for this line (an intended behaviour change)."""
    max_score_drop: Fraction = 0.0
    """Tolerated drop of a metric's mean score (candidate vs baseline)."""
    repeats: int = Field(default=3, ge=1, le=100, strict=True)
    """How often each case runs per revision, to measure noise."""


class LatencyBudget(Frozen):
    """Latency the candidate must stay within (docs/golden.md, "Latency")."""

    hardware_class: Name | None = None
    """The hardware class (hardware/<class>.yaml) that p95_ms is promised for: it is
    enforced on nodes that declare this class and reported as info elsewhere. Without a
    class, p95_ms is enforced on every node."""
    p95_ms: Number | None = Field(default=None, gt=0)
    """Absolute p95 budget in milliseconds, on nodes of hardware_class."""
    max_ratio: Number | None = Field(default=None, ge=1.0)
    """The candidate's latencies may be at most this multiple of the baseline's, measured
    interleaved on the same node (judged on any node, by a signed-rank test over the
    cases both answered)."""
    min_delta_ms: Number | None = Field(default=None, gt=0)
    """Noise floor of max_ratio: a candidate is over the ratio only where it is also at
    least this many milliseconds slower (a ratio of two small numbers is noise)."""


class Gates(Frozen):
    """Gate thresholds for this adapter line."""

    golden: GoldenRules = Field(default_factory=GoldenRules)
    latency: LatencyBudget = Field(default_factory=LatencyBudget)


class Retention(Frozen):
    """How many of the newest revisions gc always keeps in the store."""

    keep_latest: int = Field(default=1, ge=1, strict=True)


class AdapterLine(Frozen):
    """An adapter line: owners, golden suites, gate thresholds and retention."""

    name: Name
    description: Text
    owners: tuple[Owner, ...] = Field(min_length=1)
    """Teams or people who own the line's revisions (the ML team)."""
    product_owner: Owner
    """Owns the golden suites and accepts behaviour changes."""
    golden_suites: tuple[Name, ...] = ()
    """Suites under golden/ that gate every revision."""
    gates: Gates = Field(default_factory=Gates)
    retention: Retention = Field(default_factory=Retention)
