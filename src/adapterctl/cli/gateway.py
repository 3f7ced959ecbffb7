"""``adapterctl gateway``: the traffic gateway in front of an environment's nodes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from adapterctl.cli.options import BranchOption, RepoURLOption
from adapterctl.errors import UsageError


def command(
    config: Annotated[
        Path,
        typer.Option(
            "--config", metavar="FILE", help="The gateway's configuration.", dir_okay=False
        ),
    ],
    repo: RepoURLOption,
    branch: BranchOption = "main",
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            metavar="S",
            min=0.1,
            help="Seconds between route reloads (SIGHUP reloads at once).",
        ),
    ] = 30.0,
    host: Annotated[str, typer.Option("--host", metavar="HOST", help="Address to listen on.")] = (
        "127.0.0.1"
    ),
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", min=0, max=65535, help="Port to listen on.")
    ] = 8080,
) -> int:
    """Serve ENV's aliases by weight and tenant from its nodes; per-revision /metrics."""
    try:
        from adapterctl.gateway.server import ServeOptions, run  # noqa: PLC0415
    except ImportError as exc:
        raise UsageError(
            f"the gateway needs the 'gateway' extra ({exc.name} is not installed)",
            hint="pip install 'adapterctl[gateway]'",
        ) from None
    return run(config, ServeOptions(repo, branch, interval, host, port))
