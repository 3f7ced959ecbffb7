"""The ``eval`` pipeline: plan the golden run, run it, judge it, keep the evidence."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import git

from adapterctl import layout
from adapterctl.errors import UsageError
from adapterctl.evals.results import CaseResult
from adapterctl.evals.runner import EvalPlan, run
from adapterctl.findings import Finding, JsonPath, Location, Report, Severity
from adapterctl.fsutil import write_atomic
from adapterctl.gates import golden
from adapterctl.gates.golden import Comparison
from adapterctl.model import AdapterLine, GoldenSuite
from adapterctl.registry import InvalidDocument, Registry
from adapterctl.report.json import finding_dict


def chosen_baseline(
    registry: Registry, env_name: str, name: str, candidate: str, asked: str
) -> str | None:
    """What ``--baseline`` names (``eval`` and ``pressure``): ``none``, ``auto`` (the version
    the environment routes most of the alias's traffic to, not the candidate) or a version."""
    if asked == "none":
        return None
    if asked == "auto":
        env = registry.require_environment(env_name)
        routes = [r for r in env.routes.get(name, ()) if r.key != candidate]
        if not routes:
            return None
        return max(routes, key=lambda route: route.weight).key
    if asked == candidate:
        raise UsageError(f"--baseline {asked} is the candidate itself")
    if registry.revision(name, asked) is None:
        raise UsageError(f"no valid revision {name}@{asked} to compare with (--baseline)")
    return asked


def line_and_suites(registry: Registry, name: str) -> tuple[AdapterLine, tuple[GoldenSuite, ...]]:
    """The line and its golden suites; :class:`InvalidDocument` (its findings, located as
    ``validate`` reports them) for a suite that is invalid."""
    line = registry.line(name)
    if line is None:
        raise UsageError(f"no adapter line {name}: {layout.line_path(name)} is missing or invalid")
    suites = [_suite(registry, name, suite_name) for suite_name in line.golden_suites]
    if not suites:
        raise UsageError(f"adapter line {name} names no golden_suites in {layout.line_path(name)}")
    return line, tuple(suites)


def _suite(registry: Registry, line: str, name: str) -> GoldenSuite:
    suite = registry.suite(line, name)
    if suite is not None:
        return suite
    path = layout.suite_path(line, name)
    if registry.exists(path):
        raise InvalidDocument(f"the golden suite {name}", registry.report_of(path, "eval"))
    raise UsageError(f"no golden suite {name}: {path} does not exist")


def evaluate(
    registry: Registry,
    plan: EvalPlan,
    line: AdapterLine,
    progress: Callable[[CaseResult], None] | None = None,
    hardware_class: str | None = None,
) -> tuple[Report, Comparison]:
    """Run ``plan`` and judge it; the report holds the gate's findings and a summary.
    ``hardware_class`` is the node's (absolute budgets of another class are not checked)."""
    results = tuple(run(plan, progress))
    candidate = plan.revisions[0]
    baseline = plan.revisions[1] if len(plan.revisions) > 1 else None
    comparison = Comparison(line, plan.suites, results, candidate, baseline, hardware_class)

    def locate(path: str, json_path: JsonPath) -> Location:
        return registry.locate(path, json_path)

    findings = golden.check(comparison, locate) + summary(comparison, locate)
    checked = [layout.suite_path(line.name, suite.suite) for suite in plan.suites]
    return Report.build("eval", checked, findings), comparison


def summary(comparison: Comparison, locate: golden.Locate) -> list[Finding]:
    """One info finding per suite: pass rates of both revisions, side by side."""
    findings = []
    for suite in comparison.suites:
        path = layout.suite_path(comparison.line.name, suite.suite)
        rates = [
            f"{revision} {golden.pass_rate(_of(comparison.results, revision, suite.suite)):.0%}"
            for revision in _revisions(comparison)
        ]
        message = f"suite {suite.suite}: " + ", ".join(rates)
        findings.append(Finding("golden/summary", Severity.INFO, locate(path, ()), message))
    return findings


def _revisions(comparison: Comparison) -> list[str]:
    return [r for r in (comparison.candidate, comparison.baseline) if r is not None]


def _of(results: Sequence[CaseResult], revision: str, suite: str) -> list[CaseResult]:
    return [r for r in results if r.revision == revision and r.suite == suite]


EVIDENCE_FORMAT = "adapterctl/golden-evidence@1"


@dataclass(frozen=True, kw_only=True)
class RunContext:
    """Where and how the run happened, recorded with its evidence."""

    environment: str
    endpoint: str
    repeats: int
    registry_commit: str | None = None
    hardware_class: str | None = None


def write_evidence(path: Path, comparison: Comparison, report: Report, run: RunContext) -> None:
    """Everything the run saw, for the promotion pull request to cite (docs/golden.md)."""
    document = {
        "format": EVIDENCE_FORMAT,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "environment": run.environment,
        "endpoint": run.endpoint,
        "registry_commit": run.registry_commit,
        "candidate": comparison.candidate,
        "baseline": comparison.baseline,
        "repeats": run.repeats,
        "hardware_class": run.hardware_class,
        "rules": comparison.line.gates.model_dump(mode="json"),
        "ok": not report.failed,
        "suites": {
            suite.suite: {
                revision: {
                    "pass_rate": round(golden.pass_rate(of), 4),
                    "cases": len(suite.cases),
                    "runs_passed": sum(r.passed for r in of),
                    "runs": len(of),
                }
                for revision in _revisions(comparison)
                for of in [_of(comparison.results, revision, suite.suite)]
            }
            for suite in comparison.suites
        },
        "findings": [finding_dict(f) for f in report.findings],
        "results": [asdict(result) for result in comparison.results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def head_commit(root: Path) -> str | None:
    """The registry's checked-out commit, when it is a git work tree."""
    try:
        return git.Repo(root, search_parent_directories=True).head.commit.hexsha
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        return None
