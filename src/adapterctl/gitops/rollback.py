"""``rollback``: revert the commit that last changed an alias's routes, or route it to one
earlier revision (``--to``), on a ``rollback/<env>/<name>-<version>`` branch.

The revert is refused when that commit is not a pure route change of the alias (it also
touched other files, other aliases or other settings), and whenever a revision the result
would serve is no longer in the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from adapterctl import layout
from adapterctl.errors import InputError, UsageError
from adapterctl.gitops import branches, steps
from adapterctl.gitops.changes import Step, env_routes, gate_environment, write_step
from adapterctl.gitops.history import Entry, history
from adapterctl.registry import Registry
from adapterctl.store.base import Store
from adapterctl.yamlio import decode, load


@dataclass(frozen=True)
class Rollback:
    step: Step
    reverted: Entry | None
    """The commit reverted; None for ``--to``."""


def rollback(
    root: Path,
    store: Store,
    env_name: str,
    alias: str,
    *,
    to: str | None,
    sign: bool,
    trailers: tuple[str, ...] = (),
) -> Rollback:
    """Revert the last change to ``alias``'s routes (or route ``to``) on a new branch;
    ``trailers`` (``Key: value`` lines) end the commit message."""
    checkout = branches.clean_checkout(root, "rollback")
    registry = Registry.load(root)
    env = gate_environment(registry, env_name)
    before = env_routes(env, alias)
    if not before:
        raise InputError(f"nothing to roll back: {alias} is not routed in {env_name}")
    entries = history(root, env_name, alias=alias)
    if to is not None:
        after = _to(entries, before, env_name, alias, to, env.retain)
        reverted = None
    else:
        reverted = _last_change(entries, env_name, alias)
        _check_pure(checkout, reverted, env_name, alias)
        after = _parent_routes(checkout, reverted, env_name, alias)
    _check_stored(registry, store, alias, after)
    step = _step(env_name, alias, before, after, reverted, trailers)
    written = write_step(
        root, checkout, step, sign=sign, revert=None if reverted is None else reverted.commit
    )
    return Rollback(written, reverted)


def _to(
    entries: list[Entry], before: steps.Routes, env: str, alias: str, to: str, retain: int
) -> steps.Routes:
    routed = {change.version for entry in entries for change in entry.changes}
    if to not in routed:
        raise InputError(
            f"{alias}@{to} has never been routed in {env}, so it is not a rollback target",
            hint=f"promote it instead: adapterctl promote {alias}@{to} --env {env}",
        )
    after = steps.restore(before, to, retain=retain)
    if after == before:
        raise InputError(f"nothing to roll back: {alias} in {env} is already {to} at 100 %")
    return after


def _last_change(entries: list[Entry], env: str, alias: str) -> Entry:
    if not entries:
        raise InputError(f"nothing to roll back: git history has no change to {alias} in {env}")
    last = entries[0]
    if last.error is not None:
        raise InputError(
            f"cannot roll back: {layout.environment_path(env)} at commit {last.commit[:12]} "
            f"does not parse ({last.error})",
            hint="set the routes explicitly with --to VERSION",
        )
    if all(change.before is None for change in last.changes):
        raise InputError(
            f"nothing to roll back: commit {last.commit[:12]} first routed {alias} in {env}, "
            "and there is no earlier state",
            hint="to stop serving the alias, remove its routes in a reviewed pull request",
        )
    return last


def _check_pure(checkout: branches.Checkout, entry: Entry, env: str, alias: str) -> None:
    """The commit must change nothing but ``alias``'s routes in ``env``'s file, or be a base
    change (``promote-base``: the base and the routes, nothing else), reverted whole."""
    path = checkout.registry.prefix + layout.environment_path(env)
    changed = str(checkout.repo.git.diff("--name-only", f"{entry.commit}^1", entry.commit))
    others = [file for file in changed.splitlines() if file and file != path]
    old, new = (_document(checkout, rev, env) for rev in (f"{entry.commit}^1", entry.commit))
    if not others and old.get("base") != new.get("base"):
        rest = [{k: v for k, v in d.items() if k not in ("base", "routes")} for d in (old, new)]
        if rest[0] == rest[1]:
            return
    for document in (old, new):
        routes = document.get("routes")
        if isinstance(routes, dict):
            routes.pop(alias, None)
    if others or old != new:
        what = f"it also changes {others[0]}" if others else f"it also changes {path} beyond "
        what += "" if others else f"the routes of {alias}"
        raise InputError(
            f"commit {entry.commit[:12]} is not a promotion of {alias}: {what}",
            hint="reverting it would undo more than this alias's routes; "
            "use rollback --to VERSION instead",
        )


def _document(checkout: branches.Checkout, rev: str, env: str) -> dict[str, object]:
    text = checkout.registry.show(rev, layout.environment_path(env))
    value, _ = load(decode(text.encode()))
    return value if isinstance(value, dict) else {}


def _parent_routes(checkout: branches.Checkout, entry: Entry, env: str, alias: str) -> steps.Routes:
    routes = _document(checkout, f"{entry.commit}^1", env).get("routes")
    entries = routes.get(alias, []) if isinstance(routes, dict) else []
    return tuple(
        steps.Route(str(item["version"]), int(item["weight"]),
                    tuple(str(t) for t in item.get("tenants") or ()))
        for item in entries if isinstance(item, dict)
    )  # fmt: skip


def _check_stored(registry: Registry, store: Store, alias: str, routes: steps.Routes) -> None:
    for version, weight, tenants in routes:
        revision = registry.revision(alias, version)
        if revision is None:
            path = layout.revision_path(alias, version)
            raise UsageError(f"cannot roll back to {alias}@{version}: {path} does not exist")
        if (weight > 0 or tenants) and not store.exists(revision.artifact.digest):
            raise InputError(
                f"cannot roll back to {alias}@{version}: its artifact "
                f"{revision.artifact.digest} is no longer in the store {store.uri}",
                hint="gc removed it; restore it from the gc archive, or roll back to a "
                "retained revision with --to VERSION",
            )


def _step(
    env: str,
    alias: str,
    before: steps.Routes,
    after: steps.Routes,
    reverted: Entry | None,
    trailers: tuple[str, ...] = (),
) -> Step:
    main, weight, _ = max(steps.active(after), key=lambda route: route.weight)
    lines = [f"Roll back {alias} in {env} to {steps.describe(steps.active(after))}", ""]
    if reverted is not None:
        lines += [f'Reverts "{reverted.subject}".', ""]
    lines += [f"Routes of {alias} in {env}: {steps.describe(before)} -> {steps.describe(after)}."]
    if reverted is not None:
        lines += ["", f"This reverts commit {reverted.commit}."]
    lines += ["", f"Adapter: {alias}@{main}", f"Environment: {env}", f"Weight: {weight}"]
    lines += [*trailers, ""]
    return Step(
        kind="rollback",
        env=env,
        alias=alias,
        version=main,
        before=before,
        after=after,
        branch=f"rollback/{env}/{alias}-{main}",
        message="\n".join(lines),
    )
