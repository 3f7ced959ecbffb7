"""The pull-request body of a promotion, a base change or a rollback, in GitHub Markdown."""

from __future__ import annotations

from adapterctl.findings import Report, Severity
from adapterctl.gitops import steps
from adapterctl.gitops.base_refresh import BasePromotion
from adapterctl.gitops.changes import Step
from adapterctl.gitops.evidence import Evidence
from adapterctl.gitops.promote import Promotion, SoakCheck
from adapterctl.gitops.rollback import Rollback
from adapterctl.gitops.steps import Route
from adapterctl.layout import served_name
from adapterctl.model.base import Merge


def title(step: Step) -> str:
    return step.message.splitlines()[0]


def promotion_body(promotion: Promotion) -> str:
    step = promotion.step
    lines = [
        f"## {title(step)}",
        "",
        f"Branch `{step.branch}` from `{step.base_branch}`; commit `{step.commit[:12]}`"
        f"{' (signed)' if step.signed else ''}.",
        "",
        *_routes_table(step),
        *_merge_lines(step.version, promotion.merge),
        "",
        "### Gates",
        "",
        _gate_line(promotion.gates, step.env),
        *_soak_lines(promotion),
        *(_evidence_line(item, step.env) for item in promotion.evidence),
        *_analysis_lines(promotion.analysis),
        "",
        *_rollback_lines("the revert of this change:", step.env, step.alias),
    ]
    return "\n".join(lines)


def _merge_lines(key: str, merge: Merge | None) -> list[str]:
    """Why a merged base takes traffic, from its merge record: the decision under review."""
    if merge is None:
        return []
    source = merge.source
    return [
        "",
        "### Merged base",
        "",
        f"`{key}` is `{source.adapter}` merged into `{source.base}` "
        f"({merge.method}, {merge.dtype}, PEFT {merge.peft_version}) by {merge.merged_by}.",
        "",
        f"- **Trigger:** {merge.trigger} — {merge.reason}",
        f"- **Equivalence:** max |Δlogit| held to {merge.tolerance:g} against base + adapter "
        f"(`adapterctl check --base {key}` in the merge's pull request and in CI).",
        "- **Compared with:** the adapter it came from, in the same alias's traffic; "
        "rolling back is one revert.",
    ]


def _rollback_lines(what: str, env: str, alias: str) -> list[str]:
    """The body's last section: the one command that proposes ``what``."""
    command = f"adapterctl rollback --env {env} {alias}"
    intro = f"After merging, one command proposes {what}"
    return ["### Rollback", "", intro, "", "```sh", command, "```", ""]


def _analysis_lines(markdown: str | None) -> list[str]:
    if markdown is None:
        return []
    return ["", "### Canary analysis", "", markdown.rstrip("\n")]


def rollback_body(rollback: Rollback, analysis: str | None = None) -> str:
    step = rollback.step
    reverted = rollback.reverted
    how = (
        f"Reverts commit `{reverted.commit[:12]}` ({reverted.subject})."
        if reverted is not None
        else f"Routes {step.alias} explicitly (`--to {step.version}`)."
    )
    lines = [
        f"## {title(step)}",
        "",
        f"Branch `{step.branch}` from `{step.base_branch}`; commit `{step.commit[:12]}`"
        f"{' (signed)' if step.signed else ''}. {how}",
        "",
        *_routes_table(step),
        "",
        "Every revision served afterwards is still in the store.",
        *_analysis_lines(analysis),
        "",
    ]
    return "\n".join(lines)


def _routes_table(step: Step) -> list[str]:
    before = {route.version: route for route in step.before}
    after = {route.version: route for route in step.after}
    rows = [
        f"| `{served_name(step.alias, version)}` | {_weight(before.get(version))} | "
        f"{_weight(after.get(version))} |"
        for version in dict.fromkeys([*before, *after])
    ]
    return [
        f"Routes of `{step.alias}` in `{step.env}`:",
        "",
        "| revision | before | after |",
        "|---|---:|---:|",
        *rows,
    ]


