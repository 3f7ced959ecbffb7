"""The progress bar of a long run (golden suites, pressure rounds): on stderr, counting
results and failures, silent off a terminal."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)


def counting_bar(label: str, console: Console | None, *extra: ProgressColumn) -> Progress:
    """A bar named ``label`` (then the ``extra`` columns) whose task has a ``failed`` field;
    use it as a context manager around the run."""
    console = console or Console(stderr=True)
    return Progress(
        TextColumn(label),
        *extra,
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )
