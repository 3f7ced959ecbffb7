"""``adapterctl eval``: the golden gate, the candidate against the revision serving now."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from adapterctl.cli.options import FormatOption, OutputOption, RootOption, emit
from adapterctl.config import resolve_root
from adapterctl.errors import UsageError
from adapterctl.evals.runner import EvalPlan, progress_reporter
from adapterctl.evaluation import (
    auto_baseline,
    evaluate,
    line_and_suites,
    served_name,
    write_evidence,
)
from adapterctl.registry import Registry
from adapterctl.report import Format


def _target(text: str) -> tuple[str, str]:
    name, sep, version = text.partition("@")
    if not sep or not name or not version:
        raise UsageError(f"{text}: expected NAME@VERSION, e.g. support-bot@1.2.0")
    return name, version


def command(
    target: Annotated[str, typer.Argument(metavar="NAME@VERSION", help="The candidate.")],
    env: Annotated[
        str, typer.Option("--env", help="Environment whose serving revision is the baseline.")
    ],
    endpoint: Annotated[
        str,
        typer.Option(
            "--endpoint",
            metavar="URL",
            help="OpenAI-compatible base URL, e.g. http://node:8000/v1.",
        ),
    ],
    baseline: Annotated[
        str,
        typer.Option(
            "--baseline", metavar="VERSION|auto|none", help="auto: what ENV routes most traffic to."
        ),
    ] = "auto",
    repeat: Annotated[
        int | None,
        typer.Option("--repeat", min=1, help="Repeats (default: the line's gates.golden.repeats)."),
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1)] = 8,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", envvar="ADAPTERCTL_API_KEY", help="Bearer key of the endpoint."),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds per request.")
    ] = 60.0,
    evidence: Annotated[
        Path | None,
        typer.Option(
            "--evidence",
            help="Where to write the full results (default: reports/golden/NAME@VERSION.json).",
        ),
    ] = None,
    root: RootOption = None,
    fmt: FormatOption = Format.TEXT,
    output: OutputOption = None,
) -> int:
    """Run the line's golden suites against the candidate and the baseline, and judge."""
    registry_root = resolve_root(root)
    name, version = _target(target)
    registry = Registry.load(registry_root)
    if registry.revision(name, version) is None:
        raise UsageError(f"no valid revision {target}: run adapterctl validate first")
    line, suites = line_and_suites(registry, name)
    base_version = (
        auto_baseline(registry, env, name, version)
        if baseline == "auto"
        else (None if baseline == "none" else baseline)
    )
    revisions = (served_name(name, version),) + (
        (served_name(name, base_version),) if base_version else ()
    )
    plan = EvalPlan(
        base_url=endpoint,
        api_key=api_key,
        suites=suites,
        revisions=revisions,
        repeats=repeat or line.gates.golden.repeats,
        concurrency=concurrency,
        timeout_s=timeout,
        root=registry_root,
    )
    with progress_reporter(plan) as progress:
        report, comparison = evaluate(registry, plan, line, progress)
    default = registry_root / "reports" / "golden" / f"{target}.json"
    write_evidence(evidence or default, comparison, report)
    return emit(report, fmt, output)
