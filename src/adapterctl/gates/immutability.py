"""Immutability: a revision manifest that exists at the target ref must not change.

Revisions are append-only: publish a new version instead of editing one. The comparison
is git's own (``git diff --name-status REF``, working tree against the ref's tree).
"""

from __future__ import annotations

from pathlib import Path

import git

from adapterctl.errors import UsageError
from adapterctl.findings import Finding, Location, Severity
from adapterctl.layout import classify
from adapterctl.model.kinds import Kind

HINT = "revisions are append-only: restore the file and publish a new version instead"


def check(root: Path, ref: str) -> list[Finding]:
    """Findings for every revision manifest changed or deleted since ``ref``."""
    repo = _repo(root)
    prefix = root.resolve().relative_to(Path(repo.working_dir).resolve()).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    _resolve(repo, ref)
    output = repo.git.diff("--name-status", "--no-renames", "-z", ref, "--", f"{prefix}adapters")
    fields = output.split("\0")
    findings = []
    for status, repo_path in zip(fields[::2], fields[1::2], strict=False):
        path = repo_path.removeprefix(prefix)
        placement = classify(path)
        if placement is None or placement.kind is not Kind.ADAPTER_REVISION:
            continue
        if status == "D":
            findings.append(_finding(path, None, f"revision deleted since {ref}"))
        elif status != "A":
            old = repo.git.show(f"{ref}:{repo_path}", strip_newline_in_stdout=False)
            line = _first_difference(old, (root / path).read_text("utf-8", errors="replace"))
            findings.append(_finding(path, line, f"revision changed since {ref}"))
    return findings


def _repo(root: Path) -> git.Repo:
    try:
        return git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UsageError(f"--against needs a git repository, and {root} is not in one") from None


def _resolve(repo: git.Repo, ref: str) -> None:
    try:
        repo.commit(ref)
    except (git.BadName, ValueError, git.GitCommandError):
        raise UsageError(f"--against: unknown git revision '{ref}'") from None


def _first_difference(old: str, new: str) -> int:
    old_lines, new_lines = old.splitlines(), new.splitlines()
    for number, (a, b) in enumerate(zip(old_lines, new_lines, strict=False), start=1):
        if a != b:
            return number
    return min(len(old_lines), len(new_lines)) + 1


def _finding(path: str, line: int | None, message: str) -> Finding:
    location = Location(path, line, None)
    return Finding("immutability/revision-changed", Severity.ERROR, location, message, HINT)
