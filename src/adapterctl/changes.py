"""What a pull request changes in the registry, from git."""

from __future__ import annotations

from pathlib import Path

from adapterctl.gitrepo import RegistryRepo
from adapterctl.layout import classify
from adapterctl.model.kinds import Kind


def added_revisions(root: Path, against: str) -> list[tuple[str, str]]:
    """``(name, version)`` of every revision manifest added since ``against``."""
    return _added(root, against, "adapters", Kind.ADAPTER_REVISION)


def added_merged_bases(root: Path, against: str) -> list[tuple[str, str]]:
    """``(name, revision)`` of every base manifest added since ``against`` (the check
    pipeline gates those with a merge record, and says so for the others)."""
    return _added(root, against, "bases", Kind.BASE)


def _added(root: Path, against: str, folder: str, kind: Kind) -> list[tuple[str, str]]:
    """``(name, item)`` of every file of ``kind`` under ``folder`` added since ``against``."""
    repo = RegistryRepo.open(root, "--against")
    repo.check_ref(against, "--against")
    added = []
    for status, path in repo.changes(against, folder):
        placement = classify(path)
        if status == "A" and placement and placement.kind is kind:
            added.append((placement.name, placement.item or ""))
    return added
