"""The files a pull request changes, from git when no ``--files`` was recorded.

The same comparison GitHub makes: from the merge base of ``base.sha`` and ``head.sha`` to
``head.sha`` (``git diff base...head``), with renames detected.
"""

from __future__ import annotations

from pathlib import Path

import git

from adapterctl.errors import UsageError
from adapterctl.gitrepo import RegistryRepo
from adapterctl.policy.github import ChangedFile, PullRequest, short

_STATUS = {
    "A": "added",
    "D": "removed",
    "M": "modified",
    "R": "renamed",
    "C": "copied",
    "T": "changed",
}
HINT = (
    "pass --files FILE, recorded with "
    "gh api --paginate --slurp repos/OWNER/REPO/pulls/NUMBER/files > files.json"
)


def changed_files(root: Path, pr: PullRequest) -> tuple[ChangedFile, ...]:
    """What ``pr`` changes under the registry root, by ``git diff base...head``."""
    repo = _open(root)
    try:
        for role, sha in (("base", pr.base_sha), ("head", pr.head_sha)):
            _require(repo, root, role, sha)
        diff = repo.repo.git.diff("--name-status", "-z", "-M", f"{pr.base_sha}...{pr.head_sha}")
    finally:
        repo.repo.close()
    return tuple(_parse(diff.split("\0"), repo.prefix))


def _require(repo: RegistryRepo, root: Path, role: str, sha: str) -> None:
    try:
        repo.repo.git.cat_file("-e", f"{sha}^{{commit}}")
    except git.GitCommandError:
        raise UsageError(
            f"the pull request's {role} commit {short(sha)} is not in the git repository at {root}",
            hint=f"fetch it (git fetch origin {sha}), or {HINT}",
        ) from None


def _open(root: Path) -> RegistryRepo:
    try:
        return RegistryRepo.open(root, "--files")
    except UsageError:
        raise UsageError(
            f"without --files the changed files come from git, and {root} is not in a git "
            "repository",
            hint=HINT,
        ) from None


def _parse(fields: list[str], prefix: str) -> list[ChangedFile]:
    """``git diff --name-status -z`` output: a status, then one path (two for R and C)."""
    changed: list[ChangedFile] = []
    i = 0
    while i < len(fields) and fields[i]:
        letter = fields[i][0]
        if letter in "RC":
            old, new, i = fields[i + 1], fields[i + 2], i + 3
        else:
            old, new, i = "", fields[i + 1], i + 2
        changed += _inside(prefix, letter, old, new)
    return changed


def _inside(prefix: str, letter: str, old: str, new: str) -> list[ChangedFile]:
    """The change as seen from the registry root (a move out of it removes the old path)."""
    old_inside = bool(old) and old.startswith(prefix)
    if not new.startswith(prefix):
        return [ChangedFile(old.removeprefix(prefix), "removed")] if old_inside else []
    previous = old.removeprefix(prefix) if old_inside else None
    return [ChangedFile(new.removeprefix(prefix), _STATUS.get(letter, "changed"), previous)]
