"""Options shared by several commands, and writing a rendered report."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from adapterctl.errors import ExitCode, UsageError
from adapterctl.findings import Report
from adapterctl.report import Format, render

RootOption = Annotated[
    Path | None,
    typer.Option(
        "--root",
        help="Registry root (default: the nearest folder with pyproject.toml [tool.adapterctl]).",
        file_okay=False,
    ),
]
FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", help="Write the report to this file instead of stdout.", dir_okay=False
    ),
]


def emit(report: Report, fmt: Format, output: Path | None) -> int:
    """Render ``report``, write it, and return the exit code its findings call for."""
    text = render(report, fmt)
    if output is None:
        sys.stdout.write(text)
    else:
        write_atomic(output, text)
    return ExitCode.FINDINGS if report.failed else ExitCode.OK


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so nothing is half-written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, "utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
