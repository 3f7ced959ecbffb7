"""Triage's node views: one node's models by served name, which of them is the base.

A served name with ``@`` is an adapter revision (``<alias>@<version>``); the node
configuration's ``base.served_name`` (else any other name) is the base; ``unknown``
(requests for models the node does not serve) is shown but never judged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from adapterctl.serving.scrape import UNKNOWN_MODEL, NodeScrape
from adapterctl.serving.triage_stats import Stats, pooled


@dataclass(frozen=True, slots=True)
class NodeView:
    """One node's judged models (``unknown`` apart), or its problem."""

    name: str
    base: str | None
    models: Mapping[str, Stats]
    unknown: Stats
    problem: str | None
    source: str

    @property
    def total(self) -> Stats:
        return pooled(self.models.values())


def kind(model: str, base: str | None) -> str:
    """base, adapter or unknown, by served name."""
    if model == UNKNOWN_MODEL:
        return "unknown"
    if model == base or (base is None and "@" not in model):
        return "base"
    return "adapter"


def view(scrape: NodeScrape) -> NodeView:
    models = {name: Stats.of(c) for name, c in scrape.models.items() if name != UNKNOWN_MODEL}
    bases = [name for name in models if kind(name, scrape.base) == "base"]
    base = scrape.base or (bases[0] if len(bases) == 1 else None)
    unknown = scrape.models.get(UNKNOWN_MODEL)
    unknown_stats = Stats() if unknown is None else Stats.of(unknown)
    return NodeView(scrape.node, base, models, unknown_stats, scrape.problem, scrape.source)


def by_base(views: Sequence[NodeView]) -> dict[str, list[NodeView]]:
    """Each base's family: the nodes that serve it (a node with no base is in none)."""
    families: dict[str, list[NodeView]] = {}
    for node in views:
        if node.base is not None:
            families.setdefault(node.base, []).append(node)
    return families


def by_model(views: Sequence[NodeView]) -> dict[str, Stats]:
    """Each served name's numbers, pooled over these nodes, sorted by name."""
    found: dict[str, Stats] = {}
    for node in views:
        for name, stats in node.models.items():
            found[name] = found.get(name, Stats()).plus(stats)
    return dict(sorted(found.items()))
