"""Reconcile one node onto a desired state: lock → observe → fail fast → plan → apply →
confirm → record. Push mode (``sync``) and pull mode (``agent``) both call :func:`reconcile`.

Apply loads before it unloads, one call at a time, so every prefix of a plan is a safe
state: more revisions loaded than needed, never an alias without one. A stop request
(SIGTERM in the agent) is honoured between calls, never inside one.

A node's reconcile is a coroutine: its calls to the node wait in the event loop that drives
every node of a sync, and the blocking steps (fetching and hashing an artifact, writing a
record that says something new, waiting for a lock or for gateways to drain) run in worker
threads, so no node holds up the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from adapterctl.nodeclient import env_proxy
from adapterctl.serving.basecheck import LocalBases, check_base
from adapterctl.serving.cache import Sources, Verification, ensure_cached
from adapterctl.serving.desired import DesiredRevision, DesiredState
from adapterctl.serving.drain import Drain
from adapterctl.serving.lock import node_lock
from adapterctl.serving.nodeconfig import Node
from adapterctl.serving.plan import Load, Plan, make_plan
from adapterctl.serving.record import SyncRecord, only_time_differs, read_record, write_record
from adapterctl.serving.vllm import Card, NodeCallError, VllmClient
from adapterctl.store.base import Store

if TYPE_CHECKING:
    import aiohttp


@dataclass(frozen=True)
class SyncContext:
    """What every node of one sync shares."""

    desired: DesiredState
    store: Store
    verification: Verification
    dry_run: bool = False
    wait_lock: bool = False
    stop: threading.Event = field(default_factory=threading.Event)
    on_load: Callable[[str, float], None] | None = None
    """Called with (node, seconds) after each load (the agent's metrics)."""
    bases: LocalBases = field(default_factory=LocalBases)
    """Local base folders read once for every node of the sync."""
    sources: Sources | None = None
    """Each artifact fetched and checked once for every node (a sync of several nodes)."""


@dataclass(frozen=True)
class NodeResult:
    node: str
    ok: bool
    commit: str
    reason: str | None = None
    """A short slug when not ok: node-down, base-mismatch, tampered-artifact, …"""
    message: str | None = None
    planned: tuple[str, ...] = ()
    """What the plan was, as ``load NAME`` / ``unload NAME`` lines."""
    done: tuple[str, ...] = ()
    calls: tuple[str, ...] = ()
    unmanaged: tuple[str, ...] = ()
    loaded: tuple[str, ...] = ()
    """The adapters the node lists after the sync (when it could be asked)."""


@dataclass
class _Run:
    node: Node
    ctx: SyncContext
    client: VllmClient
    planned: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    cards: list[Card] = field(default_factory=list)
    unmanaged: tuple[str, ...] = ()

    def result(self, *, error: NodeCallError | None = None) -> NodeResult:
        return NodeResult(
            node=self.node.name,
            ok=error is None,
            commit=self.ctx.desired.commit,
            reason=None if error is None else error.reason,
            message=None if error is None else error.message,
            planned=tuple(self.planned),
            done=tuple(self.done),
            calls=tuple(self.client.calls),
            unmanaged=self.unmanaged,
            loaded=tuple(sorted(card.id for card in self.cards if card.parent is not None)),
        )


def client_for(node: Node, http: aiohttp.ClientSession) -> VllmClient:
    settings = node.config.sync
    return VllmClient(
        node.endpoint,
        http,
        node.api_key,
        settings.timeout_s,
        settings.retries,
        settings.backoff_s,
        proxy=env_proxy(node.endpoint),
    )


async def reconcile(node: Node, ctx: SyncContext, client: VllmClient) -> NodeResult:
    """Bring ``node`` to ``ctx.desired``; a failure is a result, never an exception."""
    run = _Run(node, ctx, client)
    try:
        async with _locked(node, ctx):
            result = await _apply(run)
            if not ctx.dry_run:
                await _record(node, ctx.desired, result)
            return result
    except NodeCallError as exc:
        result = run.result(error=exc)
        if exc.reason != "locked" and not ctx.dry_run:
            await _record(node, ctx.desired, result)
        return result


@contextlib.asynccontextmanager
async def _locked(node: Node, ctx: SyncContext) -> AsyncIterator[None]:
    """The node's lock: taken at once or refused; waited for in a thread with ``--wait``."""
    with contextlib.ExitStack() as stack:
        held = node_lock(node.cache_dir, node.name, wait=ctx.wait_lock)
        if ctx.wait_lock:
            await asyncio.to_thread(stack.enter_context, held)
        else:
            stack.enter_context(held)
        yield


async def _apply(run: _Run) -> NodeResult:
    desired = run.ctx.desired
    run.cards = await run.client.models()
    check_base(run.node, desired.base, run.cards, run.ctx.bases)
    plan = make_plan(desired.revisions, run.cards, run.node.cache_dir)
    run.unmanaged = plan.unmanaged
    run.planned = _describe(plan)
    if plan.empty or run.ctx.dry_run:
        return run.result()
    for load in plan.loads:
        _stop_point(run)
        await _load(run, load)
    for revision in plan.prefetch:
        _stop_point(run)
        await _cached(run, revision)
        run.done.append(f"cache {revision.served_name}")
    if plan.unloads and run.node.config.gateways:
        _stop_point(run)
        config = run.node.config
        drain = Drain(config.gateways, desired.commit, run.node.name, config.sync.gateway_wait_s)
        await asyncio.to_thread(drain.wait, plan.unloads)
    for name in plan.unloads:
        _stop_point(run)
        await _unload(run, name)
    run.cards = await run.client.models()
    left = make_plan(desired.revisions, run.cards, run.node.cache_dir)
    if not left.empty:
        still = ", ".join(_describe(left))
        raise NodeCallError(f"/v1/models does not confirm the sync: still to do: {still}",
                            "not-converged")  # fmt: skip
    return run.result()


def _describe(plan: Plan) -> list[str]:
    return [
        *(f"load {load.revision.served_name}" for load in plan.loads),
        *(f"cache {revision.served_name}" for revision in plan.prefetch),
        *(f"unload {name}" for name in plan.unloads),
    ]


def _stop_point(run: _Run) -> None:
    if run.ctx.stop.is_set():
        done = len(run.done)
        raise NodeCallError(
            f"stopped after {done} of {len(run.planned)} steps (every step done is whole; "
            "the next sync goes on)",
            "stopped",
        )


async def _cached(run: _Run, revision: DesiredRevision) -> Path:
    """The verified local copy (fetched, digests and signature checked, or hashed again)."""
    ctx = run.ctx
    return await asyncio.to_thread(
        ensure_cached, revision, ctx.store, run.node.cache_dir, ctx.verification, ctx.sources
    )


async def _load(run: _Run, load: Load) -> None:
    name = load.revision.served_name
    path = await _cached(run, load.revision)
    if load.replaces_wrong_root is not None:
        await run.client.unload(name)
        run.done.append(f"unload {name} (root was {load.replaces_wrong_root})")
    started = time.perf_counter()
    try:
        await run.client.load(name, str(path))
    except NodeCallError as exc:
        if not (exc.status == 400 and "already" in exc.message and await _shows(run, name, path)):
            reason = "node-down" if exc.reason == "node-down" else "load-failed"
            raise NodeCallError(f"load {name}: {exc.message}", reason, exc.status) from None
    if run.ctx.on_load is not None:
        run.ctx.on_load(run.node.name, time.perf_counter() - started)
    run.done.append(f"load {name}")


async def _shows(run: _Run, name: str, path: Path) -> bool:
    """vLLM says 'already loaded': fine only when /v1/models shows our root for it."""
    return any(c.id == name and c.root == str(path) for c in await run.client.models())


async def _unload(run: _Run, name: str) -> None:
    try:
        await run.client.unload(name)
    except NodeCallError as exc:
        if exc.status != 404:
            raise NodeCallError(f"unload {name}: {exc.message}", "unload-failed",
                                exc.status) from None  # fmt: skip
    run.done.append(f"unload {name}")


async def _record(node: Node, desired: DesiredState, result: NodeResult) -> None:
    """Write the node's record: at once when it says nothing new but the time (one small
    write in place), in a worker thread when it does (a new file renamed over the old one,
    which a slow disk must not make every other node wait for)."""
    previous = read_record(node.cache_dir)
    last_success = desired.commit if result.ok else None
    if last_success is None and previous is not None:
        last_success = previous.last_success_commit
    record = SyncRecord(
        environment=desired.env,
        commit=desired.commit,
        finished=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        ok=result.ok,
        reason=result.reason,
        message=result.message,
        loaded=result.loaded,
        last_success_commit=last_success,
    )
    if only_time_differs(previous, record):
        _write(node.cache_dir, record, previous)
    else:
        await asyncio.to_thread(_write, node.cache_dir, record, previous)


def _write(cache_dir: Path, record: SyncRecord, previous: SyncRecord | None) -> None:
    # A full disk must not turn a finished sync into a crash; status then says "unknown".
    with contextlib.suppress(OSError):
        write_record(cache_dir, record, previous)
