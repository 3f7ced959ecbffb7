"""Asking git about commits and their signatures, with the verifier's settings only.

Every call names the signature programs, the allowed-signers file and the revocation file
with ``-c`` (command-line settings win over every config file), so a repository's own
config cannot vouch for itself; replace refs are ignored, so a local ``refs/replace/``
cannot substitute one commit for another.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import git

from adapterctl.errors import InputError, UsageError

# %G? status, %GS signer, %GF signing key, %GP primary key, %GK key id (see git-log(1))
_FIELDS = ("%H", "%P", "%ct", "%G?", "%GS", "%GF", "%GP", "%GK", "%s")
_FORMAT = "--format=" + "%x00".join(_FIELDS) + "%x00"
_BATCH = 500


@dataclass(frozen=True, slots=True)
class CommitRecord:
    """One commit as git sees it, with the outcome of verifying its signature."""

    sha: str
    parents: tuple[str, ...]
    committed: int
    """Committer date, seconds since the epoch: the time git verifies the key at."""
    status: str
    signer: str
    fingerprint: str
    primary: str
    key_id: str
    subject: str

    @property
    def short(self) -> str:
        return self.sha[:12]


def open_repo(path: Path) -> git.Repo:
    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UsageError(f"--repo {path}: not in a git repository") from None


class GitReader:
    """Runs git in ``repo`` with fixed ``-c`` settings and extra environment variables."""

    def __init__(self, repo: git.Repo, config: Mapping[str, str], env: Mapping[str, str]):
        self.repo = repo
        options = [arg for key, value in config.items() for arg in ("-c", f"{key}={value}")]
        self._prefix = ["git", "--no-replace-objects", *options]
        self._env = {"GIT_NO_REPLACE_OBJECTS": "1", **env}

    def run(self, *args: str) -> str:
        out = self.repo.git.execute(
            [*self._prefix, *args],
            env=self._env,
            stdout_as_string=False,
            strip_newline_in_stdout=False,
        )
        assert isinstance(out, bytes)
        return out.decode("utf-8", errors="replace")

    def commits(self, ref: str, *, first_parent: bool = False) -> list[str]:
        """The commits a revision or range selects, newest first; a bad ref is a usage error."""
        if ".." not in ref:
            return [self.resolve(ref)]
        flags = ["--first-parent"] if first_parent else []
        try:
            return self.run("rev-list", *flags, "--end-of-options", ref).split()
        except git.GitCommandError:
            raise UsageError(f"unknown git revision or range '{ref}'") from None

    def resolve(self, ref: str) -> str:
        try:
            return self.run(
                "rev-parse", "--verify", "--end-of-options", f"{ref}^{{commit}}"
            ).strip()
        except git.GitCommandError:
            raise UsageError(f"unknown git revision '{ref}'") from None

    def records(self, shas: Sequence[str]) -> list[CommitRecord]:
        """Each commit with its signature verified, in the order given."""
        records: list[CommitRecord] = []
        for batch in _batches(shas):
            records += parse_records(self._log(_FORMAT, batch))
        return records

    def dates(self, shas: Sequence[str]) -> dict[str, int]:
        """Committer dates of ``shas`` (no signature checks: parents outside the range)."""
        dates: dict[str, int] = {}
        for batch in _batches(shas):
            for line in self._log("--format=%H %ct", batch).splitlines():
                sha, _, stamp = line.partition(" ")
                dates[sha] = int(stamp)
        return dates

    def _log(self, fmt: str, shas: Sequence[str]) -> str:
        try:
            return self.run("log", "--no-walk=unsorted", "--no-show-signature", fmt, *shas)
        except git.GitCommandError as exc:
            raise InputError(f"git log failed: {_first_line(exc.stderr)}") from None


def _batches(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _BATCH):
        yield items[start : start + _BATCH]


def _first_line(stderr: object) -> str:
    text = stderr.decode() if isinstance(stderr, bytes) else str(stderr)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0].removeprefix("stderr: ").strip("'") if lines else "no message"


def parse_records(output: str) -> list[CommitRecord]:
    """Records from the ``_FORMAT`` output: NUL-separated fields, a newline after each."""
    fields = output.split("\0")
    size = len(_FIELDS)
    records = []
    for start in range(0, len(fields) - size + 1, size):
        values = fields[start : start + size]
        sha, parents, stamp, status, signer, fp, primary, key_id, subject = values
        records.append(
            CommitRecord(
                sha=sha.lstrip("\n"),
                parents=tuple(parents.split()),
                committed=int(stamp),
                status=status,
                signer=signer,
                fingerprint=fp,
                primary=primary,
                key_id=key_id,
                subject=subject,
            )
        )
    return records
