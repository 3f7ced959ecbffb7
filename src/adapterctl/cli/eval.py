"""``adapterctl eval``: the golden gate, the candidate against the revision serving now."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from adapterctl.cli.groups import option_groups
from adapterctl.cli.options import (
    DEFAULT_REPORT,
    ApiKeyOption,
    BaselineOption,
    HardwareClassOption,
    NodeURLOption,
    ReportArgs,
    RootOption,
    TargetArgument,
    hardware_class,
    parse_target,
)
from adapterctl.config import resolve_root
from adapterctl.errors import UsageError
from adapterctl.fsutil import write_atomic
from adapterctl.layout import served_name
from adapterctl.mergedbases import merged_target
from adapterctl.registry import InvalidDocument, Registry

if TYPE_CHECKING:
    from adapterctl.evaluation import RunContext
    from adapterctl.findings import Report
    from adapterctl.gates.golden import Comparison

BaselineEnvOption = Annotated[
    str, typer.Option("--env", help="Environment whose serving revision is the baseline.")
]
RepeatOption = Annotated[
    int | None,
    typer.Option("--repeat", min=1, help="Repeats (default: the line's gates.golden.repeats)."),
]
ConcurrencyOption = Annotated[int, typer.Option("--concurrency", min=1)]
TimeoutOption = Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds per request.")]
EvidenceOption = Annotated[
    Path | None,
    typer.Option(
        "--evidence",
        help="Where to write the full results (default: reports/golden/NAME@VERSION.json).",
    ),
]
ExtraBodyOption = Annotated[
    str | None,
    typer.Option(
        "--extra-body",
        metavar="JSON",
        help="Server-specific request fields, e.g. '{\"top_k\": 1}' for vLLM.",
    ),
]
HtmlOption = Annotated[
    Path | None,
    typer.Option(
        "--html",
        metavar="PATH",
        help="Where to write the HTML report (default: reports/golden/NAME@VERSION.html).",
    ),
]


@option_groups
def command(
    target: TargetArgument,
    env: BaselineEnvOption,
    endpoint: NodeURLOption,
    baseline: BaselineOption = "auto",
    repeat: RepeatOption = None,
    concurrency: ConcurrencyOption = 8,
    api_key: ApiKeyOption = None,
    hardware: HardwareClassOption = None,
    timeout: TimeoutOption = 60.0,
    evidence: EvidenceOption = None,
    extra_body: ExtraBodyOption = None,
    html_path: HtmlOption = None,
    root: RootOption = None,
    out: ReportArgs = DEFAULT_REPORT,
) -> int:
    """Run the line's golden suites against the candidate and the baseline, and judge. A
    merged base (NAME@REVISION), served alone, runs the suites of the line it came from."""
    # Imported here: the openai client costs 0.3 s, which no other command should pay.
    from adapterctl.evals.runner import EvalPlan, progress_reporter  # noqa: PLC0415
    from adapterctl.evaluation import (  # noqa: PLC0415
        RunContext,
        chosen_baseline,
        evaluate,
        head_commit,
        line_and_suites,
    )

    registry_root = resolve_root(root)
    registry, (name, version) = _candidate(registry_root, target)
    try:
        line, suites = line_and_suites(registry, name)
    except InvalidDocument as problems:
        return out.emit(problems.report)
    node_class = hardware_class(registry, hardware)
    registry.require_environment(env)
    base_version = chosen_baseline(registry, env, name, version, baseline)
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
        extra_body=_extra_body(extra_body),
    )
    with progress_reporter(plan) as progress:
        report, comparison = evaluate(registry, plan, line, progress, node_class)
    default = registry_root / "reports" / "golden" / f"{target}.json"
    page = html_path or default.parent / f"{target}.html"
    run = RunContext(
        environment=env, endpoint=endpoint, repeats=plan.repeats,
        registry_commit=head_commit(registry_root), hardware_class=node_class,
    )  # fmt: skip
    _write_evidence(evidence or default, page, comparison, report, run)
    return out.emit(report)


def _candidate(root: Path, target: str) -> tuple[Registry, tuple[str, str]]:
    """The registry, and the candidate as (line, route key): a revision, or a merged base
    (served alone, it runs the suites of the line it came from)."""
    merged = merged_target(root, target)
    name, version = merged or parse_target(target)
    registry = Registry.load(root)
    if merged is None and registry.revision(name, version) is None:
        raise UsageError(f"no valid revision {target}: run adapterctl validate first")
    return registry, (name, version)


def _write_evidence(
    path: Path, page: Path, comparison: Comparison, report: Report, run: RunContext
) -> None:
    """The run's evidence (JSON) and its HTML page."""
    from adapterctl.evals import html  # noqa: PLC0415
    from adapterctl.evaluation import write_evidence  # noqa: PLC0415

    write_evidence(path, comparison, report, run)
    page.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(page, html.render(comparison, report))


def _extra_body(text: str | None) -> dict[str, object]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--extra-body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError("--extra-body must be a JSON object, e.g. '{\"top_k\": 1}'")
    return value
