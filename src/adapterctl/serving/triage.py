"""Triage: is an incident adapter-specific, base-specific or shared infrastructure?

Pure: node scrapes in (``adapterctl.serving.scrape``), tables and findings out. Which
served name is the base and which a revision is ``adapterctl.serving.triage_nodes``'s; what
counts as judged and as elevated is ``adapterctl.serving.triage_stats``'s.

The findings (``adapterctl.serving.triage_findings``) are checked in this order:
infrastructure, base-specific, adapter-specific; a node found faulty is left out of the
later checks.

With gateway scrapes (``adapterctl.serving.gateway_scrape``), the revisions' numbers come
from the gateways' series per node (vLLM cannot tell revisions apart), the nodes' own
scrapes still say which nodes can be read and what the base served, and a gateway that
cannot be read is an infrastructure finding too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from adapterctl.serving.gateway_scrape import GATEWAY, GatewayScrape, combine, unmatched
from adapterctl.serving.scrape import UNKNOWN_MODEL, NodeScrape
from adapterctl.serving.triage_findings import (
    Finding,
    Verdict,
    adapter_specific,
    base_specific,
    gateway_down,
    infrastructure,
)
from adapterctl.serving.triage_nodes import NodeView, by_base, by_model, kind, view
from adapterctl.serving.triage_stats import Stats, Thresholds, judged, pooled


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a table: a served name, a base family or a node."""

    name: str
    kind: str
    nodes: tuple[str, ...]
    stats: Stats
    note: str = ""


@dataclass(frozen=True, slots=True)
class Triage:
    thresholds: Thresholds
    revisions: list[Row]
    bases: list[Row]
    nodes: list[Row]
    cells: list[Row]
    """One row per (node, served name); ``nodes`` holds the one node."""
    findings: list[Finding] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)
    """What these metrics cannot tell (said, not guessed around)."""
    gateways: list[Row] = field(default_factory=list)
    """One row per gateway read (none without gateways)."""

    @property
    def verdict(self) -> Verdict:
        return self.findings[0].verdict if self.findings else Verdict.NONE


# --- tables ----------------------------------------------------------------------------


def _note(stats: Stats, t: Thresholds) -> str:
    return "" if judged(stats, t) else f"under {t.min_requests} requests: not judged"


def revision_rows(views: Sequence[NodeView], t: Thresholds) -> list[Row]:
    reachable = [v for v in views if v.problem is None]
    rows = []
    for name, stats in by_model(reachable).items():
        nodes = tuple(v.name for v in reachable if name in v.models)
        owner = next(v for v in reachable if name in v.models)
        rows.append(Row(name, kind(name, owner.base), nodes, stats, _note(stats, t)))
    unknown = pooled(v.unknown for v in reachable)
    if unknown.requests:
        note = "requests for models the node does not serve: not judged"
        nodes = tuple(v.name for v in reachable if v.unknown.requests)
        rows.append(Row(UNKNOWN_MODEL, "unknown", nodes, unknown, note))
    return rows


def base_rows(views: Sequence[NodeView], t: Thresholds) -> list[Row]:
    reachable = [v for v in views if v.problem is None]
    rows = []
    for base, family in sorted(by_base(reachable).items()):
        stats = pooled(v.total for v in family)
        nodes = tuple(v.name for v in family)
        rows.append(Row(base, "base and its revisions", nodes, stats, _note(stats, t)))
    return rows


def node_rows(views: Sequence[NodeView], t: Thresholds) -> list[Row]:
    rows = []
    for node in views:
        if node.problem is not None:
            rows.append(Row(node.name, "unreachable", (node.name,), Stats(), node.problem))
        else:
            note = _note(node.total, t) if node.models else "no requests recorded"
            label = f"{node.source} metrics" if node.source != "none" else "no metrics"
            rows.append(Row(node.name, label, (node.name,), node.total, note))
    return rows


def cell_rows(views: Sequence[NodeView], t: Thresholds) -> list[Row]:
    return [
        Row(name, kind(name, node.base), (node.name,), stats, _note(stats, t))
        for node in views
        for name, stats in sorted(node.models.items())
    ]


def triage(
    scrapes: Sequence[NodeScrape],
    t: Thresholds | None = None,
    gateways: Sequence[GatewayScrape] = (),
) -> Triage:
    """The tables and the findings for these scrapes (and these gateways' series)."""
    t = t or Thresholds()
    views = [view(s) for s in (combine(scrapes, gateways) if gateways else scrapes)]
    findings = infrastructure(views, t) + [gateway_down(g) for g in gateways if g.problem]
    faulty = {f.subject for f in findings}
    healthy = [v for v in views if v.problem is None and v.name not in faulty]
    findings += base_specific(healthy, t)
    on_faulty_base = {f.subject for f in findings if f.verdict is Verdict.BASE}
    rest = [v for v in healthy if v.base not in on_faulty_base]
    findings += adapter_specific(rest, t)
    return Triage(
        t,
        revision_rows(views, t),
        base_rows(views, t),
        node_rows(views, t),
        cell_rows(views, t),
        findings,
        limits(views) + gateway_limits(scrapes, gateways),
        gateway_rows(gateways),
    )


def gateway_rows(gateways: Sequence[GatewayScrape]) -> list[Row]:
    rows = []
    for gateway in gateways:
        if gateway.problem is not None:
            rows.append(Row(gateway.url, "unreachable", (), Stats(), gateway.problem))
            continue
        nodes = tuple(sorted({node for node, _ in gateway.cells}))
        stats = pooled(Stats.of(counts) for counts in gateway.cells.values())
        note = "" if gateway.cells else "no requests recorded"
        if gateway.refused:
            note = f"{gateway.refused:g} refused by the gateway itself (no revision chosen)"
        rows.append(Row(gateway.url, "gateway", nodes, stats, note))
    return rows


def limits(views: Sequence[NodeView]) -> list[str]:
    """vLLM labels every request with the base's name: on its nodes, adapter revisions
    cannot be told apart, so no adapter verdict can come from them (unless a gateway's
    series stand in for them)."""
    found = []
    on_vllm = [v.name for v in views if v.problem is None and v.source == "vllm"]
    if on_vllm:
        found.append(
            f"{', '.join(on_vllm)}: vLLM's /metrics count every request under the base's name "
            "(model_name), adapter requests included, so these nodes tell base from "
            "infrastructure but not one adapter revision from another; per-revision signals "
            "need metrics labelled per revision by a gateway in front of the nodes"
        )
    behind = [v.name for v in views if v.problem is None and v.source == f"vllm+{GATEWAY}"]
    if behind:
        found.append(
            f"{', '.join(behind)}: vLLM counts adapter requests under the base's name, so the "
            "revisions' numbers come from the gateways' series and the base's are vLLM's less "
            "the revisions' requests the gateways had answered there (requests that bypass the "
            "gateways count as the base's, and vLLM's own errors stay with it)"
        )
    return found


def gateway_limits(scrapes: Sequence[NodeScrape], gateways: Sequence[GatewayScrape]) -> list[str]:
    """Series for nodes that no node configuration names cannot be judged."""
    left = unmatched(scrapes, gateways)
    if not left:
        return []
    return [
        f"the gateways' series name {', '.join(left)}, which no --node-config names: their "
        f"{sum(left.values()):g} requests are not judged (a gateway must call its nodes by "
        "the names of their node configurations)"
    ]
