"""A progress bar on stderr while the rounds run; silent off a terminal."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import TextColumn

from adapterctl.pressure.load import OnSample
from adapterctl.pressure.results import Sample
from adapterctl.report.progress import counting_bar


@contextlib.contextmanager
def progress_reporter(total: int, console: Console | None = None) -> Iterator[OnSample]:
    """``with progress_reporter(setup.total) as progress: run(plan, rounds, progress)``."""
    bar = counting_bar("pressure", console, TextColumn("round {task.fields[round]}"))
    task = bar.add_task("pressure", total=total, failed=0, round=1)
    failed = 0

    def advance(sample: Sample) -> None:
        nonlocal failed
        failed += not sample.ok
        bar.update(task, advance=1, failed=failed, round=sample.round)

    with bar:
        yield advance
