"""``promote-base``: an environment moved to another base revision, every routed alias with
it, in one commit on ``promote-base/<env>/<base>-<revision>``.

A base cannot change under an adapter (it was trained on one base: DESIGN §5b), so the
environment's base and the routes of every alias change together, each alias to a revision
registered against the new base; ``git revert`` of that one commit is the way back. It is
refused, before anything is written, when an alias has no such revision, when one is in
the middle of a canary, when a chosen revision fails its gates on the new base, or when the
environment takes only what its upstream (``promotion.from``) has served and the upstream
does not serve the new base yet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from adapterctl import layout
from adapterctl.checks import check_revisions
from adapterctl.errors import InputError, UsageError
from adapterctl.findings import Report, Severity
from adapterctl.gitops import branches, steps
from adapterctl.gitops.changes import env_routes, gate_environment, validate_environment
from adapterctl.gitops.edit import set_base, set_routes
from adapterctl.gitops.evidence import Evidence, find_evidence
from adapterctl.gitops.promote import GatesFailed, Request, SoakCheck, check_soak
from adapterctl.model import AdapterRevision, BaseRef, Environment
from adapterctl.model.kinds import Kind
from adapterctl.registry import Registry
from adapterctl.semver import semver_key
from adapterctl.store.base import Store
from adapterctl.store.digests import DigestCache
from adapterctl.yamlio import read_bytes


@dataclass(frozen=True)
class BaseRequest:
    """What to move, from the command line."""

    env: str
    base: BaseRef
    chosen: dict[str, str] = field(default_factory=dict)
    """``--use ALIAS=VERSION``: the revision an alias moves to (default: its newest one
    registered against the new base)."""
    sign: bool = False


@dataclass(frozen=True)
class Move:
    """One alias across the base change."""

    alias: str
    before: steps.Routes
    version: str
    soak: SoakCheck | None
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class BasePromotion:
    """The committed base change and what its pull request must say."""

    env: str
    old: BaseRef
    new: BaseRef
    moves: tuple[Move, ...]
    gates: Report
    branch: str
    base_branch: str
    commit: str
    signed: bool
    message: str


def promote_base(root: Path, store: Store, request: BaseRequest, now: datetime) -> BasePromotion:
    """Check, edit and commit the base change; raises on any refusal."""
    checkout = branches.clean_checkout(root, "promote-base")
    registry = Registry.load(root)
    env = gate_environment(registry, request.env)
    new = request.base
    if registry.base(new.name, new.revision) is None:
        path = layout.base_path(new.name, new.revision)
        what = "is not a valid manifest" if registry.exists(path) else "does not exist"
        raise UsageError(f"no base {new}: {path} {what}")
    if env.base == new:
        raise InputError(f"nothing to change: {request.env} already serves {new}")
    _upstream_serves(registry, env, request)
    chosen = _choose(registry, env, request)
    report = _gates(registry, store, request, chosen)
    if report.failed:
        raise GatesFailed(f"not moved: a revision fails its gates on {new}", report)
    moves = tuple(
        Move(
            alias,
            env_routes(env, alias),
            version,
            _soak(root, env, request.env, alias, version, now),
            find_evidence(root, alias, version),
        )
        for alias, version in chosen.items()
    )
    _evidence_passed(moves, new)
    branch = f"promote-base/{request.env}/{new.name}-{new.revision}"
    message = _message(request.env, env.base, new, moves)
    path = layout.environment_path(request.env)
    text = read_bytes(root / path).decode()
    for move in moves:
        text = set_routes(text, move.alias, (steps.Route(move.version, 100),), display=path)
    text = set_base(text, new.name, new.revision, display=path)
    validate_environment(text, path)
    branches.require_new_branch(checkout, branch, lambda: _open(checkout, request.env))
    with branches.worktree(checkout) as tree:
        (tree / checkout.registry.prefix / path).write_text(text, encoding="utf-8")
        branches.add(tree, checkout.registry.prefix + path)
        commit = branches.commit_in(tree, message, sign=request.sign)
    branches.set_branch(checkout, branch, commit)
    return BasePromotion(request.env, env.base, new, moves, report, branch, checkout.branch,
                         commit, request.sign, message)  # fmt: skip


def _evidence_passed(moves: tuple[Move, ...], new: BaseRef) -> None:
    """Refuse a move whose golden or pressure evidence says it failed (missing evidence is
    listed in the pull request: its CI jobs make it)."""
    failed = [(m, e) for m in moves for e in m.evidence if e.ok is False]
    if failed:
        listed = "; ".join(f"{m.alias}@{m.version}: {e.path}" for m, e in failed)
        raise InputError(
            f"not moved: the evidence of a revision for {new} says it failed ({listed})",
            hint="fix or replace the revision, or run eval/pressure again and keep the evidence "
            "of a passing run",
        )


def _upstream_serves(registry: Registry, env: Environment, request: BaseRequest) -> None:
    upstream = env.promotion.from_
    if upstream is None:
        return
    served = registry.environment(upstream)
    if served is not None and served.base != request.base:
        raise InputError(
            f"not moved: {request.env} takes only what {upstream} has served "
            f"(promotion.from: {upstream}), and {upstream} serves {served.base}, not "
            f"{request.base}",
            hint=f"move {upstream} first: adapterctl promote-base {request.base} --env {upstream}",
        )


def _choose(registry: Registry, env: Environment, request: BaseRequest) -> dict[str, str]:
    """Alias → the revision it moves to; refuses a canary in flight or a missing revision."""
    unknown = sorted(set(request.chosen) - set(env.routes))
    if unknown:
        raise UsageError(f"--use {unknown[0]}=…: {unknown[0]} is not routed in {request.env}")
    chosen, missing = {}, []
    for alias in env.routes:
        routes = env_routes(env, alias)
        active = steps.active(routes)
        if len(active) > 1 or any(route.tenants for route in routes):
            raise InputError(
                f"not moved: {alias} is in the middle of a canary in {request.env} "
                f"({steps.describe(routes)})",
                hint=f"finish or roll back the canary first (adapterctl promote --finish, "
                f"or adapterctl rollback --env {request.env} {alias})",
            )
        version = request.chosen.get(alias) or _newest(registry, alias, request.base)
        if version is None:
            missing.append(alias)
            continue
        revision = registry.revision(alias, version)
        if revision is None:
            path = layout.revision_path(alias, version)
            raise UsageError(f"--use {alias}={version}: {path} is missing or invalid")
        if revision.base != request.base:
            raise InputError(
                f"not moved: {alias}@{version} was trained on {revision.base}, not on "
                f"{request.base}"
            )
        chosen[alias] = version
    if missing:
        have = "has" if len(missing) == 1 else "have"
        raise InputError(
            f"not moved: {', '.join(missing)} {have} no revision registered for "
            f"{request.base}, and {request.env} routes {'it' if len(missing) == 1 else 'them'}",
            hint=f"register a revision trained on {request.base} for each "
            "(adapterctl register … --base "
            f"{request.base}), or stop routing the alias first",
        )
    return chosen


def _newest(registry: Registry, alias: str, base: BaseRef) -> str | None:
    versions = [
        entry.placement.item or ""
        for entry in registry.of_kind(Kind.ADAPTER_REVISION)
        if entry.placement.name == alias
    ]
    fitting = [v for v in versions if _on(registry.revision(alias, v), base)]
    return max(fitting, key=semver_key, default=None)


def _on(revision: AdapterRevision | None, base: BaseRef) -> bool:
    return revision is not None and revision.base == base


def _gates(
    registry: Registry, store: Store, request: BaseRequest, chosen: dict[str, str]
) -> Report:
    """Schema findings of the files involved, then integrity and compat of every chosen
    revision against its (the new) base."""
    involved = {layout.environment_path(request.env),
                layout.base_path(request.base.name, request.base.revision)}  # fmt: skip
    involved |= {layout.revision_path(alias, version) for alias, version in chosen.items()}
    schema = [f for f in registry.findings if f.location.file in involved]
    if any(f.severity is Severity.ERROR for f in schema):
        return Report.build("promote-base", sorted(involved), schema)
    checked = check_revisions(registry, store, sorted(chosen.items()), (), DigestCache.default())
    return Report.build("promote-base", checked.checked, [*schema, *checked.findings])


def _soak(
    root: Path, env: Environment, name: str, alias: str, version: str, now: datetime
) -> SoakCheck | None:
    request = Request(alias, version, name, weight=None, finish=True, sign=False)
    return check_soak(root, env, request, now)


def _open(checkout: branches.Checkout, env: str) -> list[str]:
    """Open branches that change ``env``'s routes or base: any of them would conflict."""
    out = str(checkout.repo.git.for_each_ref(
        "--format=%(refname:short)", "--no-merged=HEAD", "refs/heads", "refs/remotes"))  # fmt: skip
    pattern = re.compile(rf"^(?:[^/]+/)?(?:promote|rollback|promote-base)/{re.escape(env)}/")
    return sorted(ref for ref in out.splitlines() if pattern.match(ref))


def _message(env: str, old: BaseRef, new: BaseRef, moves: tuple[Move, ...]) -> str:
    lines = [f"Move {env} to base {new} (from {old})", ""]
    lines += [
        f"Routes of {move.alias} in {env}: {steps.describe(move.before)} -> {move.version} 100 %."
        for move in moves
    ]
    return "\n".join(
        [*lines, "", f"Base: {new}", f"Previous-Base: {old}", f"Environment: {env}", ""]
    )
