"""The golden and pressure evidence a promotion cites (``reports/`` of ``eval`` and
``pressure``), read defensively: a missing or unreadable file is said, never fatal."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from adapterctl import layout
from adapterctl.fsutil import TooLarge, read_capped

MAX_EVIDENCE_BYTES = 64 * 1024 * 1024
KINDS = {
    "golden": "adapterctl/golden-evidence@1",
    "pressure": "adapterctl/pressure-evidence@1",
}


@dataclass(frozen=True)
class Evidence:
    """One evidence file, or the reason there is none."""

    kind: str
    path: str
    ok: bool | None = None
    environment: str | None = None
    baseline: str | None = None
    created: str | None = None
    commit: str | None = None
    problem: str | None = None


def find_evidence(root: Path, name: str, version: str) -> tuple[Evidence, ...]:
    return tuple(_read(root, kind, name, version) for kind in KINDS)


def _read(root: Path, kind: str, name: str, version: str) -> Evidence:
    rel = f"reports/{kind}/{layout.served_name(name, version)}.json"
    file = root / rel
    if not file.is_file():
        return Evidence(kind, rel, problem="no evidence")
    try:
        document = json.loads(read_capped(file, MAX_EVIDENCE_BYTES))
    except (OSError, TooLarge, ValueError) as exc:
        return Evidence(kind, rel, problem=f"unreadable ({type(exc).__name__})")
    if not isinstance(document, dict) or document.get("format") != KINDS[kind]:
        return Evidence(kind, rel, problem=f"not {KINDS[kind]} evidence")
    return Evidence(
        kind,
        rel,
        ok=document.get("ok") is True,
        environment=_text(document.get("environment")),
        baseline=_text(document.get("baseline")),
        created=_text(document.get("created")),
        commit=_text(document.get("registry_commit")),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
