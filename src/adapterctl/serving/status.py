"""Desired vs actual, per node: what ``adapterctl status`` shows (read only, one call each)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from dataclasses import dataclass

from adapterctl.serving.basecheck import LocalBases, check_base
from adapterctl.serving.desired import DesiredState
from adapterctl.serving.nodeconfig import Node
from adapterctl.serving.plan import adapter_path, make_plan
from adapterctl.serving.reconcile import client_for
from adapterctl.serving.record import SyncRecord, read_record
from adapterctl.serving.vllm import MAX_PARALLEL, Card, NodeCallError, each_node, session


@dataclass(frozen=True)
class RevisionStatus:
    served_name: str
    weight: int
    loaded: bool
    root_matches: bool
    cached: bool
    tenants: tuple[str, ...] = ()

    @property
    def routed(self) -> bool:
        return self.weight > 0 or bool(self.tenants)

    @property
    def share(self) -> str:
        """``10 %``, ``0 % + tenants acme``, or ``retained``."""
        if not self.routed:
            return "retained"
        tenants = f" + tenants {', '.join(self.tenants)}" if self.tenants else ""
        return f"{self.weight} %{tenants}"

    @property
    def as_desired(self) -> bool:
        """Routed: loaded from our path. Retained (no traffic): verified in the cache."""
        return self.loaded and self.root_matches if self.routed else self.cached


@dataclass(frozen=True)
class NodeStatus:
    node: str
    reachable: bool
    revisions: tuple[RevisionStatus, ...]
    stale: tuple[str, ...]
    """Managed adapters loaded that the environment no longer routes."""
    problem: str | None
    """Why the node cannot serve the environment (down, another base), if so."""
    record: SyncRecord | None

    @property
    def drift(self) -> bool:
        wrong = any(not r.as_desired for r in self.revisions)
        return self.problem is not None or wrong or bool(self.stale)


def node_statuses(desired: DesiredState, nodes: Sequence[Node]) -> list[NodeStatus]:
    """Every node's status, asked at once from one event loop (as many as ``sync`` drives)."""
    work = functools.partial(node_status, desired, bases=LocalBases())
    return asyncio.run(each_node(nodes, MAX_PARALLEL, work))


async def node_status(desired: DesiredState, node: Node, bases: LocalBases) -> NodeStatus:
    record = read_record(node.cache_dir)
    try:
        async with session() as http:
            client = client_for(node, http)
            client.retries = 1
            cards = await client.models()
    except NodeCallError as exc:
        return NodeStatus(node.name, False, _unknown(desired), (), exc.message, record)
    problem = None
    try:
        check_base(node, desired.base, cards, bases)
    except NodeCallError as exc:
        problem = exc.message
    revisions, stale = _compare(desired, node, cards)
    return NodeStatus(node.name, True, revisions, stale, problem, record)


def _unknown(desired: DesiredState) -> tuple[RevisionStatus, ...]:
    return tuple(
        RevisionStatus(r.served_name, r.weight, False, False, False, r.tenants)
        for r in desired.revisions
    )


def _compare(
    desired: DesiredState, node: Node, cards: list[Card]
) -> tuple[tuple[RevisionStatus, ...], tuple[str, ...]]:
    adapters = {card.id: card for card in cards if card.parent is not None}
    rows = []
    for revision in desired.revisions:
        card = adapters.get(revision.served_name)
        expected = adapter_path(node.cache_dir, revision.digest)
        rows.append(
            RevisionStatus(
                revision.served_name,
                revision.weight,
                card is not None,
                card is not None and card.root == str(expected),
                expected.is_dir(),
                revision.tenants,
            )
        )
    return tuple(rows), make_plan(desired.revisions, cards, node.cache_dir).unloads
