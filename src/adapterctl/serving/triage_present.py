"""Text (rich tables and a verdict paragraph) and JSON for ``adapterctl triage``."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table

from adapterctl.serving.triage import Row, Triage
from adapterctl.serving.triage_findings import Verdict
from adapterctl.serving.triage_stats import Stats

TRIAGE_FORMAT = "adapterctl/triage/v1"

_EXPLAINED = {
    Verdict.ADAPTER: "the evidence points at an adapter revision: roll it back or drain its "
    "route; the base and the nodes look normal.",
    Verdict.BASE: "the evidence points at the base model (or what every model on it shares): "
    "adapters are not the cause.",
    Verdict.INFRASTRUCTURE: "the evidence points at infrastructure: nodes that cannot be read, "
    "or that fail across all their models where the others are normal.",
}
_GATEWAY_DOWN = (
    "the evidence points at infrastructure: gateways or nodes that cannot be read, or nodes "
    "that fail across all their models where the others are normal."
)


def _explained(result: Triage) -> str:
    """Why the verdict: a gateway that cannot be read (its finding names no node) too."""
    verdict = result.verdict
    gateway_down = any(f.verdict is verdict and not f.nodes for f in result.findings)
    return (
        _GATEWAY_DOWN if verdict is Verdict.INFRASTRUCTURE and gateway_down else _EXPLAINED[verdict]
    )


def _rate(stats: Stats) -> str:
    rate = stats.error_rate
    return "-" if rate is None else f"{rate:.1%}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _table(title: str, first: str, rows: Sequence[Row]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in (first, "kind", "nodes"):
        table.add_column(column)
    for column in ("requests", "errors", "error rate", "mean s", "p95 s"):
        table.add_column(column, justify="right")
    table.add_column("note")
    for row in rows:
        stats = row.stats
        table.add_row(
            row.name,
            row.kind,
            ", ".join(row.nodes),
            f"{stats.requests:g}",
            f"{stats.errors:g}",
            _rate(stats),
            _seconds(stats.mean_s),
            _seconds(stats.p95_s),
            row.note,
        )
    return table


def verdict_text(result: Triage) -> str:
    """The verdict paragraph: what it points at, the findings with their numbers."""
    verdict = result.verdict
    if verdict is Verdict.NONE:
        return "verdict: none: nothing stands out.\n"
    lines = [f"verdict: {verdict}: {_explained(result)}"]
    lines += [f"  - {finding.verdict}: {finding.message}" for finding in result.findings]
    return "\n".join(lines) + "\n"


def text(result: Triage, env: str) -> str:
    out = io.StringIO()
    console = Console(file=out, width=160, color_system=None, highlight=False)
    console.print(_table(f"{env}: per served name", "served name", result.revisions))
    console.print(_table(f"{env}: per base", "base", result.bases))
    console.print(_table(f"{env}: per node", "node", result.nodes))
    if result.gateways:
        console.print(_table(f"{env}: per gateway", "gateway", result.gateways))
    t = result.thresholds
    console.print(
        f"thresholds: error rate ≥ {t.error_rate:.1%}, ratio ≥ {t.ratio:g}x, "
        f"p95 ≥ {t.latency_s:g} s, at least {t.min_requests} requests"
    )
    notes = "".join(f"limit: {line}\n" for line in result.limits)
    return out.getvalue() + notes + verdict_text(result)


def _row(row: Row) -> dict[str, Any]:
    stats = row.stats
    return {
        "name": row.name,
        "kind": row.kind,
        "nodes": list(row.nodes),
        "requests": stats.requests,
        "errors": stats.errors,
        "error_rate": stats.error_rate,
        "mean_s": stats.mean_s,
        "p95_s": stats.p95_s,
        "note": row.note,
    }


def document(result: Triage, env: str) -> dict[str, Any]:
    return {
        "format": TRIAGE_FORMAT,
        "environment": env,
        "verdict": str(result.verdict),
        "findings": [
            {**asdict(finding), "verdict": str(finding.verdict), "nodes": list(finding.nodes)}
            for finding in result.findings
        ],
        "thresholds": asdict(result.thresholds),
        "revisions": [_row(row) for row in result.revisions],
        "bases": [_row(row) for row in result.bases],
        "nodes": [_row(row) for row in result.nodes],
        "cells": [_row(row) for row in result.cells],
        "gateways": [_row(row) for row in result.gateways],
        "limits": list(result.limits),
    }


def as_json(result: Triage, env: str) -> str:
    return json.dumps(document(result, env), indent=2) + "\n"
