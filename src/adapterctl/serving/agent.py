"""Pull mode: an agent on the node follows a branch of the registry and reconciles its node.

Each cycle: ``git fetch``, read the desired state at the fetched commit, verify it with the
node's own anchors, reconcile (the same function ``sync`` uses), record, update metrics,
then wait. SIGTERM or SIGINT sets a stop flag: the call in flight finishes, no further
step starts, and the agent exits 0 — every step done is whole (loads come before
unloads), and the next start goes on from there.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from adapterctl.errors import ExitCode, InputError
from adapterctl.serving.desired import desired_state
from adapterctl.serving.follow import fetch_clone
from adapterctl.serving.nodeconfig import Node
from adapterctl.serving.reconcile import NodeResult
from adapterctl.serving.sync import SyncOptions, sync_node

CLONE_DIR = "registry"


@dataclass(frozen=True)
class AgentOptions:
    repo: str
    branch: str = "main"
    interval: float = 60.0
    once: bool = False
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    store: str | None = None
    endpoint_url: str | None = None


class Agent:
    def __init__(self, node: Node, options: AgentOptions) -> None:
        self.node = node
        self.options = options
        self.stop = threading.Event()
        self.metrics: MetricsSink = NoMetrics()

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        stop_metrics = self._start_metrics()
        try:
            return self._loop()
        finally:
            stop_metrics()

    def _loop(self) -> int:
        while True:
            result = self.cycle()
            if self.options.once or self.stop.is_set():
                ok = result is not None and (result.ok or result.reason == "stopped")
                return ExitCode.OK if ok or self.stop.is_set() else ExitCode.FINDINGS
            self.stop.wait(self.options.interval)
            if self.stop.is_set():
                _say("stopped")
                return ExitCode.OK

    def cycle(self) -> NodeResult | None:
        """One fetch → verify → reconcile → record; None when the fetch failed."""
        env = str(self.node.config.environment)
        try:
            root = self._fetch()
            desired = desired_state(root, env, "HEAD")
        except InputError as exc:
            self.metrics.failed(self.node.name, env, "fetch-failed")
            _say(f"cannot read the registry: {exc.message}")
            return None
        options = SyncOptions(
            store=self.options.store,
            endpoint_url=self.options.endpoint_url,
            stop=self.stop,
            on_load=self.metrics.load_seconds,
        )
        result = sync_node(root, self.node, desired, options)
        self.metrics.result(env, result)
        _say(_line(desired.commit, result))
        return result

    def _fetch(self) -> Path:
        """The node's clone of the registry, checked out at the fetched branch tip."""
        return fetch_clone(self.node.cache_dir / CLONE_DIR, self.options.repo, self.options.branch)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        del frame
        if not self.stop.is_set():
            _say(f"{signal.Signals(signum).name}: stopping after the current step")
        self.stop.set()

    def _start_metrics(self) -> Callable[[], None]:
        if self.options.metrics_port is None:
            return lambda: None
        from adapterctl.serving.metrics import SyncMetrics, serve  # noqa: PLC0415

        metrics = SyncMetrics()
        self.metrics = PrometheusSink(metrics)
        return serve(metrics, self.options.metrics_host, self.options.metrics_port)


def _say(message: str) -> None:
    print(f"adapterctl agent: {message}", file=sys.stderr, flush=True)


def _line(commit: str, result: NodeResult) -> str:
    if result.ok:
        done = ", ".join(result.done) or "no changes"
        return f"{result.node} at {commit[:12]}: converged ({done})"
    return f"{result.node} at {commit[:12]}: {result.reason}: {result.message}"


class MetricsSink:
    def result(self, env: str, result: NodeResult) -> None: ...

    def failed(self, node: str, env: str, reason: str) -> None: ...

    def load_seconds(self, node: str, seconds: float) -> None: ...


class NoMetrics(MetricsSink):
    pass


class PrometheusSink(MetricsSink):
    def __init__(self, metrics: object) -> None:
        from adapterctl.serving.metrics import SyncMetrics  # noqa: PLC0415

        assert isinstance(metrics, SyncMetrics)
        self.metrics = metrics

    def result(self, env: str, result: NodeResult) -> None:
        if result.ok:
            self.metrics.sync_succeeded(result.node, env, result.commit, time.time())
        else:
            self.metrics.sync_failed(result.node, env, result.reason or "unknown")
        pairs = [tuple(name.split("@", 1)) for name in result.loaded if "@" in name]
        self.metrics.loaded(result.node, [(alias, version) for alias, version in pairs])

    def failed(self, node: str, env: str, reason: str) -> None:
        self.metrics.sync_failed(node, env, reason)

    def load_seconds(self, node: str, seconds: float) -> None:
        self.metrics.load_seconds(node, seconds)
