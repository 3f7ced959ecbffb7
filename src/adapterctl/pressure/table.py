"""The side-by-side table of a run: one row per metric, one column per revision."""

from __future__ import annotations

from rich.table import Table

from adapterctl.gates.pressure import Comparison
from adapterctl.pressure.metrics import REPORTED, ratio
from adapterctl.pressure.stats import RevisionStats


def side_by_side(comparison: Comparison) -> Table:
    """Rows: requests, then every reported metric; the last column is candidate ÷ baseline."""
    revisions = [r for r in (comparison.candidate, comparison.baseline) if r is not None]
    table = Table(
        title=f"pressure: {comparison.profile.name} ({comparison.path})",
        caption="latency, time to first token, error rate: the requests to the revision "
        "under test; whole mix: every request of its rounds",
    )
    table.add_column("metric")
    for revision in revisions:
        table.add_column(revision.revision, justify="right")
    if comparison.baseline is not None:
        table.add_column("ratio", justify="right")
    table.add_row("requests to the revision", *_counts(revisions, all_requests=False))
    table.add_row("requests, whole mix", *_counts(revisions, all_requests=True))
    for metric in REPORTED:
        values = [metric.value(r) for r in revisions]
        cells = [metric.show(v) for v in values]
        if len(values) == 2:
            factor = ratio(values[0], values[1])
            cells.append("" if factor is None else f"×{factor:.2f}")
        table.add_row(metric.label + (", whole mix" if metric.scope == "all" else ""), *cells)
    return table


def _counts(revisions: list[RevisionStats], *, all_requests: bool) -> list[str]:
    cells = []
    for revision in revisions:
        summary = revision.all if all_requests else revision.candidate
        cells.append(f"{summary.requests} ({summary.errors} failed)")
    return cells + ([""] if len(revisions) == 2 else [])
