"""The gateway's ASGI application: choose a revision, proxy the request to a node that has
it loaded, stream the answer back chunk by chunk, measure it per revision.

Each request reads the route table once, at its start: a reload swaps the table for the
requests that start after it, and the ones in flight finish on the revision they began on.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from adapterctl.gateway.asgi import (
    BodyTooLarge,
    Receive,
    Scope,
    Send,
    answer,
    answer_error,
    answer_json,
    read_body,
)
from adapterctl.gateway.callers import Callers
from adapterctl.gateway.metrics import CONTENT_TYPE, GatewayMetrics, Series
from adapterctl.gateway.nodes import NodePool, NodeState
from adapterctl.gateway.routing import Refusal, RouteTable, Target, choose

PROXIED = {"/v1/chat/completions": "/chat/completions", "/v1/completions": "/completions"}
_COMPLETION_TOKENS = re.compile(rb'"completion_tokens":\s*(\d+)')
TAIL = 4096
_DONE = b"data: [DONE]"


@dataclass
class Gateway:
    env: str
    pool: NodePool
    callers: Callers
    metrics: GatewayMetrics
    table: RouteTable | None = None
    started: list[Callable[[], None]] = field(default_factory=list)
    """Called on the event loop once the node pools are up."""

    def install(self, table: RouteTable) -> None:
        """Route by ``table`` from the next request on (called on the event loop)."""
        previous = None if self.table is None else self.table.commit
        self.table = table
        self.metrics.routes(self.env, table.commit, previous)
        tenants = (*sorted(table.tenants), "other")
        nodes = [node.name for node in self.pool.nodes]
        for target in table.targets():
            for tenant in tenants:
                for node in nodes:
                    labels = (self.env, target.alias, target.version, tenant, node)
                    self.metrics.prepare(labels, self.metrics.series(labels))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path in PROXIED and method == "POST":
            await self._proxy(scope, receive, send, PROXIED[path])
        elif method == "GET" and path in _PAGES:
            await _PAGES[path](self, send)
        else:
            await answer_error(send, 404, "NotFoundError", f"Not Found: {method} {path}")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.pool.start()
                for hook in self.started:
                    hook()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.pool.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _proxy(self, scope: Scope, receive: Receive, send: Send, suffix: str) -> None:
        try:
            body = await read_body(receive)
        except BodyTooLarge:
            await self._refuse(send, Refusal(413, "BadRequestError", "The request is too large."))
            return
        request = _parse(body)
        if isinstance(request, Refusal):
            await self._refuse(send, request)
            return
        table = self.table
        if table is None:
            await self._refuse(send, Refusal(503, "ServiceUnavailableError", "No routes yet."))
            return
        peer = scope.get("client")
        caller = self.callers.identify(scope["headers"], peer and peer[0], request.get("user"))
        if isinstance(caller, Refusal):
            await self._refuse(send, caller)
            return
        model = str(request["model"])
        target = choose(table, model, caller.sticky, caller.tenant, self.pool.serves)
        if isinstance(target, Refusal):
            await self._refuse(send, target)
            return
        request["model"] = target.served_name
        tenant = caller.tenant if caller.tenant in table.tenants else "other"
        call = _Call(self, target, tenant, json.dumps(request).encode(), suffix, receive, send)
        await call.run(bool(request.get("stream")))

    async def _refuse(self, send: Send, refusal: Refusal) -> None:
        self.metrics.refused.labels(self.env, str(refusal.status)).inc()
        await answer_error(send, refusal.status, refusal.type, refusal.message)


def _parse(body: bytes) -> dict[str, object] | Refusal:
    try:
        request = json.loads(body)
    except ValueError:
        return Refusal(400, "BadRequestError", "The request body is not valid JSON.")
    if not isinstance(request, dict) or not isinstance(request.get("model"), str):
        return Refusal(400, "BadRequestError", "The request must name a `model`.")
    return request


@dataclass
class _Call:
    """One proxied request: node choice with failover, the stream, its measurements."""

    gateway: Gateway
    target: Target
    tenant: str
    payload: bytes
    suffix: str
    receive: Receive
    send: Send
    started: float = field(default_factory=time.perf_counter)

    async def run(self, stream: bool) -> None:
        pool = self.gateway.pool
        tried: set[str] = set()
        while True:
            candidates = [n for n in pool.serving(self.target.served_name) if n.name not in tried]
            if not candidates:
                message = f"No healthy node serves `{self.target.served_name}`; try again later."
                refusal = Refusal(503, "ServiceUnavailableError", message)
                await self.gateway._refuse(self.send, refusal)
                return
            node = pool.pick(candidates)
            tried.add(node.name)
            if await self._on(node, stream):
                return

    async def _on(self, node: NodeState, stream: bool) -> bool:
        """Proxy to ``node``; False when it could not be reached (nothing was sent yet)."""
        labels = self._labels(node)
        series = self.gateway.metrics.series(labels)
        series.in_flight.inc()
        node.in_flight += 1
        flight = (self.target.served_name, node.name)
        self.gateway.pool.flights[flight] += 1
        opened = False
        counted: list[_Relayed] = []

        def record(relayed: _Relayed) -> None:
            """Count the request once, before the client holds its whole answer: a client that
            has it (a stream's ``[DONE]`` included) finds it in /metrics."""
            if not counted:
                counted.append(relayed)
                self._measure(labels, series, relayed)

        try:
            url = node.endpoint + self.suffix
            async with node.pool().post(url, data=self.payload, headers=node.headers()) as reply:
                opened = True
                relayed = await (self._relay(reply, record) if stream else self._read(reply))
        except aiohttp.ClientConnectionError as exc:
            if not opened:
                self.gateway.pool.down(node, str(exc) or type(exc).__name__)
                return False
            relayed = _Relayed(502, started=False)
        except TimeoutError:
            relayed = _Relayed(504, started=False)
        finally:
            series.in_flight.dec()
            node.in_flight -= 1
            self.gateway.pool.flights[flight] -= 1
        record(relayed)
        await self._finish(relayed)
        return True

    def _measure(self, labels: tuple[str, str, str, str, str], series: Series,
                 relayed: _Relayed) -> None:  # fmt: skip
        self.gateway.metrics.count(labels, series, relayed.status)
        if relayed.status < 400:
            series.duration.observe(time.perf_counter() - self.started)
            if relayed.first is not None:
                series.ttft.observe(relayed.first)
            if relayed.tokens is not None:
                series.tokens.observe(relayed.tokens)

    async def _read(self, reply: aiohttp.ClientResponse) -> _Relayed:
        """A non-streamed answer, read whole: sent with its length once it is counted (two
        writes to the client instead of three)."""
        try:
            whole = await reply.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return _Relayed(504 if isinstance(exc, TimeoutError) else 502, started=False)
        content_type = reply.headers.get("Content-Type", "")
        return _Relayed(reply.status, _tokens(whole[-TAIL:], None), None, whole, content_type)

    async def _relay(
        self, reply: aiohttp.ClientResponse, record: Callable[[_Relayed], None]
    ) -> _Relayed:
        """Forward a stream chunk by chunk, but its end; ``record`` it before the chunk that
        carries ``data: [DONE]`` goes out (a client may hang up as soon as it has read it)."""
        headers = self._headers(reply.headers.get("Content-Type", ""))
        await self.send({"type": "http.response.start", "status": reply.status, "headers": headers})
        # a stream watches for the client leaving (the next message is a disconnect), so that
        # the node stops generating for nobody
        left = asyncio.ensure_future(self.receive())
        first: float | None = None
        events, tail = 0, b""
        try:
            async for chunk in reply.content.iter_any():
                if first is None:
                    first = time.perf_counter() - self.started
                events += chunk.count(b"data: {")
                tail = (tail + chunk)[-TAIL:]
                if _DONE in tail:
                    record(_Relayed(reply.status, _tokens(tail, events), first))
                await self.send({"type": "http.response.body", "body": chunk, "more_body": True})
                if left.done():
                    return _Relayed(499)
        except (aiohttp.ClientError, TimeoutError) as exc:
            # the answer has begun: the client sees it cut short, the metrics a 502/504
            return _Relayed(504 if isinstance(exc, TimeoutError) else 502)
        finally:
            left.cancel()
        return _Relayed(reply.status, _tokens(tail, events), first)

    async def _finish(self, relayed: _Relayed) -> None:
        """End the client's answer (or give it whole, or say why there is none)."""
        if relayed.whole is not None:
            headers = [*self._headers(relayed.content_type),
                       (b"content-length", str(len(relayed.whole)).encode())]  # fmt: skip
            await self.send({"type": "http.response.start", "status": relayed.status,
                             "headers": headers})  # fmt: skip
            await self.send({"type": "http.response.body", "body": relayed.whole})
        elif not relayed.started and relayed.status == 504:
            await answer_error(self.send, 504, "TimeoutError", "The node did not answer in time.")
        elif not relayed.started:
            message = "The node's answer broke off; try again."
            await answer_error(self.send, 502, "BadGatewayError", message)
        elif relayed.status != 499:
            await self.send({"type": "http.response.body", "body": b""})

    def _headers(self, content_type: str) -> list[tuple[bytes, bytes]]:
        return [
            (b"content-type", content_type.encode()),
            (b"x-adapterctl-revision", self.target.served_name.encode()),
        ]

    def _labels(self, node: NodeState) -> tuple[str, str, str, str, str]:
        t = self.target
        return (self.gateway.env, t.alias, t.version, self.tenant, node.name)


@dataclass(frozen=True, slots=True)
class _Relayed:
    """What came back from a node: the status the metrics count, and what is left to send."""

    status: int
    tokens: int | None = None
    first: float | None = None
    """Seconds to the first chunk (streams)."""
    whole: bytes | None = None
    """A non-streamed answer, not sent yet."""
    content_type: str = ""
    started: bool = True
    """Whether the client's answer has begun (a stream's start was sent)."""


def _tokens(tail: bytes, events: int | None) -> int | None:
    """The node's own count (``usage.completion_tokens``), else one per streamed event."""
    found = _COMPLETION_TOKENS.findall(tail)
    if found:
        return int(found[-1])
    return None if events is None else max(0, events - (_DONE in tail))


async def _health(gateway: Gateway, send: Send) -> None:
    if gateway.table is None:
        await answer_error(send, 503, "ServiceUnavailableError", "No routes yet.")
    else:
        await answer(send, 200, b"", [])


async def _metrics(gateway: Gateway, send: Send) -> None:
    body = gateway.metrics.exposition()
    await answer(send, 200, body, [(b"content-type", CONTENT_TYPE.encode())])


async def _models(gateway: Gateway, send: Send) -> None:
    """Every alias, and every revision some node serves, as OpenAI model cards."""
    table, pool = gateway.table, gateway.pool
    names = [] if table is None else list(table.aliases)
    if table is not None:
        names += [name for name in table.named if pool.serves(name)]
    cards = [{"id": name, "object": "model", "owned_by": "adapterctl"} for name in names]
    await answer_json(send, 200, {"object": "list", "data": cards})


async def _routes(gateway: Gateway, send: Send) -> None:
    """What the gateway routes by now: the commit, each revision and the nodes serving it."""
    table, pool = gateway.table, gateway.pool
    nodes = [{"name": n.name, "up": n.up, "loaded": sorted(n.loaded)} for n in pool.nodes]
    if table is None:
        await answer_json(send, 200, {"env": gateway.env, "commit": None, "nodes": nodes})
        return
    routes = {
        alias: [
            {
                "version": t.version,
                "weight": t.weight,
                "tenants": list(t.tenants),
                "nodes": [n.name for n in pool.serving(t.served_name)],
                "in_flight": _flights(pool, t.served_name),
            }
            for t in targets
        ]
        for alias, targets in table.aliases.items()
    }
    in_flight = {
        served: counts
        for served in sorted({name for name, _ in pool.flights})
        if (counts := _flights(pool, served))
    }
    document = {"env": table.env, "commit": table.commit, "routes": routes, "nodes": nodes,
                "in_flight": in_flight}  # fmt: skip
    await answer_json(send, 200, document)


def _flights(pool: NodePool, served: str) -> dict[str, int]:
    """Node → requests in flight to ``served`` there (nodes with none left out)."""
    return {node: n for (name, node), n in pool.flights.items() if name == served and n > 0}


_PAGES = {
    "/health": _health,
    "/metrics": _metrics,
    "/v1/models": _models,
    "/adapterctl/routes": _routes,
}
