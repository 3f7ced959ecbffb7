"""Fuzz target: the files ``policy check`` is handed besides GitHub's JSON: teams.yaml
(``--teams``, and the target branch's) and the signers file (``--signers``)."""

from __future__ import annotations

from collections.abc import Iterator

from adapterctl.model.teams import Teams
from adapterctl.policy.signers import read_signers
from adapterctl.policy.sources import read_file
from tests.fuzz.harness import attempt, files, write


def check(data: bytes) -> None:
    path = write("policy.yaml", data)
    attempt(lambda: read_file(path, "teams.yaml", Teams))
    attempt(lambda: read_signers(path))


def seeds() -> Iterator[bytes]:
    yield from files("teams.yaml")
    yield b"support-bot@1.2.0: svc-train-pipeline@example.internal\n"
    yield b"sql-helper@1.1.0: [jdoe@example.internal, svc-train-pipeline@example.internal]\n"
