"""What a pull request changes in the registry, from git."""

from __future__ import annotations

from pathlib import Path

from adapterctl.gitrepo import RegistryRepo
from adapterctl.layout import classify
from adapterctl.model.kinds import Kind


def added_revisions(root: Path, against: str) -> list[tuple[str, str]]:
    """``(name, version)`` of every revision manifest added since ``against``."""
    repo = RegistryRepo.open(root, "--against")
    repo.check_ref(against, "--against")
    added = []
    for status, path in repo.changes(against, "adapters"):
        placement = classify(path)
        if status == "A" and placement and placement.kind is Kind.ADAPTER_REVISION:
            added.append((placement.name, placement.item or ""))
    return added


def added_merged_bases(root: Path, against: str) -> list[tuple[str, str]]:
    """``(name, revision)`` of every base manifest added since ``against`` (the check
    pipeline gates those with a merge record, and says so for the others)."""
    repo = RegistryRepo.open(root, "--against")
    repo.check_ref(against, "--against")
    added = []
    for status, path in repo.changes(against, "bases"):
        placement = classify(path)
        if status == "A" and placement and placement.kind is Kind.BASE:
            added.append((placement.name, placement.item or ""))
    return added
