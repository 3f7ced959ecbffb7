"""The one-line summary every reporter shows."""

from __future__ import annotations

from adapterctl.findings import Report, Severity


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def summary(report: Report) -> str:
    """E.g. ``3 errors, 1 warning in 12 files`` or ``12 files, no problems``."""
    counts = report.counts()
    files = plural(len(report.checked), report.unit)
    parts = [
        plural(counts[severity], severity.value)
        for severity in (Severity.ERROR, Severity.WARNING)
        if counts[severity]
    ]
    if not parts:
        return f"{files}, no problems"
    return f"{', '.join(parts)} in {files}"
