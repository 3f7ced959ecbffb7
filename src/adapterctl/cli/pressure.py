"""``adapterctl pressure``: replay a staging workload against the candidate and the baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from adapterctl.cli.groups import option_groups
from adapterctl.cli.options import (
    DEFAULT_REPORT,
    ApiKeyOption,
    BaselineOption,
    HardwareClassOption,
    NodeURLOption,
    ReportArgs,
    RootOption,
    hardware_class,
    parse_target,
)
from adapterctl.config import resolve_root
from adapterctl.findings import Report
from adapterctl.registry import Registry
from adapterctl.report import Format

CandidateArgument = Annotated[
    str,
    typer.Argument(
        metavar="NAME@VERSION|ALIAS",
        help="The candidate revision; or an alias, replayed through a gateway that splits "
        "it (no baseline).",
    ),
]
ProfileEnvOption = Annotated[
    str, typer.Option("--env", help="Environment whose profile and routes are used.")
]
ProfileOption = Annotated[
    str,
    typer.Option(
        "--profile",
        metavar="NAME|FILE",
        help="A profile name in environments/ENV/pressure/, or the path of its file.",
    ),
]
BaseModelOption = Annotated[
    str | None,
    typer.Option(
        "--base-model",
        metavar="NAME",
        help="Served name of the base model (default: the environment's base name).",
    ),
]
TimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--timeout", min=0.001, help="Seconds per request (default: the profile's, else 60)."
    ),
]
EvidenceOption = Annotated[
    Path | None,
    typer.Option(
        "--evidence",
        help="Where to write every sample (default: reports/pressure/NAME@VERSION.json).",
    ),
]


@option_groups
def command(
    target: CandidateArgument,
    env: ProfileEnvOption,
    endpoint: NodeURLOption,
    profile: ProfileOption,
    baseline: BaselineOption = "auto",
    base_model: BaseModelOption = None,
    api_key: ApiKeyOption = None,
    hardware: HardwareClassOption = None,
    timeout: TimeoutOption = None,
    evidence_path: EvidenceOption = None,
    root: RootOption = None,
    out: ReportArgs = DEFAULT_REPORT,
) -> int:
    """Replay a workload profile against the candidate and the baseline, and judge; or, given
    an alias, through a gateway as its callers would send it (each request a new caller)."""
    # Imported here: the openai client costs 0.3 s, which no other command should pay.
    from adapterctl.gates import pressure  # noqa: PLC0415
    from adapterctl.pressure import evidence, pipeline  # noqa: PLC0415
    from adapterctl.pressure.load import LoadPlan, run  # noqa: PLC0415
    from adapterctl.pressure.pipeline import ProfileProblems  # noqa: PLC0415
    from adapterctl.pressure.progress import progress_reporter  # noqa: PLC0415
    from adapterctl.pressure.table import side_by_side  # noqa: PLC0415

    candidate: tuple[str, str | None] = parse_target(target) if "@" in target else (target, None)
    registry_root = resolve_root(root)
    path = pipeline.profile_path(registry_root, env, profile)
    registry = Registry.load(registry_root)
    node_class = hardware_class(registry, hardware)
    try:
        setup = pipeline.prepare(
            registry,
            env=env,
            path=path,
            candidate=candidate,
            baseline=baseline,
            base_model=base_model,
        )
    except ProfileProblems as problems:
        return out.emit(problems.report)
    plan = LoadPlan(
        base_url=endpoint,
        api_key=api_key,
        concurrency=setup.profile.concurrency,
        timeout_s=timeout or setup.profile.timeout_s or 60.0,
        temperature=setup.profile.temperature,
        ignore_eos=setup.profile.ignore_eos,
    )
    with progress_reporter(setup.total) as progress:
        rounds = run(plan, setup.rounds, progress)
    comparison = pipeline.compare(setup, rounds, node_class)
    report = Report.build("pressure", [path], pressure.check(comparison, registry.locate))
    default = registry_root / "reports" / "pressure" / f"{target}.json"
    evidence.write(evidence_path or default, setup, rounds, report, endpoint, node_class)
    if out.fmt is Format.TEXT:
        Console(stderr=True).print(side_by_side(comparison))
    return out.emit(report)
