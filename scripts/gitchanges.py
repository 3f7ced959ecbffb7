"""Shared by the changed-*.py scripts: what changed between two commits, read with git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

NULL_SHA = "0" * 40


def git(root: Path, *args: str) -> str:
    """Run git in ``root`` (replace refs ignored) and return its stdout."""
    cmd = ["git", "--no-replace-objects", "-C", str(root), *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def is_commit(root: Path, ref: str) -> bool:
    """True when ``ref`` names a commit this repository has (not the all-zero SHA)."""
    if not ref or ref == NULL_SHA:
        return False
    cmd = ["git", "-C", str(root), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"]
    return subprocess.run(cmd, capture_output=True, check=False).returncode == 0


def changed_paths(root: Path, base: str, head: str, *pathspecs: str) -> list[str]:
    """Paths changed from the merge base of ``base`` and ``head`` to ``head`` (both names
    of a rename). Without a usable ``base`` (a new branch, a force push), every path under
    ``pathspecs`` at ``head``."""
    if not is_commit(root, base):
        out = git(root, "ls-tree", "-r", "-z", "--name-only", head, "--", *pathspecs)
        return [p for p in out.split("\0") if p]
    out = git(
        root, "diff", "--name-only", "-z", "--no-renames", f"{base}...{head}", "--", *pathspecs
    )
    return sorted({p for p in out.split("\0") if p})


def show(root: Path, ref: str, path: str) -> str | None:
    """The file at ``ref``, or None when it does not exist there."""
    if not is_commit(root, ref):
        return None
    cmd = ["git", "--no-replace-objects", "-C", str(root), "show", f"{ref}:{path}"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else None


def load_yaml(text: str) -> object:
    """Parse one YAML document with the safe loader."""
    return yaml.safe_load(text)
