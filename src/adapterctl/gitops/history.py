"""The history of one environment file, read with one ``git log`` stream.

``git log --first-parent --raw`` names the file's blob before and after each commit that
changed it; the blobs come from GitPython's one persistent ``git cat-file --batch``
process. Signature status (``%G?``, ``%GS``) is computed by that same ``git log``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import git

from adapterctl.errors import UsageError
from adapterctl.gitops.blobs import Blobs
from adapterctl.gitops.routes import (
    Change,
    RouteTable,
    UnparseableError,
    route_changes,
)
from adapterctl.gitrepo import RegistryRepo
from adapterctl.layout import environment_path

RECORD = "\x1e"
FIELD = "\x1f"
TRAILER_SEP = "\x1d"
FIELDS = ("%H", "%an", "%ae", "%cI", "%G?", "%GS", "%s", "%(trailers:only,unfold,separator=%x1d)")
LOG_FORMAT = "%x1e" + "%x1f".join(FIELDS) + "%x1f"
STATE_FORMAT = "%x1e%H%x1f"
NULL_SHA = "0" * 40
TRAILER_KEYS = ("Adapter", "Environment", "Weight", "Canary-Analysis")
MERGED_KEYS = ("Canary-Analysis",)
"""Trailers a pull request's merge commit takes from the commit it merged."""
_MERGE_PR = re.compile(r"^Merge pull request #(\d+) from ")
_SQUASH_PR = re.compile(r"\(#(\d+)\)\s*$")
_RAW_LINE = re.compile(r"^:\d+ \d+ ([0-9a-f]{40}) ([0-9a-f]{40}) [A-Z]\d*\t")


@dataclass(frozen=True, slots=True)
class Entry:
    """One commit that changed the environment file, and the route changes it made."""

    commit: str
    author_name: str
    author_email: str
    date: str
    subject: str
    pull_request: int | None
    trailers: dict[str, str]
    signature_status: str
    signer: str
    changes: tuple[Change, ...] = ()
    error: str | None = None
    """Set when the file at this commit cannot be parsed (its changes are then unknown)."""


@dataclass(frozen=True, slots=True)
class State:
    """The file as one commit left it: its blob id, or None where the commit deleted it."""

    commit: str
    blob: str | None


@dataclass(slots=True)
class _Commit:
    fields: list[str]
    old_blob: str | None = None
    new_blob: str | None = None


def history(
    root: Path,
    env: str,
    *,
    alias: str | None = None,
    limit: int | None = None,
    allowed_signers: Path | None = None,
) -> list[Entry]:
    """The commits that changed ``env``'s routes on the first-parent line, newest first."""
    registry = RegistryRepo.open(root, "history")
    path = registry.prefix + environment_path(env)
    log_limit = limit if alias is None else None
    commits = _parse_log(_log(registry.repo, path, log_limit, allowed_signers))
    if not commits and not (root / environment_path(env)).is_file():
        raise UsageError(f"unknown environment '{env}': {environment_path(env)} has no git history")
    entries = _with_merged_trailers(
        registry.repo, _entries(commits, _blobs(registry.repo, commits))
    )
    if alias is not None:
        entries = [_only_alias(entry, alias) for entry in entries]
        entries = [entry for entry in entries if entry.changes or entry.error]
        entries = entries[:limit] if limit is not None else entries
    return entries


def _with_merged_trailers(repo: git.Repo, entries: list[Entry]) -> list[Entry]:
    """Merge commits with the trailers (:data:`MERGED_KEYS`) of the commit they merged: a
    promotion's canary analysis is on its branch's commit, not on the pull request's merge."""
    merges = [e.commit for e in entries]
    if not merges:
        return entries
    parents: dict[str, str] = {}
    for line in repo.git.rev_list("--parents", "--no-walk=unsorted", *merges).split("\n"):
        shas = line.split()
        if len(shas) > 2:
            parents[shas[0]] = shas[2]
    if not parents:
        return entries
    fmt = "%H%x1f%(trailers:only,unfold,separator=%x1d)"
    merged: dict[str, dict[str, str]] = {}
    found = repo.git.log("--no-walk=unsorted", f"--format={fmt}", *set(parents.values()))
    for line in found.split("\n"):  # not splitlines(): the trailers' separator is \x1d
        sha, _, text = line.partition(FIELD)
        merged[sha] = {k: v for k, v in _trailers(text).items() if k in MERGED_KEYS}
    return [
        replace(e, trailers={**merged.get(parents.get(e.commit, ""), {}), **e.trailers})
        for e in entries
    ]


