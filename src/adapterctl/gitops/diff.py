"""``diff``: the route changes between an environment at two git revisions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import git

from adapterctl.errors import InputError, UsageError
from adapterctl.gitops.routes import (
    Change,
    RouteTable,
    UnparseableError,
    parse_routes,
    route_changes,
)
from adapterctl.gitrepo import RegistryRepo
from adapterctl.layout import environment_path


@dataclass(frozen=True, slots=True)
class Side:
    """The environment file at one revision."""

    ref: str
    commit: str
    exists: bool
    routes: RouteTable


@dataclass(frozen=True, slots=True)
class RouteDiff:
    env: str
    before: Side
    after: Side
    changes: tuple[Change, ...]


def diff(root: Path, env: str, ref1: str, ref2: str) -> RouteDiff:
    """What a sync would do to move ``env`` from its state at ``ref1`` to that at ``ref2``."""
    registry = RegistryRepo.open(root, "diff")
    before = _side(registry, env, ref1)
    after = _side(registry, env, ref2)
    if not before.exists and not after.exists:
        raise UsageError(
            f"unknown environment '{env}': {environment_path(env)} exists at neither "
            f"{ref1} nor {ref2}"
        )
    return RouteDiff(env, before, after, tuple(route_changes(before.routes, after.routes)))


def _side(registry: RegistryRepo, env: str, ref: str) -> Side:
    try:
        commit = registry.repo.commit(ref)
    except (git.BadName, ValueError, git.GitCommandError):
        raise UsageError(f"unknown git revision '{ref}'") from None
    path = registry.prefix + environment_path(env)
    try:
        blob = commit.tree / path
    except KeyError:
        return Side(ref, commit.hexsha, False, {})
    try:
        routes = parse_routes(blob.data_stream.read())
    except UnparseableError as exc:
        raise InputError(f"{environment_path(env)} at {ref} cannot be read: {exc}") from None
    return Side(ref, commit.hexsha, True, routes)
