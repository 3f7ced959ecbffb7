"""An environment's routes as a plain table, and the changes between two tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError

from adapterctl.errors import AdapterctlError
from adapterctl.model.common import first_error
from adapterctl.model.environment import Environment
from adapterctl.yamlio import decode, load

RouteTable = dict[str, dict[str, int]]
"""Alias → version → weight."""
Action = Literal["load", "unload", "weight"]


class UnparseableError(Exception):
    """A historical environment file that is not valid YAML or not a valid environment."""


@dataclass(frozen=True, slots=True)
class Change:
    """What a sync does for one alias and version: load, unload, or set its weight."""

    alias: str
    version: str
    action: Action
    before: int | None
    after: int | None

    def describe(self) -> str:
        target = f"{self.alias}@{self.version}"
        if self.action == "load":
            return f"load {target} (weight {self.after})"
        if self.action == "unload":
            return f"unload {target} (was weight {self.before})"
        retained = " (retained)" if self.after == 0 else ""
        return f"set weight {target} {self.before} -> {self.after}{retained}"

    def to_json(self) -> dict[str, object]:
        return {
            "alias": self.alias,
            "version": self.version,
            "action": self.action,
            "from": self.before,
            "to": self.after,
        }


def parse_routes(data: bytes) -> RouteTable:
    """The routes of an environment file; raises :class:`UnparseableError`."""
    try:
        value, _ = load(decode(data))
        env = Environment.model_validate(value)
    except (AdapterctlError, ValidationError) as exc:
        raise UnparseableError(_first_line(exc)) from None
    return {
        alias: {route.version: route.weight for route in routes}
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


def _change(alias: str, version: str, before: int | None, after: int | None) -> Change | None:
    if before == after:
        return None
    if before is None:
        return Change(alias, version, "load", None, after)
    if after is None:
        return Change(alias, version, "unload", before, None)
    return Change(alias, version, "weight", before, after)
