"""The ``pressure`` pipeline: find the profile, resolve who is who, plan the rounds, judge.

Everything the run needs is resolved from the registry before the node is asked anything:
the profile (valid, in the environment's ``pressure/`` folder), the candidate and the
baseline, and the served name of every mix target. Problems with the profile in this
context (a line the environment does not route, a schedule with no request to the
candidate) are findings located in the profile, raised together as :class:`ProfileProblems`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from adapterctl import layout
from adapterctl.errors import UsageError
from adapterctl.evaluation import chosen_baseline
from adapterctl.findings import Finding, JsonPath, Report, Severity
from adapterctl.gates.pressure import Comparison
from adapterctl.layout import served_name
from adapterctl.model import Environment, PressureProfile
from adapterctl.model.kinds import Kind
from adapterctl.model.pressure import BASE, CANDIDATE, KEYWORDS
from adapterctl.pressure import schedule
from adapterctl.pressure.load import RoundPlan
from adapterctl.pressure.results import Round
from adapterctl.pressure.rounds import plan_rounds
from adapterctl.pressure.stats import revision_stats
from adapterctl.registry import InvalidDocument, Registry


class ProfileProblems(InvalidDocument):
    """The profile cannot be replayed as it stands; ``report`` holds the located findings."""

    def __init__(self, report: Report) -> None:
        super().__init__("the pressure profile", report)


@dataclass(frozen=True, kw_only=True)
class Setup:
    """A run, resolved: what to send to which served model, in which rounds."""

    environment: str
    path: str
    """The profile's repository path."""
    profile: PressureProfile
    candidate: str
    """Served names: ``<name>@<version>``."""
    baseline: str | None
    targets: dict[str, str]
    """Mix target → served model name ('candidate' → the candidate's)."""
    requests: tuple[schedule.Request, ...]
    rounds: tuple[RoundPlan, ...]

    @property
    def total(self) -> int:
        """Requests sent over all rounds."""
        return sum(len(r.shots) for r in self.rounds)


def profile_path(root: Path, env: str, given: str) -> str:
    """The repository path of ``--profile``: a profile name, or a path to the profile file
    (relative to the current folder, else to the registry root)."""
    if "/" not in given and not given.endswith(".yaml"):
        return layout.profile_path(env, given)
    file = Path(given)
    candidates = [file] if file.is_absolute() else [file, root / file]
    found = next((p for p in candidates if p.is_file()), candidates[-1])
    try:
        path = found.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise UsageError(
            f"--profile {given} is not in the registry at {root}",
            hint=f"profiles are reviewed like the rest: {layout.profile_path(env, '<profile>')}",
        ) from None
    placement = layout.classify(path)
    if placement is None or placement.kind is not Kind.PRESSURE_PROFILE or placement.item != env:
        raise UsageError(
            f"--profile {given}: a pressure profile of {env} is "
            f"{layout.profile_path(env, '<profile>')}"
        )
    return path


def load_profile(registry: Registry, path: str) -> PressureProfile:
    """The valid profile at ``path``; its schema findings as :class:`ProfileProblems`."""
    if not registry.exists(path):
        raise UsageError(f"no pressure profile {path}")
    profile = registry.model(path, PressureProfile)
    if profile is None:
        raise ProfileProblems(registry.report_of(path, "pressure"))
    return profile


def prepare(
    registry: Registry,
    *,
    env: str,
    path: str,
    candidate: tuple[str, str | None],
    baseline: str,
    base_model: str | None,
) -> Setup:
    """Resolve a run. ``baseline`` is a version, ``auto`` or ``none``. A candidate without a
    version is an alias: its requests name the alias, and a gateway in front of the nodes
    picks the revision for each of them (no baseline: the gateway's split is the point)."""
    environment = registry.require_environment(env)
    profile = load_profile(registry, path)
    name, version = candidate
    if version is None:
        _check_alias(environment, name, baseline)
        base_version = None
    elif registry.revision(name, version) is None:
        raise UsageError(f"no valid revision {name}@{version}: run adapterctl validate first")
    else:
        base_version = chosen_baseline(registry, env, name, version, baseline)
    targets = _targets(registry, path, profile, environment, base_model)
    requests = _schedule(registry, path, profile)
    new = name if version is None else served_name(name, version)
    old = served_name(name, base_version) if base_version else None
    return Setup(
        environment=env,
        path=path,
        profile=profile,
        candidate=new,
        baseline=old,
        targets={CANDIDATE: new, **targets},
        requests=requests,
        rounds=tuple(plan_rounds(requests, targets, new, old)),
    )


def _check_alias(environment: Environment, alias: str, baseline: str) -> None:
    if not environment.routes.get(alias):
        raise UsageError(
            f"{alias} is not routed in {environment.name}",
            hint="name an alias the environment routes, or a revision as NAME@VERSION",
        )
    if baseline not in ("auto", "none"):
        raise UsageError(
            f"--baseline {baseline}: a replay against the alias {alias} has no baseline (the "
            "gateway splits it); give NAME@VERSION to compare two revisions"
        )


def _targets(
    registry: Registry,
    path: str,
    profile: PressureProfile,
    env: Environment,
    base_model: str | None,
) -> dict[str, str]:
    """Served model names of the mix targets other than 'candidate'."""
    targets: dict[str, str] = {}
    problems = []
    for i, entry in enumerate(profile.mix):
        if entry.target == BASE:
            targets[BASE] = base_model or env.base.name
        if entry.target in KEYWORDS:
            continue
        routes = env.routes.get(entry.target, ())
        if routes:
            serving = max(routes, key=lambda route: route.weight).key
            targets[entry.target] = served_name(entry.target, serving)
            continue
        message = f"mix target {entry.target} is not routed in environment {env.name}"
        hint = "name a line the environment routes, 'base' or 'candidate'"
        problems.append(_finding(registry, path, ("mix", i, "target"), message, hint))
    if problems:
        raise ProfileProblems(_report(path, problems))
    return targets


def _schedule(
    registry: Registry, path: str, profile: PressureProfile
) -> tuple[schedule.Request, ...]:
    requests = schedule.generate(profile)
    if not any(r.target == CANDIDATE for r in requests):
        message = "the schedule sends no request to the candidate"
        hint = "raise the candidate's weight in the mix, or the number of requests"
        raise ProfileProblems(_report(path, [_finding(registry, path, ("mix",), message, hint)]))
    return requests


def _finding(registry: Registry, path: str, where: JsonPath, message: str, hint: str) -> Finding:
    return Finding("pressure/profile", Severity.ERROR, registry.locate(path, where), message, hint)


def _report(path: str, findings: Sequence[Finding]) -> Report:
    return Report.build("pressure", [path], findings)


def compare(setup: Setup, rounds: Sequence[Round], hardware_class: str | None = None) -> Comparison:
    """The gate's input: each revision's rounds, summarised, and the node's hardware class."""
    baseline = revision_stats(rounds, setup.baseline) if setup.baseline else None
    candidate = revision_stats(rounds, setup.candidate)
    return Comparison(setup.profile, setup.path, candidate, baseline, hardware_class)
