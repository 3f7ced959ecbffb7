"""``adapterctl codeowners``: who owns each path under the repository's CODEOWNERS."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from adapterctl import codeowners
from adapterctl.cli.options import RootOption
from adapterctl.config import relative_path, resolve_root
from adapterctl.errors import ExitCode, UsageError
from adapterctl.findings import Report
from adapterctl.report.ownership import Ownership, render_json, render_text


class OwnersFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def command(
    paths: Annotated[list[Path], typer.Argument(help="Paths to look up (they need not exist).")],
    root: RootOption = None,
    fmt: Annotated[OwnersFormat, typer.Option("--format", "-f")] = OwnersFormat.TEXT,
) -> int:
    """Show who owns each path (GitHub semantics: the last matching rule wins)."""
    registry_root = resolve_root(root)
    file = codeowners.find_file(registry_root)
    if file is None:
        raise UsageError(
            f"no CODEOWNERS file in {registry_root}",
            hint="GitHub reads .github/CODEOWNERS, CODEOWNERS or docs/CODEOWNERS",
        )
    parsed = codeowners.read(registry_root, file)
    owned = [
        Ownership(rel, parsed.owners_for(rel))
        for rel in (relative_path(registry_root, path) for path in paths)
    ]
    report = Report.build("codeowners", [file], parsed.findings)
    render = render_json if fmt is OwnersFormat.JSON else render_text
    sys.stdout.write(render(file, owned, report))
    return ExitCode.FINDINGS if report.failed else ExitCode.OK
