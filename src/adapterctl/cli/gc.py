"""``adapterctl gc``: remove store artifacts no environment needs (dry-run by default)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from adapterctl.cli.groups import option_groups
from adapterctl.cli.options import (
    DEFAULT_STORE,
    RootOption,
    StoreArgs,
    TextOrJson,
    TextOrJsonOption,
)
from adapterctl.config import resolve_root
from adapterctl.errors import UsageError
from adapterctl.gitops import gc_render, gcplan
from adapterctl.gitops.archive import archive_name, write_archive


@option_groups
def command(
    keep_states: Annotated[
        int,
        typer.Option(
            "--keep-states",
            metavar="K",
            min=1,
            help="Keep every revision an environment referenced in its last K route states.",
        ),
    ],
    where: StoreArgs = DEFAULT_STORE,
    archive: Annotated[
        Path | None,
        typer.Option(
            "--archive",
            metavar="DIR",
            help="Where --apply first writes the manifests, digests and signatures it removes.",
        ),
    ] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="Delete (after archiving); without it, a dry run.")
    ] = False,
    root: RootOption = None,
    fmt: TextOrJsonOption = TextOrJson.TEXT,
) -> int:
    """Remove store artifacts that no environment referenced in its last K states."""
    if apply and archive is None:
        raise UsageError(
            "--apply needs --archive DIR: gc archives what it deletes first",
            hint="e.g. adapterctl gc --keep-states 5 --apply --archive /backups/adapterctl",
        )
    if apply and archive is not None and not archive.is_dir():
        raise UsageError(f"--archive {archive}: not a directory (create it first)")
    registry_root = resolve_root(root)
    target = where.open(registry_root)
    plan, registry = gcplan.plan(registry_root, target, keep_states)
    written: Path | None = None
    if apply and archive is not None and plan.delete:
        now = datetime.now(UTC)
        document = gc_render.gc_document(plan, applied=True, archive=archive / archive_name(now))
        plan_json = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        written = write_archive(archive, registry, plan.delete, plan_json, now)
        gcplan.delete(target, plan.delete)
    render = gc_render.gc_json if fmt is TextOrJson.JSON else gc_render.gc_text
    typer.echo(render(plan, applied=apply, archive=written), nl=False)
    return 0
