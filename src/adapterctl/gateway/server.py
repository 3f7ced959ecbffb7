"""Start a gateway: its configuration, the first verified route table, the node pools, the
follower thread, uvicorn. SIGHUP reloads the routes now; SIGTERM drains and exits."""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import uvicorn

from adapterctl.configfile import load_config
from adapterctl.errors import ExitCode, InputError
from adapterctl.gateway.callers import callers
from adapterctl.gateway.log import say
from adapterctl.gateway.metrics import GatewayMetrics
from adapterctl.gateway.nodes import NodePool
from adapterctl.gateway.proxy import Gateway
from adapterctl.gateway.routing import RouteTable
from adapterctl.gateway.tables import Follower, TableError, TableSource
from adapterctl.model.gateway import GatewayConfig
from adapterctl.serving.commitcheck import CommitAnchors


@dataclass(frozen=True)
class ServeOptions:
    repo: str
    branch: str = "main"
    interval_s: float = 30.0
    host: str = "127.0.0.1"
    port: int = 8080


def load_gateway_config(path: Path) -> GatewayConfig:
    return load_config(path, GatewayConfig, "a gateway configuration", "--config")


def run(config_file: Path, options: ServeOptions) -> int:
    """Serve until SIGTERM; a first table that cannot be loaded is an error (exit 1)."""
    config = load_gateway_config(config_file)
    folder = config_file.parent
    env = str(config.environment)
    rules = callers(config.tenants, str(config.session_header), folder)
    source = TableSource(env, options.repo, options.branch, (folder / config.state_dir).resolve(),
                         CommitAnchors.of(config.trust, folder), rules)  # fmt: skip
    try:
        table = source.load()
    except TableError as exc:
        raise InputError(exc.message) from None
    metrics = GatewayMetrics()
    pool = NodePool.of(config.nodes, config.health_interval_s, config.request_timeout_s)
    pool.on_state = lambda node, up: metrics.node_up.labels(node).set(1 if up else 0)
    gateway = Gateway(env, pool, rules, metrics)
    gateway.install(table)
    say(f"{config.name}: routing {env} by commit {table.commit[:12]} on "
        f"http://{options.host}:{options.port}")  # fmt: skip
    server = _Server(
        uvicorn.Config(gateway, host=options.host, port=options.port, log_level="warning",
                       access_log=False, lifespan="on", timeout_graceful_shutdown=30,
                       # the peer address is the TCP peer: X-Forwarded-For must not move it
                       # into a trusted_proxies network
                       proxy_headers=False, server_header=False, date_header=False)
    )  # fmt: skip
    follower = _follower(source, options.interval_s, gateway, table)
    signal.signal(signal.SIGHUP, lambda *_: follower.wake())
    follower.start()
    try:
        server.run()
    finally:
        follower.stop()
    return ExitCode.OK


class _Server(uvicorn.Server):
    """uvicorn's server, except that SIGTERM or SIGINT ends it with exit 0 once in-flight
    requests drained (as the agent does), instead of re-raising the signal."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


def _follower(
    source: TableSource, interval_s: float, gateway: Gateway, first: RouteTable
) -> Follower:
    loop_box: list[asyncio.AbstractEventLoop] = []

    def on_loop(table: RouteTable) -> None:
        if not loop_box:  # the server's loop, once it runs
            gateway.install(table)
            return
        loop_box[0].call_soon_threadsafe(gateway.install, table)

    def refused(error: TableError) -> None:
        gateway.metrics.reload_errors.labels(gateway.env, error.reason).inc()

    gateway.started.append(lambda: loop_box.append(asyncio.get_running_loop()))
    follower = Follower(source, interval_s, on_loop, refused)
    follower.current = first.commit
    return follower
