"""``adapterctl schemas``: generate the JSON Schemas, or check them for drift."""

from __future__ import annotations

from typing import Annotated

import typer

from adapterctl import schemagen
from adapterctl.cli.options import FormatOption, RootOption, emit
from adapterctl.config import resolve_root
from adapterctl.errors import ExitCode
from adapterctl.findings import Report
from adapterctl.report import Format


def command(
    write: Annotated[
        bool, typer.Option("--write", help="Write schemas/*.schema.json from the models.")
    ] = False,
    root: RootOption = None,
    fmt: FormatOption = Format.TEXT,
) -> int:
    """Check that schemas/ matches the models (default), or regenerate it with --write."""
    registry_root = resolve_root(root)
    files = schemagen.files()
    if write:
        changed = schemagen.write(registry_root)
        for path in files:
            typer.echo(f"{'wrote' if path in changed else 'unchanged'} {path}")
        return ExitCode.OK
    report = Report.build("schemas", files, schemagen.drift(registry_root))
    return emit(report, fmt, None)
