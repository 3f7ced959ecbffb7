"""``adapterctl promote-base``: an environment moved to another base revision, every routed
alias with it, on a pull-request branch."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from adapterctl.cli.options import EndpointOption, EnvOption, RootOption, StoreOption
from adapterctl.cli.promote import (
    BodyOption,
    PushOption,
    RemoteOption,
    SignOption,
    publish,
    require_remote,
)
from adapterctl.cli.register import valid_base_ref
from adapterctl.cli.stores import store_for
from adapterctl.config import resolve_root
from adapterctl.errors import ExitCode, UsageError
from adapterctl.gitops import prbody
from adapterctl.gitops.base_refresh import BaseRequest, promote_base
from adapterctl.gitops.changes import Step
from adapterctl.gitops.promote import GatesFailed
from adapterctl.layout import check_env_name
from adapterctl.model import BaseRef
from adapterctl.report import Format, render


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
    sign: SignOption = False,
    push: PushOption = False,
    body_file: BodyOption = None,
    remote: RemoteOption = "origin",
    root: RootOption = None,
    store: StoreOption = None,
    endpoint_url: EndpointOption = None,
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
    if push:
        require_remote(registry_root, remote)
    request = BaseRequest(env, BaseRef(name=name, revision=revision), chosen, sign)
    try:
        moved = promote_base(registry_root, store_for(registry_root, store, endpoint_url),
                             request, datetime.now(UTC))  # fmt: skip
    except GatesFailed as exc:
        sys.stdout.write(render(exc.report, Format.TEXT))
        raise
    step = Step("promote", env, "", "", (), (), moved.branch, moved.message,
                moved.base_branch, moved.commit, moved.signed)  # fmt: skip
    publish(registry_root, step, prbody.base_body(moved), body_file, push, remote)
    return ExitCode.OK


def _pair(text: str) -> tuple[str, str]:
    alias, sep, version = text.partition("=")
    if not sep or not alias or not version:
        raise UsageError(f"--use {text}: expected ALIAS=VERSION, e.g. support-bot=2.0.0")
    return alias, version
