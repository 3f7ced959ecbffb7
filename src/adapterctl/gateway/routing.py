"""The route table and the choice of a revision for one request (pure: no I/O).

A request to an alias goes, in this order, to:

1. the revision that lists the caller's tenant (a tenant canary), when it is served;
2. otherwise one of the revisions with weight > 0 that some healthy node has loaded, chosen
   by a stable hash of (alias, caller): the same caller lands on the same revision on every
   gateway replica, and the split over many callers converges to the weights.

The revisions of an alias are laid on [0, 1) newest first, each taking its weight's share,
so a canary growing from 10 % to 25 % keeps the callers it had and gains new ones; a
revision no node has loaded gives its share to the others in proportion. A request that
names ``NAME@VERSION`` gets exactly that revision, if the environment routes it.
A caller without identity (no session, user or key) is placed by a fresh random draw.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass

from adapterctl import layout
from adapterctl.semver import route_key_order
from adapterctl.serving.desired import DesiredState

SCALE = 1 << 64


@dataclass(frozen=True, slots=True)
class Target:
    """One revision of an alias, as the route table holds it."""

    alias: str
    version: str
    """The route's key: a semantic version, or ``NAME@REVISION`` of a base served on its own
    (the metrics' ``version`` label either way)."""
    weight: int
    tenants: tuple[str, ...]

    @property
    def served_name(self) -> str:
        return layout.served_name(self.alias, self.version)


@dataclass(frozen=True, slots=True)
class RouteTable:
    """The routes of one environment at one verified commit."""

    env: str
    commit: str
    aliases: dict[str, tuple[Target, ...]]
    """Alias → its revisions, newest first."""
    named: dict[str, Target]
    """``NAME@VERSION`` → the revision, for requests that pin one."""

    @property
    def tenants(self) -> frozenset[str]:
        """Every tenant a route names."""
        return frozenset(t for targets in self.aliases.values() for x in targets for t in x.tenants)

    def targets(self) -> tuple[Target, ...]:
        return tuple(self.named.values())


def route_table(desired: DesiredState) -> RouteTable:
    """The table of ``desired`` (already validated: weights sum to 100 per alias)."""
    aliases: dict[str, tuple[Target, ...]] = {}
    for alias, routes in desired.environment.routes.items():
        targets = (Target(alias, r.key, r.weight, tuple(r.tenants)) for r in routes)
        aliases[str(alias)] = tuple(
            sorted(targets, key=lambda t: route_key_order(t.version), reverse=True)
        )
    named = {t.served_name: t for targets in aliases.values() for t in targets}
    return RouteTable(desired.env, desired.commit, aliases, named)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request cannot be routed: vLLM's error fields."""

    status: int
    type: str
    message: str


Served = Callable[[str], bool]
"""Whether some healthy node has this served name loaded."""


def choose(
    table: RouteTable, model: str, caller: bytes | None, tenant: str | None, served: Served
) -> Target | Refusal:
    """The revision for one request to ``model`` (an alias or ``NAME@VERSION``)."""
    pinned = table.named.get(model)
    if pinned is not None:
        return pinned if served(pinned.served_name) else _unavailable(model)
    targets = table.aliases.get(model)
    if targets is None:
        return Refusal(404, "NotFoundError", f"The model `{model}` does not exist.")
    if tenant is not None:
        for target in targets:
            if tenant in target.tenants and served(target.served_name):
                return target
    live = [t for t in targets if t.weight > 0 and served(t.served_name)]
    if not live:
        return _unavailable(model)
    return _by_weight(live, _point(model, caller))


def _unavailable(model: str) -> Refusal:
    return Refusal(
        503, "ServiceUnavailableError", f"No healthy node serves `{model}`; try again later."
    )


def _point(alias: str, caller: bytes | None) -> int:
    """A point in [0, SCALE): a hash of (alias, caller), or random without a caller."""
    if caller is None:
        return random.getrandbits(64)
    digest = hashlib.blake2b(alias.encode() + b"\0" + caller, digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _by_weight(live: list[Target], point: int) -> Target:
    total = sum(t.weight for t in live)
    mark = point * total // SCALE
    for target in live:
        if mark < target.weight:
            return target
        mark -= target.weight
    return live[-1]
