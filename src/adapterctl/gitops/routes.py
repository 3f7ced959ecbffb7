"""An environment's routes as a plain table, and the changes between two tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from pydantic import ValidationError

from adapterctl.errors import AdapterctlError
from adapterctl.layout import served_name
from adapterctl.model.common import first_error
from adapterctl.model.environment import Environment
from adapterctl.yamlio import decode, load


class Routed(NamedTuple):
    """One route of a table: its weight and its canary tenants."""

    weight: int
    tenants: tuple[str, ...] = ()


RouteTable = dict[str, dict[str, Routed]]
"""Alias → version → weight and tenants."""
Action = Literal["load", "unload", "weight", "tenants"]


class UnparseableError(Exception):
    """A historical environment file that is not valid YAML or not a valid environment."""


@dataclass(frozen=True, slots=True)
class Change:
    """What a sync does for one alias and version: load, unload, set its weight, or set its
    canary tenants (``before``/``after`` are weights; the tenants are beside them)."""

    alias: str
    version: str
    action: Action
    before: int | None
    after: int | None
    tenants_before: tuple[str, ...] = ()
    tenants_after: tuple[str, ...] = ()

    def describe(self) -> str:
        target = served_name(self.alias, self.version)
        if self.action in ("load", "unload") and target == self.version:
            return self._describe_base(target)  # a merged base: routed to, never loaded
        if self.action == "load":
            return f"load {target} (weight {self.after}{_tenants(self.tenants_after)})"
        if self.action == "unload":
            return f"unload {target} (was weight {self.before})"
        if self.action == "tenants":
            old, new = (", ".join(t) or "none" for t in (self.tenants_before, self.tenants_after))
            return f"set tenants {target} {old} -> {new}"
        retained = " (retained)" if self.after == 0 and not self.tenants_after else ""
        tenants = "" if self.tenants_before == self.tenants_after else _tenants(self.tenants_after)
        return f"set weight {target} {self.before} -> {self.after}{retained}{tenants}"

    def _describe_base(self, target: str) -> str:
        """A merged base's route coming or going: the gateway routes to the nodes that serve
        it; the adapter nodes' sync leaves it alone."""
        if self.action == "load":
            tenants = _tenants(self.tenants_after)
            return f"route to {target} (merged base, weight {self.after}{tenants})"
        return f"stop routing to {target} (merged base, was weight {self.before})"

    def to_json(self) -> dict[str, object]:
        document: dict[str, object] = {
            "alias": self.alias,
            "version": self.version,
            "action": self.action,
            "from": self.before,
            "to": self.after,
        }
        if self.tenants_before or self.tenants_after:  # canary tenants, only where there are
            document.update(tenants_from=list(self.tenants_before),
                            tenants_to=list(self.tenants_after))  # fmt: skip
        return document


def _tenants(tenants: tuple[str, ...]) -> str:
    return f", tenants {', '.join(tenants)}" if tenants else ""


def parse_routes(data: bytes) -> RouteTable:
    """The routes of an environment file; raises :class:`UnparseableError`."""
    try:
        value, _ = load(decode(data))
        env = Environment.model_validate(value)
    except (AdapterctlError, ValidationError) as exc:
        raise UnparseableError(_first_line(exc)) from None
    return {
        alias: {route.key: Routed(route.weight, tuple(route.tenants)) for route in routes}
        for alias, routes in env.routes.items()
    }


def _first_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return first_error(exc)
    return str(exc).splitlines()[0]


def route_changes(before: RouteTable, after: RouteTable) -> list[Change]:
    """The changes that turn ``before`` into ``after``, sorted by alias and version."""
    changes: list[Change] = []
    for alias in sorted(before.keys() | after.keys()):
        old = before.get(alias, {})
        new = after.get(alias, {})
        for version in sorted(old.keys() | new.keys()):
            change = _change(alias, version, old.get(version), new.get(version))
            if change is not None:
                changes.append(change)
    return changes


def _change(alias: str, version: str, before: Routed | None, after: Routed | None) -> Change | None:
    if before == after:
        return None
    if before is None:
        assert after is not None
        return Change(alias, version, "load", None, after.weight, (), after.tenants)
    if after is None:
        return Change(alias, version, "unload", before.weight, None, before.tenants, ())
    action: Action = "weight" if before.weight != after.weight else "tenants"
    return Change(alias, version, action, before.weight, after.weight, before.tenants,
                  after.tenants)  # fmt: skip
