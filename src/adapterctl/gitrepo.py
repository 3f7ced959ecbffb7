"""The registry's git repository, through GitPython."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import git

from adapterctl.errors import UsageError


@dataclass(frozen=True)
class RegistryRepo:
    """A git repository and where the registry root sits inside it."""

    repo: git.Repo
    prefix: str
    """The registry root relative to the work tree, '' or ending in '/'."""

    @classmethod
    def open(cls, root: Path, option: str) -> RegistryRepo:
        try:
            repo = git.Repo(root, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise UsageError(f"{option} needs a git repository, and {root} is not in one") from None
        prefix = root.resolve().relative_to(Path(repo.working_dir).resolve()).as_posix()
        return cls(repo, "" if prefix == "." else prefix + "/")

    def check_ref(self, ref: str, option: str) -> None:
        try:
            self.repo.commit(ref)
        except (git.BadName, ValueError, git.GitCommandError):
            raise UsageError(f"{option}: unknown git revision '{ref}'") from None

    def changes(self, ref: str, folder: str) -> list[tuple[str, str]]:
        """(status, registry-relative path) of files under ``folder`` changed since ``ref``,
        working tree included; untracked new files count as added."""
        out = self.repo.git.diff(
            "--name-status", "--no-renames", "-z", ref, "--", self.prefix + folder
        )
        fields = out.split("\0")
        changed = [
            (status, path.removeprefix(self.prefix))
            for status, path in zip(fields[::2], fields[1::2], strict=False)
        ]
        untracked = self.repo.git.ls_files(
            "--others", "--exclude-standard", "-z", "--", self.prefix + folder
        )
        changed += [("A", path.removeprefix(self.prefix)) for path in untracked.split("\0") if path]
        return changed

    def show(self, ref: str, path: str) -> str:
        return str(self.repo.git.show(f"{ref}:{self.prefix}{path}", strip_newline_in_stdout=False))
