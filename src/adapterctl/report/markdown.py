"""GitHub-flavoured Markdown for ``$GITHUB_STEP_SUMMARY`` and pull-request comments."""

from __future__ import annotations

from adapterctl.findings import Finding, Report, format_json_path
from adapterctl.report.summary import summary

MAX_ROWS = 500
_ICON = {"error": "❌", "warning": "⚠️", "info": "ℹ️"}


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>")


def _code(text: str) -> str:
    return f"`{text.replace('`', 'ˋ')}`"


def _row(finding: Finding) -> str:
    loc = finding.location
    where = _code(loc.file if loc.line is None else f"{loc.file}:{loc.line}")
    if loc.path:
        where += " " + _code(format_json_path(loc.path))
    message = finding.message + (f"\n→ {finding.hint}" if finding.hint else "")
    severity = f"{_ICON[finding.severity.value]} {finding.severity.value}"
    return f"| {_cell(where)} | {severity} | {_code(finding.rule)} | {_cell(message)} |"


def render(report: Report) -> str:
    icon = "❌" if report.failed else "✅"
    lines = [f"### {icon} adapterctl {report.command}: {summary(report)}", ""]
    if report.findings:
        lines += ["| Location | Severity | Rule | Message |", "|---|---|---|---|"]
        lines += [_row(finding) for finding in report.findings[:MAX_ROWS]]
        hidden = len(report.findings) - MAX_ROWS
        if hidden > 0:
            lines += ["", f"… and {hidden} more findings (see the JSON or JUnit report)."]
    return "\n".join(lines) + "\n"
