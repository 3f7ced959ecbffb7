"""Text and JSON renderings of ``history`` and ``diff``."""

from __future__ import annotations

import json

from adapterctl.gitops.diff import RouteDiff, Side
from adapterctl.gitops.history import Entry
from adapterctl.layout import environment_path

HISTORY_SCHEMA = "adapterctl/history/v1"
DIFF_SCHEMA = "adapterctl/diff/v1"


def history_json(env: str, alias: str | None, entries: list[Entry]) -> str:
    document = {
        "schema": HISTORY_SCHEMA,
        "environment": env,
        "path": environment_path(env),
        "alias": alias,
        "entries": [_entry_json(entry) for entry in entries],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _entry_json(entry: Entry) -> dict[str, object]:
    return {
        "commit": entry.commit,
        "author": {"name": entry.author_name, "email": entry.author_email},
        "date": entry.date,
        "subject": entry.subject,
        "pull_request": entry.pull_request,
        "trailers": entry.trailers,
        "signature": {"status": entry.signature_status, "signer": entry.signer},
        "parseable": entry.error is None,
        "error": entry.error,
        "changes": [change.to_json() for change in entry.changes],
    }


def history_text(env: str, entries: list[Entry]) -> str:
    if not entries:
        return f"{environment_path(env)}: no route changes\n"
    lines: list[str] = []
    for entry in entries:
        pr = f"PR #{entry.pull_request}" if entry.pull_request is not None else "no PR"
        signer = f" {entry.signer}" if entry.signer else ""
        lines.append(
            f"{entry.commit[:12]}  {entry.date}  {entry.author_name} <{entry.author_email}>  "
            f"{pr}  sig {entry.signature_status}{signer}"
        )
        lines.append(f"    {entry.subject}")
        if "Canary-Analysis" in entry.trailers:
            lines.append(f"    canary analysis: {entry.trailers['Canary-Analysis']}")
        if entry.error is not None:
            lines.append(f"    unparseable: {entry.error}")
        lines.extend(f"    {change.describe()}" for change in entry.changes)
        if entry.error is None and not entry.changes:
            lines.append("    (no route changes)")
    return "\n".join(lines) + "\n"


def diff_json(result: RouteDiff) -> str:
    document = {
        "schema": DIFF_SCHEMA,
        "environment": result.env,
        "path": environment_path(result.env),
        "from": _side_json(result.before),
        "to": _side_json(result.after),
        "changes": [change.to_json() for change in result.changes],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _side_json(side: Side) -> dict[str, object]:
    return {"ref": side.ref, "commit": side.commit, "exists": side.exists}


def diff_text(result: RouteDiff) -> str:
    before, after = result.before, result.after
    lines = [
        f"{result.env}: {before.ref} ({before.commit[:12]}) -> {after.ref} ({after.commit[:12]})"
    ]
    if not before.exists:
        lines.append(f"  {environment_path(result.env)} does not exist at {before.ref}: created")
    if not after.exists:
        lines.append(f"  {environment_path(result.env)} does not exist at {after.ref}: deleted")
    lines.extend(f"  {change.describe()}" for change in result.changes)
    if not result.changes:
        lines.append("  no route changes")
    return "\n".join(lines) + "\n"
