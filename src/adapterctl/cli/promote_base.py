"""``adapterctl promote-base``: an environment moved to another base revision, every routed
alias with it, on a pull-request branch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from adapterctl.cli.groups import option_groups
from adapterctl.cli.options import DEFAULT_STORE, EnvOption, RootOption, StoreArgs
from adapterctl.cli.promote import DEFAULT_PUBLISH, PublishArgs, gates_shown, publish
from adapterctl.cli.register import valid_base_ref
from adapterctl.config import resolve_root
from adapterctl.errors import ExitCode, UsageError
from adapterctl.gitops import prbody
from adapterctl.gitops.base_refresh import BaseRequest, promote_base
from adapterctl.gitops.changes import Step
from adapterctl.layout import check_env_name
from adapterctl.model import BaseRef


@option_groups
def command(
    target: Annotated[str, typer.Argument(metavar="BASE@REV", help="The base to move ENV to.")],
    env: EnvOption,
    use: Annotated[
        list[str] | None,
        typer.Option(
            "--use",
            metavar="ALIAS=VERSION",
            help="The revision an alias moves to (repeatable; default: its newest revision "
            "registered against BASE@REV).",
        ),
    ] = None,
    how: PublishArgs = DEFAULT_PUBLISH,
    root: RootOption = None,
    where: StoreArgs = DEFAULT_STORE,
) -> int:
    """Move ENV to another base on a new branch promote-base/ENV/BASE-REV: the base and every
    routed alias (each to a revision built for the new base) in one commit, with its PR body."""
    name, sep, revision = target.partition("@")
    if not sep:
        raise UsageError(f"{target}: expected BASE@REV, e.g. tiny-llama@r2")
    valid_base_ref(name, revision, {"name": "BASE", "revision": "REV"})
    check_env_name(env)
    chosen = dict(_pair(text) for text in use or ())
    registry_root = resolve_root(root)
    how.check_remote(registry_root)
    request = BaseRequest(env, BaseRef(name=name, revision=revision), chosen, how.sign)
    with gates_shown():
        moved = promote_base(registry_root, where.open(registry_root), request, datetime.now(UTC))
    step = Step("promote", env, "", "", (), (), moved.branch, moved.message,
                moved.base_branch, moved.commit, moved.signed)  # fmt: skip
    publish(registry_root, step, prbody.base_body(moved), how)
    return ExitCode.OK


def _pair(text: str) -> tuple[str, str]:
    alias, sep, version = text.partition("=")
    if not sep or not alias or not version:
        raise UsageError(f"--use {text}: expected ALIAS=VERSION, e.g. support-bot=2.0.0")
    return alias, version
