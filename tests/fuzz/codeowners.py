"""Fuzz target: a CODEOWNERS file (``codeowners.read``), and who owns each registry path by
its rules, as ``codeowners`` and the policy gate ask."""

from __future__ import annotations

from collections.abc import Iterator

from adapterctl.codeowners import read
from tests.fuzz.harness import files, scratch, write

PATHS = (
    "adapters/support-bot/1.2.0.yaml",
    "adapters/support-bot/golden/refunds.yaml",
    "environments/prod/environment.yaml",
    "CODEOWNERS",
    "teams.yaml",
)


def check(data: bytes) -> None:
    write("CODEOWNERS", data)
    owners = read(scratch(), "CODEOWNERS")
    for path in PATHS:
        owners.owners_for(path)


def seeds() -> Iterator[bytes]:
    yield from files("CODEOWNERS")
