"""The rounds of a run: which part of the schedule is replayed against which revision, when.

With a baseline the schedule is cut in two halves and replayed A-B-B-A: candidate first
half, baseline first half, baseline second half, candidate second half. Both revisions see
every request once, and a drift of the node over the run (warming caches, a neighbour's
load, thermal throttling) falls on both alike — in the middle of the run for the baseline,
at both ends for the candidate. Without a baseline the candidate replays the whole schedule
in one round.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from adapterctl.model.pressure import CANDIDATE
from adapterctl.pressure.load import RoundPlan, Shot
from adapterctl.pressure.schedule import Request, halves


def plan_rounds(
    requests: Sequence[Request],
    targets: Mapping[str, str],
    candidate: str,
    baseline: str | None,
) -> list[RoundPlan]:
    """The rounds in the order they run. ``targets`` maps every mix target except
    'candidate' to its served model name; 'candidate' is the round's revision."""
    if baseline is None:
        parts = [(candidate, tuple(requests))]
    else:
        first, second = halves(requests)
        parts = [(candidate, first), (baseline, first), (baseline, second), (candidate, second)]
    rounds: list[RoundPlan] = []
    for revision, part in parts:
        if part:
            models = {**targets, CANDIDATE: revision}
            rounds.append(RoundPlan(len(rounds) + 1, revision, _shots(part, models)))
    return rounds


def _shots(part: Sequence[Request], models: Mapping[str, str]) -> tuple[Shot, ...]:
    """The part's requests, their offsets counted from the part's first arrival."""
    origin = part[0].offset_s
    return tuple(Shot(r, models[r.target], r.offset_s - origin) for r in part)
