"""Fuzz target: the GitHub REST API JSON that ``policy check`` reads (``policy.github``): a
pull request, its reviews and its changed files, one document or paginated."""

from __future__ import annotations

from collections.abc import Iterator

from adapterctl.policy.github import read_files, read_pull_request, read_reviews
from tests.fuzz.harness import attempt, files, write


def check(data: bytes) -> None:
    path = write("github.json", data)
    attempt(lambda: read_pull_request(path, "pr.json"))
    attempt(lambda: read_reviews(path, "reviews.json"))
    attempt(lambda: read_files(path, "files.json"))


def seeds() -> Iterator[bytes]:
    yield from files("tests/data/github/*/*.json")
