"""Push mode: reconcile every node of an environment, in parallel, onto one verified commit.

Per node, with that node's own trust anchors (never the repository's): the commit must be
signed by an allowed principal where the environment requires signed commits, and artifact
signatures are checked where the environment lists adapter signers. A node that fails
any of these loads and unloads nothing; the others still converge.

Every node is driven from one event loop (:mod:`adapterctl.serving.reconcile`), up to
``parallel`` at once, each through one kept-alive connection closed when it is done.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from adapterctl.config import store_uri
from adapterctl.gates.trust import load_trust
from adapterctl.gitrepo import RegistryRepo
from adapterctl.layout import bundle_path
from adapterctl.serving.basecheck import LocalBases
from adapterctl.serving.cache import Sources, Verification, Verified
from adapterctl.serving.commitcheck import CommitAnchors, commit_problem
from adapterctl.serving.desired import DesiredState, desired_state
from adapterctl.serving.nodeconfig import Node
from adapterctl.serving.reconcile import NodeResult, SyncContext, client_for, reconcile
from adapterctl.serving.vllm import MAX_PARALLEL, NodeCallError, each_node, session
from adapterctl.signing.signers import Policy
from adapterctl.store.base import Store
from adapterctl.store.uri import open_store


@dataclass(frozen=True)
class SyncOptions:
    ref: str = "HEAD"
    store: str | None = None
    endpoint_url: str | None = None
    dry_run: bool = False
    wait_lock: bool = False
    parallel: int = MAX_PARALLEL
    stop: threading.Event | None = None
    on_load: Callable[[str, float], None] | None = None


def sync_nodes(
    root: Path, env: str, nodes: Sequence[Node], options: SyncOptions
) -> tuple[DesiredState, list[NodeResult]]:
    """The desired state at ``options.ref`` and each node's result, in the nodes' order."""
    desired = desired_state(root, env, options.ref)
    return desired, asyncio.run(_sync_all(root, nodes, desired, options))


def sync_node(root: Path, node: Node, desired: DesiredState, options: SyncOptions) -> NodeResult:
    """One node (the agent's pass): the same reconcile, on an event loop of its own."""
    return asyncio.run(_sync_all(root, [node], desired, options))[0]


async def _sync_all(
    root: Path, nodes: Sequence[Node], desired: DesiredState, options: SyncOptions
) -> list[NodeResult]:
    shared = _Shared(
        _Anchors(root, desired),
        LocalBases(),
        _Stores(root, options),
        Sources() if len(nodes) > 1 else None,
    )
    try:
        return await each_node(
            nodes, options.parallel, lambda node: _sync_one(node, desired, options, shared)
        )
    finally:
        if shared.sources is not None:
            shared.sources.close()


@dataclass(frozen=True)
class _Shared:
    """What every node of one sync shares (never two syncs: an agent must see a rotated
    key, a revocation, a changed base folder)."""

    anchors: _Anchors
    bases: LocalBases
    stores: _Stores
    sources: Sources | None


async def _sync_one(
    node: Node,
    desired: DesiredState,
    options: SyncOptions,
    shared: _Shared,
) -> NodeResult:
    try:
        shared.anchors.check_commit(node)
        ctx = SyncContext(
            desired=desired,
            store=shared.stores.of(node),
            verification=shared.anchors.verification(node),
            dry_run=options.dry_run,
            wait_lock=options.wait_lock,
            stop=options.stop or threading.Event(),
            on_load=options.on_load,
            bases=shared.bases,
            sources=shared.sources,
        )
    except NodeCallError as exc:
        return NodeResult(node.name, False, desired.commit, exc.reason, exc.message)
    async with session() as http:  # the node's one connection, closed when it is done
        return await reconcile(node, ctx, client_for(node, http))


class _Stores:
    """Each store the nodes of one sync name, opened once: the node's own ``store``, else the
    registry's (``--store``, ``$ADAPTERCTL_STORE``, pyproject). Opening an ``s3://`` store
    makes a boto3 client, about 6 ms of CPU; a thousand nodes would spend seconds on it."""

    def __init__(self, root: Path, options: SyncOptions) -> None:
        self.root = root
        self.options = options
        self._default: str | None = None
        self._open: dict[str, Store] = {}

    def of(self, node: Node) -> Store:
        uri = node.config.store or self._registry_store()
        if uri not in self._open:
            endpoint = self.options.endpoint_url
            self._open[uri] = open_store(uri, endpoint_url=endpoint, base=self.root)
        return self._open[uri]

    def _registry_store(self) -> str:
        if self._default is None:
            self._default = store_uri(self.root, self.options.store)
        return self._default


class _Anchors:
    """Commit and artifact checks with each node's anchors, computed once per anchor file
    in one sync. Never across syncs: an agent must see a rotated key or a revocation."""

    def __init__(self, root: Path, desired: DesiredState) -> None:
        self.root = root
        self.desired = desired
        self.promotion = desired.environment.promotion
        self._lock = threading.Lock()
        self._verified: dict[Path, Verified] = {}
        self._commits: dict[CommitAnchors, str | None] = {}
        self._policies: dict[Path, Policy] = {}
        self._bundle_blobs: dict[str, bytes] | None = None

    def check_commit(self, node: Node) -> None:
        if not self.promotion.require_signed_commits:
            return
        if node.commit_anchors.trusts_nobody:
            raise NodeCallError(
                f"{self.desired.env} requires signed commits, and node '{node.name}' has no "
                "trust.allowed_signers, trust.gpg_keys or trust.github_web_flow to check them "
                "with; nothing loaded or unloaded",
                "no-trust-anchors",
            )
        with self._lock:
            anchors = node.commit_anchors
            if anchors not in self._commits:
                self._commits[anchors] = commit_problem(self.root, self.desired.commit, anchors)
            problem = self._commits[anchors]
        if problem is not None:
            raise NodeCallError(
                f"commit {self.desired.commit[:12]} is not signed as "
                f"{self.desired.env} requires: {problem}; nothing loaded or unloaded",
                "unsigned-commit",
            )

    def verification(self, node: Node) -> Verification:
        signers = self.promotion.adapter_signers
        if not signers:
            return Verification(None, {})
        if node.adapter_trust is None:
            raise NodeCallError(
                f"{self.desired.env} allows only signed adapters, and node '{node.name}' has no "
                "trust.adapters file to check them with; nothing loaded or unloaded",
                "no-trust-anchors",
            )
        trust_file = node.adapter_trust
        with self._lock:
            if trust_file not in self._policies:
                self._policies[trust_file] = _policy(trust_file, tuple(signers), self.desired.env)
            if self._bundle_blobs is None:
                self._bundle_blobs = _bundles(self.root, self.desired)
            verified = self._verified.setdefault(trust_file, Verified())
            return Verification(self._policies[trust_file], self._bundle_blobs, verified)


def _policy(trust_file: Path, signers: tuple[str, ...], env: str) -> Policy:
    trust, findings = load_trust(trust_file)
    if trust is None:
        first = findings[0]
        raise NodeCallError(f"trust file {first.location}: {first.message}", "no-trust-anchors")
    return Policy(trust, signers, env)


def _bundles(root: Path, desired: DesiredState) -> dict[str, bytes]:
    """The signature bundles merged at the desired commit (read from git, not a work tree)."""
    registry = RegistryRepo.open(root, "sync")
    tree = registry.repo.commit(desired.commit).tree
    found: dict[str, bytes] = {}
    for revision in desired.revisions:
        alias, version = revision.alias, revision.version
        path = registry.prefix + bundle_path(alias, version)
        try:
            blob = tree / path
        except KeyError:
            continue
        found[f"{alias}@{version}"] = blob.data_stream.read()
    return found
