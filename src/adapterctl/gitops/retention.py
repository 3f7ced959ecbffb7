"""Which adapter revisions retention keeps, and why (the planning half of ``gc``).

A revision is kept when an environment routes it now (weight 0 included: that is a
revision retained for rollback), when it is referenced in one of an environment's last K
states on HEAD's first-parent line, or when it is among the newest revisions of its line
(``retention.keep_latest`` in ``adapter.yaml``, 1 by default).

A *state* is a distinct route table: state 1 is the environment file at HEAD, state 2 the
routes before the last commit that changed them, and so on. Commits that change the file
but not its routes (a description, a comment, serving settings) do not use up a state,
so ``--keep-states 2`` always keeps what a rollback of the last route change needs. A
state that cannot be parsed is skipped but counts as one of the K, with a warning.
Nothing here prints or touches the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from adapterctl import layout
from adapterctl.errors import InputError
from adapterctl.gitops.blobs import Blobs
from adapterctl.gitops.history import file_states
from adapterctl.gitops.routes import Routed, RouteTable, UnparseableError
from adapterctl.gitrepo import RegistryRepo
from adapterctl.model import Environment
from adapterctl.model.kinds import Kind
from adapterctl.registry import Registry
from adapterctl.semver import semver_key


@dataclass(frozen=True, slots=True)
class Retention:
    """Kept revisions (``name@version``) with their reasons, and what could not be read."""

    keep_states: int
    reasons: dict[str, tuple[str, ...]]
    warnings: tuple[str, ...]


@dataclass
class _Reasons:
    by_revision: dict[str, list[str]] = field(default_factory=dict)

    def add(self, revisions: Iterable[str], reason: str) -> None:
        for revision in revisions:
            listed = self.by_revision.setdefault(revision, [])
            if reason not in listed:
                listed.append(reason)

    def frozen(self) -> dict[str, tuple[str, ...]]:
        return {rev: tuple(reasons) for rev, reasons in sorted(self.by_revision.items())}


def retained(repo: RegistryRepo, registry: Registry, keep_states: int) -> Retention:
    """Every revision retention keeps in ``registry``, with the reasons."""
    now = environments_now(registry)
    reasons = _Reasons()
    for env, table in sorted(now.items()):
        _add_now(reasons, env, table)
    warnings: list[str] = []
    blobs = Blobs(repo.repo)
    for env in sorted(now.keys() | _environments_at_head(repo)):
        tables, problems = last_states(repo, env, keep_states, blobs)
        warnings += problems
        routed_now = set(_revisions(now.get(env, {})))
        for table in tables:
            earlier = [rev for rev in _revisions(table) if rev not in routed_now]
            reasons.add(earlier, _history_reason(env, keep_states))
    for revision, reason in newest_of_lines(registry):
        reasons.add([revision], reason)
    return Retention(keep_states, reasons.frozen(), tuple(warnings))


def environments_now(registry: Registry) -> dict[str, RouteTable]:
    """The routes of every environment in the working tree; refuses an invalid one."""
    tables: dict[str, RouteTable] = {}
    for path in sorted(registry.checked):
        placement = layout.classify(path)
        if placement is None or placement.kind is not Kind.ENVIRONMENT:
            continue
        env = registry.model(path, Environment)
        if env is None:
            raise InputError(
                f"{path} is invalid: gc cannot tell which revisions it routes",
                hint=f"fix it first (adapterctl validate {path})",
            )
        tables[placement.name] = {
            alias: {route.key: Routed(route.weight, tuple(route.tenants)) for route in routes}
            for alias, routes in env.routes.items()
        }
    return tables


def _add_now(reasons: _Reasons, env: str, table: RouteTable) -> None:
    for alias, versions in sorted(table.items()):
        for version, (weight, tenants) in sorted(versions.items()):
            routed = weight or tenants
            reason = f"routed in {env} now" if routed else f"retained in {env} now (weight 0)"
            reasons.add([f"{alias}@{version}"], reason)


def _environments_at_head(repo: RegistryRepo) -> set[str]:
    """Environments whose file is committed at HEAD (deleted from the work tree or not)."""
    if not repo.repo.head.is_valid():
        return set()
    folder = repo.prefix + "environments/"
    out = repo.repo.git.ls_tree("--name-only", "-r", "HEAD", "--", folder)
    names = set()
    for line in str(out).splitlines():
        placement = layout.classify(line.removeprefix(repo.prefix))
        if placement is not None and placement.kind is Kind.ENVIRONMENT:
            names.add(placement.name)
    return names


def last_states(
    repo: RegistryRepo, env: str, keep_states: int, blobs: Blobs
) -> tuple[list[RouteTable], list[str]]:
    """The route tables of ``env``'s last ``keep_states`` states, and warnings."""
    tables: list[RouteTable] = []
    warnings: list[str] = []
    previous: RouteTable | None = None
    counted = 0
    for state in file_states(repo, layout.environment_path(env)):
        if counted == keep_states:
            break
        parsed = blobs.routes(state.blob)
        if isinstance(parsed, UnparseableError):
            counted += 1
            previous = None
            warnings.append(_unparseable(env, counted, keep_states, state.commit, parsed))
        elif parsed != previous:
            counted += 1
            previous = parsed
            tables.append(parsed)
    return tables, warnings


def _unparseable(env: str, number: int, keep: int, commit: str, error: UnparseableError) -> str:
    return (
        f"{layout.environment_path(env)} at {commit[:12]} (state {number} of {keep}) "
        f"is unparseable and was skipped: {error}"
    )


def _history_reason(env: str, keep_states: int) -> str:
    if keep_states == 1:
        return f"in {env}'s last state"
    return f"in {env}'s last {keep_states} states"


def _revisions(table: RouteTable) -> list[str]:
    return [f"{alias}@{version}" for alias, versions in table.items() for version in versions]


def newest_of_lines(registry: Registry) -> list[tuple[str, str]]:
    """(revision, reason) for the newest ``retention.keep_latest`` revisions of each line."""
    versions: dict[str, list[str]] = {}
    for entry in registry.of_kind(Kind.ADAPTER_REVISION):
        if entry.placement.item is not None:
            versions.setdefault(entry.placement.name, []).append(entry.placement.item)
    kept: list[tuple[str, str]] = []
    for name, found in sorted(versions.items()):
        count = _keep_latest(registry, name)
        newest = sorted(found, key=semver_key, reverse=True)[:count]
        kept.append((f"{name}@{newest[0]}", "newest of its line"))
        kept += [(f"{name}@{v}", f"among the {count} newest of its line") for v in newest[1:]]
    return kept


def _keep_latest(registry: Registry, name: str) -> int:
    line = registry.line(name)
    if line is not None:
        return line.retention.keep_latest
    path = layout.line_path(name)
    if registry.exists(path):
        raise InputError(
            f"{path} is invalid: gc cannot tell how many revisions of {name} to keep",
            hint=f"fix it first (adapterctl validate {path})",
        )
    return 1
