"""Machine-readable JSON (stable keys; one object per finding)."""

from __future__ import annotations

import json as _json

from adapterctl.findings import Finding, Report, Severity, format_json_path


def finding_dict(finding: Finding) -> dict[str, object]:
    loc = finding.location
    return {
        "file": loc.file,
        "line": loc.line,
        "column": loc.column,
        "path": format_json_path(loc.path) if loc.path else None,
        "severity": finding.severity.value,
        "rule": finding.rule,
        "message": finding.message,
        "hint": finding.hint,
    }


def render(report: Report) -> str:
    counts = report.counts()
    document = {
        "command": report.command,
        "ok": not report.failed,
        "summary": {
            "files": len(report.checked),
            **{f"{s.value}s" if s is not Severity.INFO else "info": counts[s] for s in Severity},
        },
        "findings": [finding_dict(finding) for finding in report.findings],
    }
    return _json.dumps(document, indent=2, ensure_ascii=False) + "\n"
