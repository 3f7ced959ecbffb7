"""Text and JSON for ``sync`` results and ``status`` tables."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import asdict

from rich.console import Console
from rich.table import Table

from adapterctl.serving.desired import DesiredState
from adapterctl.serving.reconcile import NodeResult
from adapterctl.serving.status import NodeStatus

SYNC_FORMAT = "adapterctl/sync/v1"
STATUS_FORMAT = "adapterctl/status/v1"


def sync_text(desired: DesiredState, results: Sequence[NodeResult], *, dry_run: bool) -> str:
    verb = "plan for" if dry_run else "sync"
    lines = [f"{verb} {desired.env} at {desired.commit[:12]} ({_count(len(results), 'node')})"]
    width = max((len(r.node) for r in results), default=0)
    for result in results:
        lines.append(
            f"  {result.node:<{width}}  {_state(result, dry_run)}  {_what(result, dry_run)}"
        )
    failed = sum(not r.ok for r in results)
    if failed:
        lines.append(f"✗ {failed} of {_count(len(results), 'node')} failed")
    elif not dry_run:
        lines.append(f"✓ {_count(len(results), 'node')} converged")
    return "\n".join(lines) + "\n"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _state(result: NodeResult, dry_run: bool) -> str:
    if not result.ok:
        return "FAILED   "
    return "planned  " if dry_run else "converged"


def _what(result: NodeResult, dry_run: bool) -> str:
    if not result.ok:
        done = f" (done: {', '.join(result.done)})" if result.done else ""
        return f"{result.reason}: {result.message}{done}"
    steps = result.planned if dry_run else result.done
    return ", ".join(steps) if steps else "no changes"


def sync_json(desired: DesiredState, results: Sequence[NodeResult], *, dry_run: bool) -> str:
    document = {
        "format": SYNC_FORMAT,
        "environment": desired.env,
        "commit": desired.commit,
        "dry_run": dry_run,
        "nodes": [asdict(result) for result in results],
    }
    return json.dumps(document, indent=2) + "\n"


def status_text(desired: DesiredState, statuses: Sequence[NodeStatus]) -> str:
    table = Table(title=f"{desired.env} at {desired.commit[:12]}", title_justify="left")
    for column in (
        "node",
        "revision",
        "weight",
        "loaded",
        "root",
        "cached",
        "last sync",
        "problem",
    ):
        table.add_column(column)
    for status in statuses:
        _status_rows(table, status)
    out = io.StringIO()
    Console(file=out, width=160, color_system=None, highlight=False).print(table)
    drift = [s.node for s in statuses if s.drift]
    summary = f"✗ drift on {', '.join(drift)}" if drift else "✓ every node as desired"
    return out.getvalue() + summary + "\n"


def _status_rows(table: Table, status: NodeStatus) -> None:
    record = status.record
    last = (
        "unknown"
        if record is None
        else f"{record.commit[:12]} {'ok' if record.ok else record.reason}"
    )
    problem = status.problem or ""
    for index, revision in enumerate(status.revisions):
        table.add_row(
            status.node if index == 0 else "",
            revision.served_name,
            revision.share,
            _yes(revision.loaded, status.reachable),
            _yes(revision.root_matches, status.reachable) if revision.routed else "",
            "yes" if revision.cached else "NO",
            last if index == 0 else "",
            problem if index == 0 else "",
        )
    for name in status.stale:
        table.add_row("", name, "not routed", "yes", "", "", "", "stale: unload it")


def _yes(value: bool, known: bool) -> str:
    if not known:
        return "?"
    return "yes" if value else "NO"


def status_json(desired: DesiredState, statuses: Sequence[NodeStatus]) -> str:
    document = {
        "format": STATUS_FORMAT,
        "environment": desired.env,
        "commit": desired.commit,
        "drift": any(s.drift for s in statuses),
        "nodes": [{**asdict(s), "drift": s.drift} for s in statuses],
    }
    return json.dumps(document, indent=2) + "\n"