def _weight(route: Route | None) -> str:
    if route is None:
        return "—"
    tenants = ", ".join(f"`{tenant}`" for tenant in route.tenants)
    if route.tenants:
        return f"{route.weight} % + tenants {tenants}" if route.weight else f"tenants {tenants}"
    return "0 % (retained)" if route.weight == 0 else f"{route.weight} %"


def _gate_line(report: Report, env: str) -> str:
    warnings = report.counts()[Severity.WARNING]
    suffix = f", {warnings} warning{'s' if warnings != 1 else ''}" if warnings else ""
    checked = ", ".join(f"`{path}`" for path in report.checked)
    return f"- schema, integrity, compat with {env}: passed{suffix} ({checked})"


def base_body(moved: BasePromotion) -> str:
    """Per alias, the revision on the old base and the one on the new, with their evidence;
    how the nodes move; the one revert back."""
    rows = [
        f"| `{move.alias}` | {steps.describe(move.before)} | `{move.alias}@{move.version}` 100 % |"
        for move in moved.moves
    ]
    evidence = [
        line
        for move in moved.moves
        for line in (
            *(f"- `{move.alias}@{move.version}` {text[2:]}" for text in _soak_text(move.soak)),
            *(f"- `{move.alias}@{move.version}` {_evidence_line(item, moved.env)[2:]}"
              for item in move.evidence),
        )
    ]  # fmt: skip
    first = moved.moves[0].alias if moved.moves else "ALIAS"
    lines = [
        f"## {moved.message.splitlines()[0]}",
        "",
        f"Branch `{moved.branch}` from `{moved.base_branch}`; commit `{moved.commit[:12]}`"
        f"{' (signed)' if moved.signed else ''}.",
        "",
        f"`{moved.env}` moves from `{moved.old}` to `{moved.new}`, and every alias it routes "
        "with it, in this one commit:",
        "",
        f"| alias | on `{moved.old}` | on `{moved.new}` |",
        "|---|---|---|",
        *rows,
        "",
        "### Gates",
        "",
        _gate_line(moved.gates, f"{moved.new}"),
        *evidence,
        "",
        "### Nodes",
        "",
        f"vLLM cannot change its base at run time. Before merging, start a node pool on "
        f"`{moved.new}`; after merging, `adapterctl render --target vllm-args --env {moved.env}` "
        f"gives its command line, `sync` loads the new revisions there (a node still on "
        f"`{moved.old}` is refused and keeps what it serves), and the gateway sends each alias "
        f"only to nodes that report its new revision loaded, so the `{moved.old}` pool drains "
        "as the new one takes the traffic (blue-green by node pool).",
        "",
        *_rollback_lines(
            "the revert of base and routes together (keep the "
            f"`{moved.old}` pool until the change has soaked):",
            moved.env,
            first,
        ),
    ]
    return "\n".join(lines)


def _soak_text(check: SoakCheck | None) -> list[str]:
    if check is None:
        return []
    commit = check.soak.commit[:12] if check.soak.commit else "?"
    required = f"; requires {check.required}" if check.required else ""
    return [f"- soak: served in {check.upstream} for {check.served_for} since `{commit}`{required}"]


def _soak_lines(promotion: Promotion) -> list[str]:
    return _soak_text(promotion.soak)


def _evidence_line(item: Evidence, env: str) -> str:
    if item.problem is not None:
        return f"- {item.kind}: {item.problem} at `{item.path}`"
    verdict = "passed" if item.ok else "**FAILED**"
    where = f" in {item.environment}" if item.environment else ""
    against = f" against {item.baseline}" if item.baseline else ""
    when = f", {item.created}" if item.created else ""
    note = "" if item.environment in (None, env) else f" (not {env})"
    return f"- {item.kind}: {verdict}{where}{against}{when}{note}: `{item.path}`"
