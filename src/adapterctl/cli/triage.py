"""``adapterctl triage``: adapter-specific, base-specific or infrastructure, from /metrics."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from adapterctl.errors import ExitCode
from adapterctl.serving import gateway_scrape, triage_present
from adapterctl.serving.nodeconfig import load_nodes
from adapterctl.serving.triage import triage
from adapterctl.serving.triage_findings import Verdict
from adapterctl.serving.triage_stats import Thresholds

_DEFAULTS = Thresholds()


class TriageFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def command(
    env: Annotated[str, typer.Option("--env", help="The environment the nodes serve.")],
    node_config: Annotated[
        list[Path],
        typer.Option("--node-config", metavar="FILE", help="A node configuration (repeat)."),
    ],
    gateway: Annotated[
        list[str] | None,
        typer.Option(
            "--gateway",
            metavar="URL",
            help="An adapterctl gateway in front of the nodes, its root or /metrics URL "
            "(repeat for each replica): the adapter revisions' numbers come from its series.",
        ),
    ] = None,
    fmt: Annotated[TriageFormat, typer.Option("--format", "-f", help="Output format.")] = (
        TriageFormat.TEXT
    ),
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.001, help="Seconds to wait for each /metrics.")
    ] = 5.0,
    window: Annotated[
        float,
        typer.Option(
            "--window",
            min=0.0,
            help="Judge what happens over the next S seconds (0: everything since each node "
            "started).",
        ),
    ] = 0.0,
    error_rate: Annotated[
        float,
        typer.Option("--error-rate", min=0.0, max=1.0, help="An error rate this high is elevated."),
    ] = _DEFAULTS.error_rate,
    ratio: Annotated[
        float,
        typer.Option(
            "--ratio", min=1.0, help="Times the reference's error rate or p95 that is elevated."
        ),
    ] = _DEFAULTS.ratio,
    latency: Annotated[
        float,
        typer.Option("--latency", min=0.0, help="A p95 latency (seconds) this high is elevated."),
    ] = _DEFAULTS.latency_s,
    min_requests: Annotated[
        int, typer.Option("--min-requests", min=1, help="Fewer requests are never judged.")
    ] = _DEFAULTS.min_requests,
) -> int:
    """Read the nodes' /metrics (and the gateways' per-revision series) and say whether an
    incident is adapter-specific, base-specific or infrastructure, with the numbers (exit 1
    when something stands out)."""
    nodes = load_nodes(node_config, env)
    scrapes, gateways = gateway_scrape.observe(nodes, gateway or [], env, timeout, window)
    result = triage(scrapes, Thresholds(error_rate, ratio, latency, min_requests), gateways)
    if fmt is TriageFormat.JSON:
        sys.stdout.write(triage_present.as_json(result, env))
    else:
        sys.stdout.write(triage_present.text(result, env))
    return ExitCode.OK if result.verdict is Verdict.NONE else ExitCode.FINDINGS
