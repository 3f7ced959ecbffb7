"""The ``validate`` pipeline: load the registry, run the schema-level gates, select findings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from adapterctl.config import relative_path
from adapterctl.errors import UsageError
from adapterctl.findings import Report
from adapterctl.gates import immutability, references
from adapterctl.registry import Registry


def validate(
    root: Path, paths: Sequence[Path] = (), against: str | None = None, workers: int | None = None
) -> Report:
    """Schema, cross references and (with ``against``) immutability, for ``paths`` or all."""
    selected = [_relative(root, path) for path in paths]
    registry = Registry.load(root, workers)
    findings = registry.findings + references.check(registry)
    if against is not None:
        findings += immutability.check(root, against)
    if selected:
        findings = [f for f in findings if _within(f.location.file, selected)]
    checked = [path for path in registry.checked if not selected or _within(path, selected)]
    return Report.build("validate", checked, findings)


def _relative(root: Path, path: Path) -> str:
    if not path.exists() and not path.is_symlink():
        raise UsageError(f"{path}: no such file or directory")
    return relative_path(root, path)


def _within(file: str, selected: Sequence[str]) -> bool:
    return any(not sel or file == sel or file.startswith(sel.rstrip("/") + "/") for sel in selected)
