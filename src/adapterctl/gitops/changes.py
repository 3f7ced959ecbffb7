"""One change to an alias's routes, written as a commit on its own branch.

Shared by ``promote`` and ``rollback --to``: the edited file is parsed and validated
again before it is committed, so a branch never holds an environment that would fail
``validate``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import ValidationError

from adapterctl import layout
from adapterctl.errors import InputError, UsageError
from adapterctl.gitops import branches, steps
from adapterctl.gitops.edit import set_routes
from adapterctl.model import Environment
from adapterctl.model.common import first_error
from adapterctl.registry import Registry
from adapterctl.yamlio import load, read_bytes

KINDS = ("promote", "rollback")


@dataclass(frozen=True)
class Step:
    """A change to one alias's routes, and the commit that makes it (once made)."""

    kind: str
    env: str
    alias: str
    version: str
    before: steps.Routes
    after: steps.Routes
    branch: str
    message: str
    base_branch: str = ""
    commit: str = ""
    signed: bool = False


def gate_environment(registry: Registry, env: str) -> Environment:
    """The environment, or a clear refusal when it is unknown or invalid."""
    layout.check_env_name(env)
    path = layout.environment_path(env)
    model = registry.environment(env)
    if model is not None:
        return model
    if not registry.exists(path):
        raise UsageError(f"unknown environment '{env}': {path} does not exist")
    raise InputError(f"{path} is not a valid environment; run adapterctl validate {path}")


def env_routes(env: Environment, alias: str) -> steps.Routes:
    return tuple(
        steps.Route(r.key, r.weight, tuple(str(t) for t in r.tenants))
        for r in env.routes.get(alias, ())
    )


def write_step(
    root: Path, checkout: branches.Checkout, step: Step, *, sign: bool, revert: str | None = None
) -> Step:
    """Edit the environment file (or ``git revert`` the commit ``revert``), validate the
    result, and commit it on ``step.branch``."""
    path = layout.environment_path(step.env)
    branches.require_new_branch(
        checkout, step.branch, lambda: _open(checkout, step.env, step.alias)
    )
    text = read_bytes(root / path).decode()
    edited = set_routes(text, step.alias, step.after, display=path) if revert is None else ""
    if revert is None:
        validate_environment(edited, path)
    with branches.worktree(checkout) as tree:
        target = tree / checkout.registry.prefix / path
        if revert is None:
            target.write_text(edited, encoding="utf-8")
            branches.add(tree, checkout.registry.prefix + path)
        else:
            branches.revert_in(tree, revert)
            validate_environment(target.read_text(encoding="utf-8"), path)
        commit = branches.commit_in(tree, step.message, sign=sign)
    branches.set_branch(checkout, step.branch, commit)
    return replace(step, base_branch=checkout.branch, commit=commit, signed=sign)


def _open(checkout: branches.Checkout, env: str, alias: str) -> list[str]:
    return [ref for kind in KINDS for ref in branches.open_branches(checkout, kind, env, alias)]


def validate_environment(text: str, path: str) -> None:
    """InputError when the edited environment ``text`` would not validate."""
    try:
        value, _ = load(text)
        Environment.model_validate(value)
    except ValidationError as exc:
        message = f"{path}: the edited file would be invalid: {first_error(exc)}"
        raise InputError(message) from None