def _log(repo: git.Repo, path: str, limit: int | None, signers: Path | None) -> str:
    config = ["-c", f"gpg.ssh.allowedSignersFile={signers.resolve()}"] if signers else []
    count = [f"--max-count={limit}"] if limit is not None else []
    return _raw_log(repo, path, LOG_FORMAT, config, count)


def _raw_log(repo: git.Repo, path: str, fmt: str, config: list[str], options: list[str]) -> str:
    """One ``git log --first-parent --raw`` stream of the commits that changed ``path``."""
    args = ["git", *config, "log", "--first-parent", "--diff-merges=first-parent", "--raw"]
    args += ["--no-abbrev", "--no-renames", "--no-color", f"--format={fmt}", *options]
    if not repo.head.is_valid():
        return ""
    return str(repo.git.execute([*args, "HEAD", "--", path], strip_newline_in_stdout=False))


def _parse_log(out: str, width: int = len(FIELDS)) -> list[_Commit]:
    commits: list[_Commit] = []
    for record in out.split(RECORD)[1:]:
        parts = record.split(FIELD)
        commit = _Commit(parts[:width])
        for line in parts[width].splitlines():
            match = _RAW_LINE.match(line)
            if match:
                commit.old_blob = None if match[1] == NULL_SHA else match[1]
                commit.new_blob = None if match[2] == NULL_SHA else match[2]
        commits.append(commit)
    return commits


def file_states(registry: RegistryRepo, path: str) -> list[State]:
    """Every state of ``path`` on HEAD's first-parent line, newest first.

    State 1 is the file at HEAD (as last committed), state 2 the file before the last
    commit that changed it, and so on. The state before the oldest commit is included
    only when the file existed then (a shallow clone's boundary).
    """
    out = _raw_log(registry.repo, registry.prefix + path, STATE_FORMAT, [], [])
    commits = _parse_log(out, width=1)
    states = [State(commit.fields[0].strip(), commit.new_blob) for commit in commits]
    if commits and commits[-1].old_blob is not None:
        states.append(State(states[-1].commit + "^", commits[-1].old_blob))
    return states


def _blobs(repo: git.Repo, commits: list[_Commit]) -> Blobs:
    blobs = Blobs(repo)
    blobs.load(commit.new_blob for commit in commits)
    if commits:
        blobs.load([commits[-1].old_blob])
    return blobs


def _entries(commits: list[_Commit], blobs: Blobs) -> list[Entry]:
    """Oldest first, each compared with the last parseable state before it."""
    entries: list[Entry] = []
    last_good: RouteTable | None = None
    for commit in reversed(commits):
        if last_good is None:
            start = blobs.routes(commit.old_blob)
            last_good = {} if isinstance(start, UnparseableError) else start
        before = last_good
        after = blobs.routes(commit.new_blob)
        if isinstance(after, UnparseableError):
            entries.append(_entry(commit.fields, (), str(after)))
            continue
        entries.append(_entry(commit.fields, tuple(route_changes(before, after)), None))
        last_good = after
    entries.reverse()
    return entries


def _entry(fields: list[str], changes: tuple[Change, ...], error: str | None) -> Entry:
    sha, name, email, date, status, signer, subject, trailer_text = fields
    trailers = _trailers(trailer_text)
    return Entry(
        commit=sha.strip(),
        author_name=name,
        author_email=email,
        date=_utc(date),
        subject=subject,
        pull_request=pull_request(subject),
        trailers=trailers,
        signature_status=status,
        signer=signer,
        changes=changes,
        error=error,
    )


def _utc(iso: str) -> str:
    """git's strict ISO 8601 date in UTC, e.g. 2026-01-02T03:04:05Z."""
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _trailers(text: str) -> dict[str, str]:
    trailers: dict[str, str] = {}
    for item in text.split(TRAILER_SEP):
        key, sep, value = item.partition(":")
        if sep and key.strip() in TRAILER_KEYS:
            trailers[key.strip()] = value.strip()
    return trailers


def pull_request(subject: str) -> int | None:
    """The pull request number a GitHub merge or squash-merge subject names."""
    match = _MERGE_PR.match(subject) or _SQUASH_PR.search(subject)
    return int(match[1]) if match else None


def _only_alias(entry: Entry, alias: str) -> Entry:
    changes = tuple(change for change in entry.changes if change.alias == alias)
    return replace(entry, changes=changes)
