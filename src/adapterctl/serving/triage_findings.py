"""Triage's three findings: infrastructure, base-specific and adapter-specific.

Each check judges the node views it is given (``adapterctl.serving.triage`` leaves a node
found faulty out of the later checks):

- infrastructure: a node is unreachable, or its pooled numbers are elevated against the
  other nodes' and so is every model on it that the others serve too;
- base-specific: on every node of a base, every judged model (the base and its revisions,
  two at least, or the base alone) is elevated;
- adapter-specific: on every node that serves a revision, it is elevated against the other
  models of that node, which are normal.

A gateway that cannot be read is an infrastructure finding too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from adapterctl.serving.gateway_scrape import GatewayScrape
from adapterctl.serving.triage_nodes import NodeView, by_base, by_model, kind
from adapterctl.serving.triage_stats import (
    Stats,
    Thresholds,
    above,
    elevated,
    judged,
    numbers,
    pooled,
)


class Verdict(StrEnum):
    ADAPTER = "adapter-specific"
    BASE = "base-specific"
    INFRASTRUCTURE = "infrastructure"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Finding:
    verdict: Verdict
    subject: str
    nodes: tuple[str, ...]
    message: str


def node_degraded(node: NodeView, others: Sequence[NodeView], t: Thresholds) -> bool:
    """Its pooled numbers are elevated, and so is every model the others serve too."""
    if not others or not above(node.total, pooled(o.total for o in others), t):
        return False
    for model, stats in node.models.items():
        theirs = pooled(o.models[model] for o in others if model in o.models)
        if judged(stats, t) and judged(theirs, t) and not above(stats, theirs, t):
            return False
    return True


def infrastructure(views: Sequence[NodeView], t: Thresholds) -> list[Finding]:
    reachable = [v for v in views if v.problem is None]
    findings = [_down(v) for v in views if v.problem is not None]
    for node in reachable:
        others = [v for v in reachable if v is not node]
        if node_degraded(node, others, t):
            findings.append(_degraded(node, pooled(o.total for o in others)))
    return findings


def _down(node: NodeView) -> Finding:
    message = f"node {node.name} cannot be read: {node.problem}"
    return Finding(Verdict.INFRASTRUCTURE, node.name, (node.name,), message)


def _degraded(node: NodeView, others: Stats) -> Finding:
    message = (
        f"node {node.name} is elevated across all its models: {numbers(node.total)}, "
        f"against {numbers(others)} on the other nodes"
    )
    return Finding(Verdict.INFRASTRUCTURE, node.name, (node.name,), message)


def gateway_down(gateway: GatewayScrape) -> Finding:
    """A gateway that cannot be read: an infrastructure finding that names no node."""
    message = f"gateway {gateway.url} cannot be read: {gateway.problem}"
    return Finding(Verdict.INFRASTRUCTURE, gateway.url, (), message)


def base_specific(views: Sequence[NodeView], t: Thresholds) -> list[Finding]:
    findings = []
    for base, family in by_base(views).items():
        if _all_elevated(base, family, t):
            findings.append(_base_finding(base, family, t))
    return findings


def _all_elevated(base: str, family: Sequence[NodeView], t: Thresholds) -> bool:
    cells = [(n, s) for node in family for n, s in node.models.items() if judged(s, t)]
    names = {name for name, _ in cells}
    if not cells or (len(names) < 2 and base not in names):
        return False
    return all(elevated(stats, t) for _, stats in cells)


def _base_finding(base: str, family: Sequence[NodeView], t: Thresholds) -> Finding:
    per_model = by_model(family)
    shown = "; ".join(f"{name} {numbers(s)}" for name, s in per_model.items() if judged(s, t))
    message = (
        f"base {base}: it and every revision on it are elevated on every node "
        f"({', '.join(n.name for n in family)}): {shown}"
    )
    if len(family) == 1:
        message += " (one node only: a fault of that node cannot be ruled out)"
    return Finding(Verdict.BASE, base, tuple(n.name for n in family), message)


def adapter_specific(views: Sequence[NodeView], t: Thresholds) -> list[Finding]:
    findings = []
    for model in _adapters(views):
        serving = [v for v in views if model in v.models and judged(v.models[model], t)]
        if serving and all(_stands_out(v, model, t) for v in serving):
            findings.append(_adapter_finding(model, serving))
    return findings


def _adapters(views: Sequence[NodeView]) -> list[str]:
    names = {n for v in views for n in v.models if kind(n, v.base) == "adapter"}
    return sorted(names)


def _rest(node: NodeView, model: str) -> Stats:
    return pooled(stats for name, stats in node.models.items() if name != model)


def _stands_out(node: NodeView, model: str, t: Thresholds) -> bool:
    rest = _rest(node, model)
    return not elevated(rest, t) and above(node.models[model], rest, t)


def _adapter_finding(model: str, serving: Sequence[NodeView]) -> Finding:
    mine = pooled(v.models[model] for v in serving)
    rest = pooled(_rest(v, model) for v in serving)
    names = tuple(v.name for v in serving)
    message = (
        f"{model} is elevated on every node that serves it ({', '.join(names)}): "
        f"{numbers(mine)}, against {numbers(rest)} for the base and other revisions there"
    )
    return Finding(Verdict.ADAPTER, model, names, message)
