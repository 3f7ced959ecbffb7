"""Text and JSON renderings of a ``gc`` plan and of what ``gc --apply`` did."""

from __future__ import annotations

import json
from pathlib import Path

from adapterctl.gitops.gcplan import Item, Plan

GC_FORMAT = "adapterctl/gc/v1"
DRY_RUN = "dry run: nothing deleted; re-run with --apply --archive DIR to delete"
_UNITS = ("KiB", "MiB", "GiB", "TiB")


def gc_document(plan: Plan, *, applied: bool, archive: Path | None) -> dict[str, object]:
    """The stable ``adapterctl/gc/v1`` document (also the archive's ``gc-plan.json``)."""
    return {
        "format": GC_FORMAT,
        "store": plan.store,
        "keep_states": plan.keep_states,
        "kept": [_item_json(item) for item in plan.kept],
        "delete": [_item_json(item) for item in plan.delete],
        "unknown": [_item_json(item) for item in plan.unknown],
        "warnings": list(plan.warnings),
        "applied": applied,
        "archive": None if archive is None else str(archive),
    }


def gc_json(plan: Plan, *, applied: bool, archive: Path | None) -> str:
    document = gc_document(plan, applied=applied, archive=archive)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _item_json(item: Item) -> dict[str, object]:
    return {
        "digest": item.digest,
        "revisions": list(item.revisions),
        "bases": list(item.bases),
        "reasons": list(item.reasons),
        "size": item.size,
        "files": item.files,
    }


def gc_text(plan: Plan, *, applied: bool, archive: Path | None) -> str:
    states = "state" if plan.keep_states == 1 else f"{plan.keep_states} states"
    lines = [f"store {plan.store}: keeping what environments route now and in their last {states}"]
    lines += _section("delete", plan.delete, with_reasons=False) or ["nothing to delete"]
    lines += _section("keep", plan.kept, with_reasons=True)
    lines += _section("unknown (no manifest names them; never deleted)", plan.unknown, False)
    lines += [f"warning: {warning}" for warning in plan.warnings]
    lines += _outcome(plan, applied, archive)
    return "\n".join(lines) + "\n"


def _section(title: str, items: tuple[Item, ...], with_reasons: bool) -> list[str]:
    if not items:
        return []
    lines = [f"{title}: {_count(len(items))}, {human_size(sum(item.size for item in items))}"]
    for item in items:
        why = "; ".join(item.reasons) if with_reasons else human_size(item.size)
        lines.append(f"  {_short(item.digest)}  {_owners(item)}  {why}".rstrip())
    return lines


def _outcome(plan: Plan, applied: bool, archive: Path | None) -> list[str]:
    if not applied:
        return [DRY_RUN] if plan.delete else []
    if archive is None:
        return ["nothing deleted"]
    revisions = sum(len(item.revisions) for item in plan.delete)
    noun = "revision" if revisions == 1 else "revisions"
    total = human_size(sum(item.size for item in plan.delete))
    return [
        f"archived {revisions} {noun} in {archive}",
        f"deleted {_count(len(plan.delete))} from {plan.store} ({total} freed)",
    ]


def _count(artifacts: int) -> str:
    return "1 artifact" if artifacts == 1 else f"{artifacts} artifacts"


def _owners(item: Item) -> str:
    named = [*item.revisions, *(f"base {base}" for base in item.bases)]
    return ", ".join(named) if named else "-"


def _short(digest: str) -> str:
    return digest[: len("sha256:") + 12]


def human_size(size: int) -> str:
    """``512 B``, ``59.3 KiB``, ``1.2 GiB``."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            break
    return f"{value:.1f} {unit}"
