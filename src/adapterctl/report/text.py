"""Human text: one block per finding, as DESIGN.md §3 shows, then a summary line."""

from __future__ import annotations

from adapterctl.findings import Finding, Report
from adapterctl.report.summary import summary


def finding_block(finding: Finding) -> str:
    lines = [f"{finding.location}  {finding.severity.value}  {finding.rule}"]
    lines += [f"  {line}" for line in finding.message.splitlines()]
    if finding.hint:
        lines.append(f"  → {finding.hint}")
    lines += [f"  see {related}" for related in finding.related]
    return "\n".join(lines)


def render(report: Report) -> str:
    blocks = [finding_block(finding) for finding in report.findings]
    mark = "✗" if report.failed else "✓"
    blocks.append(f"{mark} {report.command}: {summary(report)}")
    return "\n\n".join(blocks) + "\n"
