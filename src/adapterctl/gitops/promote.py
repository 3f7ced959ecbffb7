"""``promote``: gates, soak, the routes edit, and a commit on ``promote/<env>/<name>-<version>``.

Everything is checked before anything is written; the commit is made in a temporary
worktree, so the user's checkout is never touched and a refusal leaves no trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from adapterctl import layout
from adapterctl.checks import check_revisions
from adapterctl.durations import format_duration, parse_duration
from adapterctl.errors import InputError, UsageError
from adapterctl.findings import Report, Severity
from adapterctl.gates import references
from adapterctl.gitops import branches, steps
from adapterctl.gitops.changes import Step, env_routes, gate_environment, write_step
from adapterctl.gitops.evidence import Evidence, find_evidence
from adapterctl.gitops.soak import Soak, soak
from adapterctl.mergedbases import merged_base
from adapterctl.model import Environment
from adapterctl.model.base import Merge
from adapterctl.registry import Registry
from adapterctl.semver import names_a_base
from adapterctl.store.base import Store
from adapterctl.store.digests import DigestCache


class GatesFailed(InputError):
    """The revision failed a gate; ``report`` holds the findings."""

    def __init__(self, message: str, report: Report) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class SoakCheck:
    upstream: str
    required: str | None
    soak: Soak
    served_for: str


@dataclass(frozen=True)
class Promotion:
    """A promotion committed on its branch, with what the pull request must say."""

    step: Step
    gates: Report
    soak: SoakCheck | None
    evidence: tuple[Evidence, ...]
    analysis: str | None = None
    """The canary analysis this step passed, as markdown for the pull request."""
    merge: Merge | None = None
    """When the step routes a merged base: its merge record (sources, trigger, reason)."""


@dataclass(frozen=True)
class Request:
    """What to promote, from the command line."""

    name: str
    version: str
    """The route's key: a semantic version, or ``NAME@REVISION`` of a merged base."""
    env: str
    weight: int | None
    finish: bool
    sign: bool
    tenants: tuple[str, ...] | None = None
    """``--tenant``: the canary tenants (None: the revision keeps those it has)."""
    analysis: tuple[str, str] | None = None
    """A canary analysis this step passed: (its ``Canary-Analysis`` trailer, its markdown)."""


def promote(root: Path, store: Store, request: Request, now: datetime) -> Promotion:
    """Check, edit and commit one promotion step; raises on any refusal."""
    checkout = branches.clean_checkout(root, "promote")
    registry = Registry.load(root)
    env = gate_environment(registry, request.env)
    before = env_routes(env, request.name)
    after = _routes(request, env, before)
    report = _gates(registry, store, request)
    if report.failed:
        label = layout.served_name(request.name, request.version)
        raise GatesFailed(f"not promoted: {label} fails the gates for {request.env}", report)
    soaked = check_soak(root, env, request, now)
    step = Step(
        kind="promote",
        env=request.env,
        alias=request.name,
        version=request.version,
        before=before,
        after=after,
        branch=f"promote/{request.env}/{request.name}-{request.version}",
        message=_message(request, before, after),
    )
    committed = write_step(root, checkout, step, sign=request.sign)
    evidence = find_evidence(root, request.name, request.version)
    analysis = None if request.analysis is None else request.analysis[1]
    merged = merged_base(registry, request.version) if names_a_base(request.version) else None
    merge = None if merged is None else merged.merge
    return Promotion(committed, report, soaked, evidence, analysis, merge)


def analysis_due(root: Path, request: Request) -> bool:
    """Whether this step grows a canary in an environment that analyses canaries: the
    revision already takes part of the traffic (a weight below 100, or tenants) and the
    step gives it more."""
    env = Registry.load(root).environment(request.env)
    if env is None or env.analysis is None:
        return False
    current = next((r for r in env.routes.get(request.name, ()) if r.key == request.version),
                   None)  # fmt: skip
    if current is None or current.weight == 100 or not (current.weight or current.tenants):
        return False
    return request.finish or (request.weight or 0) > current.weight


