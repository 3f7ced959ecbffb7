"""Route tables from verified commits only: the gateway's clone of the registry, fetched,
read at the fetched commit (never a work tree), checked with the gateway's own anchors.

A table is refused, and the one in use stays, when the commit is not signed where the
environment requires it, when the environment file does not validate (weights that do not
add up, …), or when a route names a tenant the gateway cannot prove.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from adapterctl import layout
from adapterctl.errors import InputError
from adapterctl.gateway.callers import Callers
from adapterctl.gateway.log import say
from adapterctl.gateway.routing import RouteTable, route_table
from adapterctl.serving.commitcheck import CommitAnchors, commit_problem
from adapterctl.serving.desired import DesiredState, desired_state
from adapterctl.serving.follow import fetch_clone

CLONE_DIR = "registry"


class TableError(InputError):
    """A route table refused; ``reason`` is the metric's short slug."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class TableSource:
    """Where the gateway's routes come from and what they must satisfy."""

    env: str
    repo: str
    branch: str
    state_dir: Path
    anchors: CommitAnchors
    callers: Callers

    def load(self) -> RouteTable:
        """The verified table at the branch's fetched tip; raises TableError."""
        try:
            root = fetch_clone(self.state_dir / CLONE_DIR, self.repo, self.branch)
        except InputError as exc:
            raise TableError(f"cannot fetch the registry: {exc.message}", "fetch-failed") from None
        try:
            desired = desired_state(root, self.env, "HEAD")
        except InputError as exc:
            raise TableError(exc.message, "invalid-environment") from None
        self._check_signed(root, desired)
        table = route_table(desired)
        self._check_tenants(table)
        return table

    def _check_signed(self, root: Path, desired: DesiredState) -> None:
        if not desired.environment.promotion.require_signed_commits:
            return
        if self.anchors.trusts_nobody:
            raise TableError(
                f"{self.env} requires signed commits, and the gateway has no "
                "trust.allowed_signers, trust.gpg_keys or trust.github_web_flow to check them",
                "no-trust-anchors",
            )
        problem = commit_problem(root, desired.commit, self.anchors)
        if problem is not None:
            raise TableError(
                f"commit {desired.commit[:12]} is not signed as {self.env} requires: {problem}",
                "unsigned-commit",
            )

    def _check_tenants(self, table: RouteTable) -> None:
        known = self.callers.tenant_names
        where = f"{layout.environment_path(self.env)} at commit {table.commit[:12]}"
        for target in table.targets():
            for tenant in target.tenants:
                if known is not None and tenant not in known:
                    raise TableError(
                        f"{where} routes tenant '{tenant}' to {target.served_name}, and the "
                        "tenant key file lists no such tenant",
                        "unknown-tenant",
                    )
                if known is None and self.callers.tenant_header is None:
                    raise TableError(
                        f"{where} routes tenant '{tenant}' to {target.served_name}, and the "
                        "gateway has neither tenants.keys nor tenants.header to know tenants by",
                        "unknown-tenant",
                    )


@dataclass
class Follower:
    """A thread that loads a table every ``interval_s`` (or at once on :meth:`wake`) and
    hands each new one to ``install``; a refused one to ``refused`` (the old stays)."""

    source: TableSource
    interval_s: float
    install: Callable[[RouteTable], None]
    refused: Callable[[TableError], None]
    current: str | None = None
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="routes", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if not self._stop.is_set():
                self.once()

    def once(self) -> None:
        try:
            table = self.source.load()
        except TableError as exc:
            say(f"routes not changed: {exc.message}")
            self.refused(exc)
            return
        if table.commit != self.current:
            self.current = table.commit
            say(f"routing {table.env} by commit {table.commit[:12]}")
            self.install(table)
