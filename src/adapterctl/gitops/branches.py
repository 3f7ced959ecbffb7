"""The git side of promotion and rollback: preconditions, open promotions, and commits
made on a new branch in a temporary worktree, so the user's checkout never changes."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import git

from adapterctl.errors import InputError, UsageError
from adapterctl.gitrepo import RegistryRepo

MAX_LISTED = 5


@dataclass(frozen=True)
class Checkout:
    """A clean, attached checkout of the registry: what promotions branch from."""

    registry: RegistryRepo
    branch: str
    head: str

    @property
    def repo(self) -> git.Repo:
        return self.registry.repo


def clean_checkout(root: Path, command: str) -> Checkout:
    """The registry's checkout; refuses a detached HEAD or uncommitted changes."""
    registry = RegistryRepo.open(root, command)
    repo = registry.repo
    if not repo.head.is_valid():
        raise InputError(f"{command}: the repository has no commits yet")
    if repo.head.is_detached:
        raise InputError(
            f"{command}: HEAD is detached at {repo.head.commit.hexsha[:12]}",
            hint="check out the branch to start from, e.g. git switch main",
        )
    dirty = _dirty_paths(repo)
    if dirty:
        listed = ", ".join(dirty[:MAX_LISTED]) + (", …" if len(dirty) > MAX_LISTED else "")
        raise InputError(
            f"{command}: the working tree has uncommitted changes ({listed}); nothing written",
            hint="commit or stash them first: the gates must judge exactly what is committed",
        )
    return Checkout(registry, repo.active_branch.name, repo.head.commit.hexsha)


def _dirty_paths(repo: git.Repo) -> list[str]:
    out = str(repo.git.status("--porcelain=v1", "-z", "--untracked-files=all"))
    return [item[3:] for item in out.split("\0") if len(item) > 3 and item[2] == " "]


def open_branches(checkout: Checkout, kind: str, env: str, alias: str) -> list[str]:
    """Local and remote-tracking ``promote/`` or ``rollback/`` branches for ``env`` and
    ``alias`` that are not merged into HEAD."""
    pattern = re.compile(rf"^(?:[^/]+/)?{kind}/{re.escape(env)}/{re.escape(alias)}-\d")
    out = str(
        checkout.repo.git.for_each_ref(
            "--format=%(refname:short)", "--no-merged=HEAD", "refs/heads", "refs/remotes"
        )
    )
    return sorted(ref for ref in out.splitlines() if pattern.match(ref))


def branch_state(checkout: Checkout, branch: str) -> str:
    """``absent``, ``merged`` (already part of HEAD) or ``open``."""
    ref = f"refs/heads/{branch}"
    try:
        checkout.repo.git.rev_parse("--verify", "--quiet", ref)
    except git.GitCommandError:
        return "absent"
    try:
        checkout.repo.git.merge_base("--is-ancestor", ref, "HEAD")
    except git.GitCommandError:
        return "open"
    return "merged"


@contextmanager
def worktree(checkout: Checkout) -> Iterator[Path]:
    """A temporary detached worktree at HEAD, removed afterwards whatever happens."""
    parent = Path(tempfile.mkdtemp(prefix="adapterctl-"))
    path = parent / "worktree"
    checkout.repo.git.worktree("add", "--quiet", "--detach", str(path), checkout.head)
    try:
        yield path
    finally:
        checkout.repo.git.worktree("remove", "--force", str(path))
        shutil.rmtree(parent, ignore_errors=True)


def commit_in(path: Path, message: str, *, sign: bool) -> str:
    """Commit what is staged in the worktree at ``path``; returns the commit id."""
    repo = git.Repo(path)
    args = ["-S"] if sign else ["--no-gpg-sign"]
    try:
        repo.git.commit("--quiet", *args, "-m", message)
    except git.GitCommandError as exc:
        what = "sign and commit" if sign else "commit"
        raise InputError(f"git could not {what} the change: {git_message(exc)}") from None
    return repo.head.commit.hexsha


def set_branch(checkout: Checkout, branch: str, commit: str) -> None:
    """Point ``branch`` at ``commit`` (new, or moved on from a merged old tip)."""
    checkout.repo.git.branch("--force", "--no-track", branch, commit)


def git_message(exc: git.GitCommandError) -> str:
    """git's first meaningful stderr line."""
    text = str(exc.stderr or exc.stdout or exc).strip().strip("'").strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("hint:", "stderr:"))]
    return (useful or lines or ["unknown git error"])[0].removeprefix("error: ")


def require_new_branch(checkout: Checkout, branch: str, open_refs: Callable[[], list[str]]) -> None:
    """Refuse when ``branch`` is open, or another open branch changes the same alias."""
    others = open_refs()
    if others:
        raise InputError(
            f"{others[0]} already changes these routes and is not merged into {checkout.branch}",
            hint="merge or close that pull request first (then delete the branch: "
            f"git branch -D {others[0]}); two open changes to one alias would conflict",
        )
    if branch_state(checkout, branch) == "open":
        raise UsageError(f"branch {branch} already exists")


def add(path: Path, file: str) -> None:
    """Stage ``file`` in the worktree at ``path``."""
    git.Repo(path).git.add("--", file)


def revert_in(path: Path, commit: str) -> None:
    """``git revert --no-commit`` of ``commit`` (``-m 1`` for a merge) in the worktree."""
    repo = git.Repo(path)
    mainline = ["-m", "1"] if len(repo.commit(commit).parents) > 1 else []
    try:
        repo.git.revert("--no-commit", *mainline, commit)
    except git.GitCommandError as exc:
        raise InputError(
            f"git cannot revert {commit[:12]} cleanly: {git_message(exc)}",
            hint="later commits changed the same lines; set the routes explicitly with --to",
        ) from None