def _routes(request: Request, env: Environment, before: steps.Routes) -> steps.Routes:
    weight = None if request.finish else request.weight
    if weight is None and not request.finish and not request.tenants and steps.active(before):
        raise UsageError(
            f"{request.name} is routed in {request.env} ({steps.describe(before)}): "
            "give a canary weight with --weight W (1–99), canary tenants with --tenant NAME, "
            "or --finish to move all traffic"
        )
    after = steps.promote(before, request.version, weight, retain=env.retain,
                          tenants=request.tenants)  # fmt: skip
    if after == before:
        raise InputError(
            f"nothing to change: {request.name} in {request.env} is already "
            f"{steps.describe(before)}"
        )
    return after


def _gates(registry: Registry, store: Store, request: Request) -> Report:
    """The schema findings of the files involved, then integrity and compat for ENV (for a
    merged base: its schema and its chain of sources; its equivalence gate is the merge's
    pull request's, ``adapterctl check --base``)."""
    if names_a_base(request.version):
        return _merged_base_gates(registry, request)
    revision = registry.revision(request.name, request.version)
    path = layout.revision_path(request.name, request.version)
    if revision is None and not registry.exists(path):
        raise UsageError(f"no revision {request.name}@{request.version}: {path} does not exist")
    involved = {path, layout.line_path(request.name), layout.environment_path(request.env)}
    schema = [f for f in registry.findings if f.location.file in involved]
    if any(f.severity is Severity.ERROR for f in schema) or revision is None:
        return Report.build("promote", sorted(involved), schema)
    checked = check_revisions(
        registry, store, [(request.name, request.version)], [request.env], DigestCache.default()
    )
    return Report.build("promote", checked.checked, [*schema, *checked.findings])


def _merged_base_gates(registry: Registry, request: Request) -> Report:
    merged_base(registry, request.version)
    name, _, revision = request.version.partition("@")
    files = {layout.base_path(name, revision), layout.environment_path(request.env)}
    found = [*registry.findings, *references.check(registry)]
    return Report.build("promote", sorted(files), [f for f in found if f.location.file in files])


def check_soak(root: Path, env: Environment, request: Request, now: datetime) -> SoakCheck | None:
    upstream = env.promotion.from_
    if upstream is None:
        return None
    label = layout.served_name(request.name, request.version)
    served = soak(root, upstream, request.name, request.version)
    served_for = served.served_for(now)
    if served_for is None:
        raise InputError(
            f"not promoted: {label} is not served in {upstream}, and {request.env} takes "
            f"only revisions {upstream} has served (promotion.from: {upstream})",
            hint=f"promote it to {upstream} first: adapterctl promote {label} --env {upstream}",
        )
    required = env.promotion.min_soak
    text = format_duration(served_for)
    if required is not None and served_for < parse_duration(required):
        raise InputError(
            f"not promoted: {label} has been served in {upstream} for {text} (since commit "
            f"{served.commit and served.commit[:12]}); {request.env} requires {required} "
            f"(promotion.min_soak in {layout.environment_path(request.env)})",
            hint="wait until the soak time has passed, then promote again",
        )
    return SoakCheck(upstream, required, served, text)


def _message(request: Request, before: steps.Routes, after: steps.Routes) -> str:
    label = f"{request.name} {request.version}"
    if names_a_base(request.version):
        label = f"merged base {request.version} for {request.name}"
    weight = steps.weight_of(after, request.version)
    tenants = next(route.tenants for route in after if route.version == request.version)
    serving = [route.version for route in steps.active(before)]
    if weight == 100 and request.version in serving:
        subject = f"Finish {label} in {request.env} (100 %)"
    elif weight == 100 and serving:
        subject = f"Promote {label} to {request.env} (100 %, replaces {', '.join(serving)})"
    elif weight == 100:
        subject = f"Promote {label} to {request.env}"
    elif tenants and not weight:
        subject = f"Promote {label} to {request.env} for {steps.tenants_phrase(tenants)} only"
    elif tenants:
        who = steps.tenants_phrase(tenants)
        subject = f"Promote {label} to {request.env} at {weight} % and for {who}"
    else:
        subject = f"Promote {label} to {request.env} at {weight} %"
    return (
        f"{subject}\n\n"
        f"Routes of {request.name} in {request.env}: {steps.describe(before)} -> "
        f"{steps.describe(after)}.\n\n"
        f"Adapter: {layout.served_name(request.name, request.version)}\n"
        f"Environment: {request.env}\n"
        f"Weight: {weight}\n"
        + ("" if request.analysis is None else f"Canary-Analysis: {request.analysis[0]}\n")
    )
