"""Immutability: a revision manifest that exists at the target ref must not change.

Revisions are append-only: publish a new version instead of editing one. The comparison
is git's own (``git diff --name-status REF``, working tree against the ref's tree).
"""

from __future__ import annotations

from pathlib import Path

from adapterctl.findings import Finding, Location, Severity
from adapterctl.gitrepo import RegistryRepo
from adapterctl.layout import classify
from adapterctl.model.kinds import Kind

HINT = "revisions are append-only: restore the file and publish a new version instead"


def check(root: Path, ref: str) -> list[Finding]:
    """Findings for every revision manifest changed or deleted since ``ref``."""
    repo = RegistryRepo.open(root, "--against")
    repo.check_ref(ref, "--against")
    findings = []
    for status, path in repo.changes(ref, "adapters"):
        placement = classify(path)
        if status == "A" or placement is None or placement.kind is not Kind.ADAPTER_REVISION:
            continue
        if status == "D":
            findings.append(_finding(path, None, f"revision deleted since {ref}"))
        else:
            new = (root / path).read_text("utf-8", errors="replace")
            line = _first_difference(repo.show(ref, path), new)
            findings.append(_finding(path, line, f"revision changed since {ref}"))
    return findings


def _first_difference(old: str, new: str) -> int:
    old_lines, new_lines = old.splitlines(), new.splitlines()
    for number, (a, b) in enumerate(zip(old_lines, new_lines, strict=False), start=1):
        if a != b:
            return number
    return min(len(old_lines), len(new_lines)) + 1


def _finding(path: str, line: int | None, message: str) -> Finding:
    location = Location(path, line, None)
    return Finding("immutability/revision-changed", Severity.ERROR, location, message, HINT)
