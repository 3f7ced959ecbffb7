"""Rendering of ``adapterctl codeowners``: who owns each path, then any invalid lines."""

from __future__ import annotations

import json as _json
from collections.abc import Sequence
from dataclasses import dataclass

from adapterctl.codeowners import Rule
from adapterctl.findings import Report
from adapterctl.report import json, text


@dataclass(frozen=True, slots=True)
class Ownership:
    """The rule that decides who owns ``path`` (None when no rule matches)."""

    path: str
    rule: Rule | None


def render_text(file: str, owned: Sequence[Ownership], report: Report) -> str:
    width = max((len(item.path) for item in owned), default=0)
    lines = [f"{item.path:<{width}}  {_describe(file, item.rule)}" for item in owned]
    if report.findings:
        lines += ["", text.render(report).rstrip("\n")]
    return "\n".join(lines) + "\n"


def _describe(file: str, rule: Rule | None) -> str:
    if rule is None:
        return "(no owners: no rule matches)"
    where = f"({file}:{rule.line} {rule.pattern})"
    if not rule.owners:
        return f"(no owners) {where}"
    return f"{' '.join(rule.owners)}  {where}"


def render_json(file: str, owned: Sequence[Ownership], report: Report) -> str:
    document = {
        "file": file,
        "ok": not report.failed,
        "paths": [
            {
                "path": item.path,
                "owners": list(item.rule.owners) if item.rule else [],
                "rule": {"pattern": item.rule.pattern, "line": item.rule.line}
                if item.rule
                else None,
            }
            for item in owned
        ],
        "findings": [json.finding_dict(finding) for finding in report.findings],
    }
    return _json.dumps(document, indent=2, ensure_ascii=False) + "\n"
