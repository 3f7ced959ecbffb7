"""A local clone that follows one branch of the registry (the agent's and the gateway's)."""

from __future__ import annotations

from pathlib import Path

import git

from adapterctl.errors import InputError
from adapterctl.gitops.branches import git_message


def fetch_clone(clone: Path, repo: str, branch: str) -> Path:
    """``clone`` (made on first use) checked out at the fetched tip of ``branch``."""
    try:
        if not (clone / ".git").is_dir():
            git.Repo.clone_from(repo, clone, no_checkout=True)
        local = git.Repo(clone)
        local.git.fetch("--quiet", "--prune", "origin")
        local.git.checkout("--quiet", "--force", "--detach", f"origin/{branch}")
    except git.GitCommandError as exc:
        raise InputError(f"git: {git_message(exc)}") from None
    return clone
