"""A pull request, its reviews and its changed files, as GitHub's REST API returns them.

- ``GET /repos/{owner}/{repo}/pulls/{n}``: the pull request (``user.login`` is the author,
  ``head.sha`` the commit under review, ``base.ref``/``base.sha`` the target);
- ``GET /repos/{owner}/{repo}/pulls/{n}/reviews``: reviews in chronological order, each
  with ``user`` (null for a deleted account), ``state``, ``commit_id`` (the head it was
  submitted on; null if that commit was garbage-collected), ``submitted_at`` and
  ``author_association``;
- ``GET /repos/{owner}/{repo}/pulls/{n}/files``: ``filename``, ``status`` and, for a
  rename, ``previous_filename``; GitHub lists at most 3000 files.

Fields the policy does not use are ignored. Lists may be one JSON array, the array of pages
that ``gh api --paginate --slurp`` writes, or the pages concatenated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from adapterctl.findings import JsonPath
from adapterctl.policy._json import Node, items, read_documents, single

REVIEW_STATES = ("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING")
_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
PULL = "a pull request from GET /repos/{owner}/{repo}/pulls/{pull_number}"
REVIEWS = ("reviews from GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews", "a review")
FILES = ("files from GET /repos/{owner}/{repo}/pulls/{pull_number}/files", "a changed file")


@dataclass(frozen=True, slots=True)
class PullRequest:
    number: int
    author: str
    head_sha: str
    base_sha: str
    base_ref: str
    title: str
    changed_files: int | None
    """How many files the pull request changes, by GitHub's count (if recorded)."""


@dataclass(frozen=True, slots=True)
class Review:
    id: int
    reviewer: str | None
    """The reviewer's login; None when the account was deleted."""
    state: str
    commit_id: str | None
    submitted_at: datetime | None
    association: str
    """``author_association``: OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, NONE..."""
    where: JsonPath
    """Where the review sits in its file, e.g. ``(3,)`` or ``(1, 0)`` for pages."""


@dataclass(frozen=True, slots=True)
class ChangedFile:
    filename: str
    status: str
    previous_filename: str | None = None

    @property
    def paths(self) -> tuple[str, ...]:
        """Every path the change touches: a rename touches where it came from too."""
        if self.previous_filename and self.previous_filename != self.filename:
            return (self.previous_filename, self.filename)
        return (self.filename,)


def read_pull_request(path: Path, display: str) -> PullRequest:
    node = single(read_documents(path, display), display, PULL)
    head = node.field("head").expect_object("the head branch")
    base = node.field("base").expect_object("the base branch")
    changed = node.optional("changed_files")
    return PullRequest(
        number=node.field("number").integer(),
        author=_login(node.field("user")),
        head_sha=_sha(head.field("sha")),
        base_sha=_sha(base.field("sha")),
        base_ref=base.field("ref").text(),
        title=node.field("title").text(),
        changed_files=None if changed is None else changed.integer(),
    )


def read_reviews(path: Path, display: str) -> tuple[Review, ...]:
    reviews = [_review(node) for node in items(read_documents(path, display), display, REVIEWS)]
    return tuple(_chronological(reviews))


def read_files(path: Path, display: str) -> tuple[ChangedFile, ...]:
    return tuple(_file(node) for node in items(read_documents(path, display), display, FILES))


def _review(node: Node) -> Review:
    state = node.field("state")
    if state.text() not in REVIEW_STATES:
        state.fail(f"unknown review state '{state.text()}'; expected one of {_join(REVIEW_STATES)}")
    user = node.optional("user")
    commit = node.optional("commit_id")
    submitted = node.optional("submitted_at")
    return Review(
        id=node.field("id").integer(),
        reviewer=None if user is None else _login(user),
        state=state.text(),
        commit_id=None if commit is None else _sha(commit),
        submitted_at=None if submitted is None else _timestamp(submitted),
        association=node.field("author_association").text(),
        where=node.path,
    )


def _file(node: Node) -> ChangedFile:
    previous = node.optional("previous_filename")
    return ChangedFile(
        filename=node.field("filename").text(),
        status=node.field("status").text(),
        previous_filename=None if previous is None else previous.text(),
    )


def _login(node: Node) -> str:
    return node.expect_object("a GitHub user").field("login").text()


def _sha(node: Node) -> str:
    text = node.text()
    if not _SHA.fullmatch(text):
        node.fail(f"'{text}' is not a commit SHA (40 or 64 lower-case hex digits)")
    return text


def _timestamp(node: Node) -> datetime:
    text = node.text()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        node.fail(f"'{text}' is not a timestamp with a time zone, e.g. 2026-11-20T09:12:00Z")
    return value


def _chronological(reviews: list[Review]) -> list[Review]:
    """GitHub lists reviews oldest first; sorting (stable) also orders hand-merged pages.
    Reviews without ``submitted_at`` (pending ones) keep their place at the front."""
    return sorted(reviews, key=lambda r: (r.submitted_at is not None, r.submitted_at or _EPOCH))


_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


def _join(values: tuple[str, ...]) -> str:
    return ", ".join(values)


def short(sha: str | None) -> str:
    """A commit as people read it: the first 7 hex digits."""
    return "an unknown commit" if sha is None else sha[:7]
