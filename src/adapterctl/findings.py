"""Findings: what every gate returns, and what every reporter renders."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

JsonPath = tuple[str | int, ...]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


def format_json_path(path: JsonPath) -> str:
    """``('routes', 'support-bot', 0, 'weight')`` → ``$.routes.support-bot[0].weight``."""
    out = ["$"]
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif part and all(c.isalnum() or c in "-_" for c in part):
            out.append(f".{part}")
        else:
            escaped = part.replace("\\", "\\\\").replace("'", "\\'")
            out.append(f"['{escaped}']")
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Location:
    """Where a finding points: a file relative to the registry root, 1-based line/column."""

    file: str
    line: int | None = None
    column: int | None = None
    path: JsonPath = ()

    def __str__(self) -> str:
        text = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{text} {format_json_path(self.path)}" if self.path else text


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem (or note) found by a gate, written for the person who must fix it."""

    rule: str
    severity: Severity
    location: Location
    message: str
    hint: str | None = None
    related: tuple[Location, ...] = field(default=())

    @property
    def gate(self) -> str:
        return self.rule.split("/", 1)[0]

    def sort_key(self) -> tuple[str, int, int, str]:
        loc = self.location
        return (loc.file, loc.line or 0, loc.column or 0, self.rule)


@dataclass(frozen=True, slots=True)
class Report:
    """The outcome of one command: what was checked and what was found."""

    command: str
    checked: tuple[str, ...]
    findings: tuple[Finding, ...]
    unit: str = "file"
    """What ``checked`` holds, for the summary line: files, commits, revisions."""

    @classmethod
    def build(
        cls,
        command: str,
        checked: Iterable[str],
        findings: Iterable[Finding],
        *,
        unit: str = "file",
    ) -> Report:
        return cls(
            command=command,
            checked=tuple(sorted(checked)),
            findings=tuple(sorted(findings, key=Finding.sort_key)),
            unit=unit,
        )

    def counts(self) -> Counter[Severity]:
        return Counter(f.severity for f in self.findings)

    @property
    def failed(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)

    def by_file(self) -> dict[str, Sequence[Finding]]:
        grouped: dict[str, list[Finding]] = {name: [] for name in self.checked}
        for finding in self.findings:
            grouped.setdefault(finding.location.file, []).append(finding)
        return dict(grouped)
