"""The nodes behind the gateway: one aiohttp connection pool each, and what each has loaded.

Each node's ``/v1/models`` is read every ``health_interval_s``: the served names it lists
are what it may receive, so a canary gets traffic only once a sync loaded it, and a node
that does not answer gets none until it answers again. A request that cannot connect marks
its node down at once (the next poll brings it back).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import aiohttp

from adapterctl.gateway.log import say
from adapterctl.model.gateway import GatewayNode

MODELS_TIMEOUT_S = 5.0


@dataclass(eq=False)
class NodeState:
    """One node: its pool, whether it answers, and the names it serves."""

    name: str
    endpoint: str
    """The API base URL, ending in /v1."""
    api_key: str | None
    session: aiohttp.ClientSession | None = None
    up: bool = False
    loaded: frozenset[str] = frozenset()
    in_flight: int = 0

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def pool(self) -> aiohttp.ClientSession:
        assert self.session is not None, "the node pool is not started"
        return self.session


@dataclass
class NodePool:
    """Every node of the environment, polled in the background."""

    nodes: list[NodeState]
    interval_s: float
    request_timeout_s: float
    on_state: Callable[[str, bool], None] = field(default=lambda *_: None)
    """Told (node, up) after every health check and every node found down."""
    flights: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(served name, node) → requests in flight: a sync unloads only what has none."""
    _turn: itertools.count[int] = field(default_factory=itertools.count)
    _task: asyncio.Task[None] | None = None

    @classmethod
    def of(cls, nodes: Iterable[GatewayNode], interval_s: float, timeout_s: float) -> NodePool:
        states = [
            NodeState(
                str(n.name),
                str(n.endpoint).rstrip("/"),
                os.environ.get(str(n.api_key_env)) if n.api_key_env else None,
            )
            for n in nodes
        ]
        return cls(states, interval_s, timeout_s)

    async def start(self) -> None:
        """Open the pools and read every node once, so the first request sees them."""
        timeout = aiohttp.ClientTimeout(total=self.request_timeout_s)
        for node in self.nodes:
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
            node.session = aiohttp.ClientSession(
                connector=connector, timeout=timeout, auto_decompress=False
            )
        await self.poll()
        self._task = asyncio.create_task(self._poll_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for node in self.nodes:
            if node.session is not None:
                await node.session.close()

    def serving(self, served_name: str) -> list[NodeState]:
        """The healthy nodes that have ``served_name`` loaded."""
        return [n for n in self.nodes if n.up and served_name in n.loaded]

    def serves(self, served_name: str) -> bool:
        return any(n.up and served_name in n.loaded for n in self.nodes)

    def pick(self, candidates: list[NodeState]) -> NodeState:
        """The least busy candidate; ties taken in turn."""
        turn = next(self._turn)
        rotated = candidates[turn % len(candidates) :] + candidates[: turn % len(candidates)]
        return min(rotated, key=lambda n: n.in_flight)

    def down(self, node: NodeState, why: str) -> None:
        if node.up:
            say(f"node {node.name} is down: {why}")
        node.up = False
        self.on_state(node.name, False)

    async def poll(self) -> None:
        await asyncio.gather(*(self._poll(node) for node in self.nodes))

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.poll()

    async def _poll(self, node: NodeState) -> None:
        try:
            timeout = aiohttp.ClientTimeout(total=MODELS_TIMEOUT_S)
            url = node.endpoint + "/models"
            async with node.pool().get(url, headers=node.headers(), timeout=timeout) as answer:
                body = await answer.read()
            if answer.status != 200:
                raise ValueError(f"/v1/models answered HTTP {answer.status}")
            cards = json.loads(body)["data"]
            loaded = frozenset(str(c["id"]) for c in cards)  # adapters, and a base served alone
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as exc:
            self.down(node, str(exc) or type(exc).__name__)
            return
        if not node.up:
            say(f"node {node.name} is up, serving {', '.join(sorted(loaded)) or 'no adapter'}")
        node.up, node.loaded = True, loaded
        self.on_state(node.name, True)
