"""``adapterctl history`` and ``adapterctl diff``: an environment's routes through git."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from adapterctl.cli.options import EnvOption, RootOption, TextOrJson, TextOrJsonOption
from adapterctl.config import resolve_root
from adapterctl.gitops import render
from adapterctl.gitops.diff import diff
from adapterctl.gitops.history import history
from adapterctl.layout import check_env_name


def history_command(
    env: EnvOption,
    alias: Annotated[
        str | None, typer.Argument(metavar="[NAME]", help="Only changes to this alias.")
    ] = None,
    root: RootOption = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", metavar="N", min=1, help="Only the N most recent commits."),
    ] = None,
    allowed_signers: Annotated[
        Path | None,
        typer.Option(
            "--allowed-signers",
            metavar="FILE",
            help="SSH allowed signers, so that git can verify SSH-signed commits.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    fmt: TextOrJsonOption = TextOrJson.TEXT,
) -> None:
    """Who changed ENV's routes, when, through which pull request, signed or not."""
    registry = resolve_root(root)
    check_env_name(env)
    entries = history(registry, env, alias=alias, limit=limit, allowed_signers=allowed_signers)
    if fmt is TextOrJson.JSON:
        typer.echo(render.history_json(env, alias, entries), nl=False)
    else:
        typer.echo(render.history_text(env, entries), nl=False)


def diff_command(
    env: EnvOption,
    ref1: Annotated[str, typer.Argument(metavar="REF1", help="The state a sync starts from.")],
    ref2: Annotated[str, typer.Argument(metavar="REF2", help="The state a sync reaches.")],
    root: RootOption = None,
    fmt: TextOrJsonOption = TextOrJson.TEXT,
) -> None:
    """The route changes between ENV at REF1 and at REF2: what a sync would do."""
    registry = resolve_root(root)
    check_env_name(env)
    result = diff(registry, env, ref1, ref2)
    if fmt is TextOrJson.JSON:
        typer.echo(render.diff_json(result), nl=False)
    else:
        typer.echo(render.diff_text(result), nl=False)
