"""``adapterctl sync`` (push mode), ``agent`` (pull mode) and ``status``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from adapterctl.cli.groups import option_groups
from adapterctl.cli.options import (
    DEFAULT_STORE,
    BranchOption,
    EnvOption,
    RepoURLOption,
    RootOption,
    StoreArgs,
    TextOrJson,
    TextOrJsonOption,
)
from adapterctl.config import resolve_root
from adapterctl.errors import ExitCode
from adapterctl.layout import check_env_name
from adapterctl.serving.nodeconfig import Node, load_node, load_nodes
from adapterctl.serving.vllm import MAX_PARALLEL

NodesOption = Annotated[
    list[Path],
    typer.Option(
        "--node-config",
        metavar="FILE",
        help="A node configuration file (repeat for several nodes).",
        dir_okay=False,
    ),
]
RefOption = Annotated[
    str, typer.Option("--ref", metavar="REF", help="The commit whose desired state to apply.")
]


def _env_nodes(env: str, node_config: list[Path], root: Path | None) -> tuple[Path, list[Node]]:
    """The registry root and ENV's nodes, from the command line (checked in this order)."""
    check_env_name(env)
    registry = resolve_root(root)
    return registry, load_nodes(node_config, env)


@option_groups
def sync_command(
    env: EnvOption,
    node_config: NodesOption,
    ref: RefOption = "HEAD",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show each node's plan; change nothing.")
    ] = False,
    wait_lock: Annotated[
        bool,
        typer.Option("--wait", help="Wait for a sync already running on a node, not refuse."),
    ] = False,
    parallel: Annotated[
        int, typer.Option("--parallel", min=1, metavar="N", help="Nodes synced at once.")
    ] = MAX_PARALLEL,
    root: RootOption = None,
    where: StoreArgs = DEFAULT_STORE,
    fmt: TextOrJsonOption = TextOrJson.TEXT,
) -> int:
    """Reconcile ENV's desired state at REF onto its nodes, in parallel (push mode)."""
    registry, nodes = _env_nodes(env, node_config, root)
    # The sync pipeline imports model-signing and sigstore: only when a sync runs.
    from adapterctl.serving import present  # noqa: PLC0415
    from adapterctl.serving.sync import SyncOptions, sync_nodes  # noqa: PLC0415

    options = SyncOptions(ref, where.store, where.endpoint_url, dry_run, wait_lock, parallel)
    desired, results = sync_nodes(registry, env, nodes, options)
    render = present.sync_json if fmt is TextOrJson.JSON else present.sync_text
    sys.stdout.write(render(desired, results, dry_run=dry_run))
    return ExitCode.OK if all(r.ok for r in results) else ExitCode.FINDINGS


def status_command(
    env: EnvOption,
    node_config: NodesOption,
    ref: RefOption = "HEAD",
    root: RootOption = None,
    fmt: TextOrJsonOption = TextOrJson.TEXT,
) -> int:
    """Desired vs actual on each node of ENV; exit 1 on drift."""
    registry, nodes = _env_nodes(env, node_config, root)
    from adapterctl.serving import present  # noqa: PLC0415
    from adapterctl.serving.desired import desired_state  # noqa: PLC0415
    from adapterctl.serving.status import node_statuses  # noqa: PLC0415

    desired = desired_state(registry, env, ref)
    statuses = node_statuses(desired, nodes)
    render = present.status_json if fmt is TextOrJson.JSON else present.status_text
    sys.stdout.write(render(desired, statuses))
    return ExitCode.FINDINGS if any(s.drift for s in statuses) else ExitCode.OK


@option_groups
def agent_command(
    node_config: Annotated[
        Path,
        typer.Option(
            "--node-config", metavar="FILE", help="This node's configuration.", dir_okay=False
        ),
    ],
    repo: RepoURLOption,
    interval: Annotated[
        float, typer.Option("--interval", metavar="S", min=0.0, help="Seconds between cycles.")
    ] = 60.0,
    branch: BranchOption = "main",
    once: Annotated[bool, typer.Option("--once", help="Run one cycle and exit.")] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option("--metrics-port", metavar="PORT", help="Serve Prometheus metrics here."),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option("--metrics-host", metavar="HOST", help="Address for --metrics-port.")
    ] = "127.0.0.1",
    where: StoreArgs = DEFAULT_STORE,
) -> int:
    """Pull mode: fetch, verify, reconcile this node, sleep; exits cleanly on SIGTERM."""
    from adapterctl.serving.agent import Agent, AgentOptions  # noqa: PLC0415

    node = load_node(node_config)
    options = AgentOptions(
        repo, branch, interval, once, metrics_port, metrics_host, where.store, where.endpoint_url
    )
    return Agent(node, options).run()
