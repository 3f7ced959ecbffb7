"""A progress bar on stderr while the rounds run; silent off a terminal."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from adapterctl.pressure.load import OnSample
from adapterctl.pressure.results import Sample


@contextlib.contextmanager
def progress_reporter(total: int, console: Console | None = None) -> Iterator[OnSample]:
    """``with progress_reporter(setup.total) as progress: run(plan, rounds, progress)``."""
    console = console or Console(stderr=True)
    bar = Progress(
        TextColumn("pressure"),
        TextColumn("round {task.fields[round]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    task = bar.add_task("pressure", total=total, failed=0, round=1)
    failed = 0

    def advance(sample: Sample) -> None:
        nonlocal failed
        failed += not sample.ok
        bar.update(task, advance=1, failed=failed, round=sample.round)

    with bar:
        yield advance
