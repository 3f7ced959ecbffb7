"""``adapterctl validate``: schema, cross references and immutability."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from adapterctl.cli.groups import option_groups
from adapterctl.cli.options import DEFAULT_REPORT, ReportArgs, RootOption
from adapterctl.config import resolve_root
from adapterctl.validation import validate


@option_groups
def command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or folders to report on (default: the whole registry)."),
    ] = None,
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            metavar="REF",
            help="Git ref (e.g. origin/main): revision files that exist there must not change.",
        ),
    ] = None,
    root: RootOption = None,
    out: ReportArgs = DEFAULT_REPORT,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Parallel parsers (default: cores).")
    ] = None,
) -> int:
    """Validate registry files: schema, cross references and immutability."""
    registry_root = resolve_root(root)
    report = validate(registry_root, paths or (), against, workers)
    return out.emit(report)
