"""The part of vLLM's HTTP API a sync uses: ``/v1/models`` and runtime LoRA load/unload.

Written against vLLM's documented behaviour (DESIGN §4): success is HTTP 200 with a
plain-text body; errors are ``{"error": {"message", "type", "code"}}`` or, from older
servers, the flat ``{"message", "type", "code"}``. Connection failures, timeouts, 429 and
5xx are retried with exponential backoff, except vLLM's 500 for an adapter its worker
refuses; other answers are final.

The client is asynchronous (aiohttp, DESIGN §5a's choice for the gateway's upstream calls):
a push sync drives every node from one event loop, so a thousand nodes' loads wait at once
without a thread each, and a node's calls reuse one kept-alive connection (:func:`session`),
closed when that node is done.
"""

from __future__ import annotations

import asyncio
import json
import resource
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from adapterctl.errors import InputError

if TYPE_CHECKING:
    import aiohttp

MAX_ANSWER = 4 * 1024 * 1024
RETRIED = frozenset({408, 429, 500, 502, 503, 504})
WORKER_REFUSAL = "Call to add_lora method failed: Worker failed with error"
"""vLLM 0.32 answers 500 when its worker refuses an adapter (a rank above --max-lora-rank,
DoRA, bias, missing tensors): the same adapter is refused again, so it is not retried."""
USER_AGENT = "adapterctl-sync"
N = TypeVar("N")
R = TypeVar("R")
MAX_PARALLEL = 1024
"""Nodes driven at once by default: a sync mostly waits (a GPU load takes seconds), and a
node waiting holds no thread, so a thousand nodes converge in one wave. Each node in flight
holds two descriptors (its lock and its connection): fewer run at once where the open-files
limit would not allow as many (:func:`nodes_at_once`)."""
DESCRIPTORS_PER_NODE = 2
RESERVED_DESCRIPTORS = 64
"""Left for everything else: the worker threads' files being copied, git, the trust files."""


class NodeCallError(InputError):
    """A call failed for good; ``reason`` is the short slug reports and metrics use."""

    def __init__(self, message: str, reason: str, status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


@dataclass(frozen=True, slots=True)
class Card:
    """One entry of ``/v1/models``: the base (``parent`` None) or a loaded adapter."""

    id: str
    root: str
    parent: str | None


def nodes_at_once(wanted: int) -> int:
    """How many nodes may be in flight at once under the open-files limit (at least one)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return max(1, wanted)
    room = (soft - RESERVED_DESCRIPTORS) // DESCRIPTORS_PER_NODE
    return max(1, min(wanted, room))


async def each_node(nodes: Sequence[N], wanted: int, work: Callable[[N], Awaitable[R]]) -> list[R]:
    """``work(node)`` for every node from one event loop, at most ``wanted`` in flight (fewer
    where the open-files limit says so); the results in the nodes' order."""
    gate = asyncio.Semaphore(nodes_at_once(min(wanted, len(nodes))))

    async def one(node: N) -> R:
        async with gate:
            return await work(node)

    return list(await asyncio.gather(*(one(node) for node in nodes)))


@asynccontextmanager
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """One node's connection: kept alive between its calls, closed when its sync is done (a
    thousand finished nodes keep no sockets open); no cookies. Each client names its node's
    proxy (:func:`~adapterctl.nodeclient.env_proxy`)."""
    import aiohttp  # noqa: PLC0415 (commands that only name NodeCallError never pay for it)

    connector = aiohttp.TCPConnector(limit=1)
    jar = aiohttp.DummyCookieJar()
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    async with aiohttp.ClientSession(connector=connector, cookie_jar=jar, headers=headers) as pool:
        yield pool


@dataclass
class VllmClient:
    endpoint: str
    """The API base URL, ending in /v1."""
    http: aiohttp.ClientSession
    api_key: str | None = None
    timeout_s: float = 120.0
    retries: int = 3
    backoff_s: float = 0.5
    proxy: str | None = None
    """The proxy the environment names for the endpoint (``HTTP_PROXY``, less ``NO_PROXY``)."""
    calls: list[str] = field(default_factory=list)
    """Every request made, as ``METHOD /path`` (for reports and tests)."""

    async def models(self) -> list[Card]:
        data = await self._call("GET", "/models", None, "models")
        cards = data.get("data") if isinstance(data, dict) else None
        if not isinstance(cards, list):
            raise NodeCallError(f"{self.endpoint}/models: not a model list", "bad-answer")
        return [_card(item) for item in cards if isinstance(item, dict)]

    async def load(self, name: str, path: str) -> None:
        body = {"lora_name": name, "lora_path": path, "load_inplace": False}
        await self._call("POST", "/load_lora_adapter", body, "load")

    async def unload(self, name: str) -> None:
        await self._call("POST", "/unload_lora_adapter", {"lora_name": name}, "unload")

    async def _call(self, method: str, path: str, body: object, what: str) -> object:
        attempt = 0
        while True:
            attempt += 1
            self.calls.append(f"{method} {path}")
            try:
                return await self._once(method, path, body)
            except _Retryable as exc:
                if attempt >= self.retries:
                    raise NodeCallError(
                        f"{what} failed after {attempt} attempts: {exc}", exc.reason, exc.status
                    ) from None
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))

    async def _once(self, method: str, path: str, body: object) -> object:
        import aiohttp  # noqa: PLC0415 (imported once a session exists)

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            async with self.http.request(
                method, self.endpoint + path, data=data, headers=headers, proxy=self.proxy,
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            ) as answer:  # fmt: skip
                raw = await answer.content.read(MAX_ANSWER + 1)
                status, kind, phrase = answer.status, answer.content_type, answer.reason
        except TimeoutError:
            raise _Retryable(f"no answer within {self.timeout_s:g} s", "timeout") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise _unreachable(exc, self.endpoint) from None
        if status >= 400:
            raise _http_error(status, raw, phrase or "error")
        if kind != "application/json":
            return raw.decode("utf-8", "replace")
        return _json(raw)


class _Retryable(Exception):
    def __init__(self, message: str, reason: str, status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


def _unreachable(exc: Exception, endpoint: str) -> _Retryable:
    """``cannot reach URL ([Errno 111] Connect call failed …)``: the operating system's words
    where the transport kept them."""
    cause = getattr(exc, "os_error", None) or exc
    return _Retryable(f"cannot reach {endpoint} ({cause or type(exc).__name__})", "node-down")


def _http_error(status: int, raw: bytes, phrase: str) -> Exception:
    message = _error_message(raw[:MAX_ANSWER]) or phrase
    text = f"HTTP {status}: {message}"
    if status == 500 and WORKER_REFUSAL in str(message):
        return NodeCallError(text, "rejected", status)  # the adapter, not the node: final
    if status in RETRIED:
        reason = "timeout" if status == 408 else "server-error"
        return _Retryable(text, reason, status)
    return NodeCallError(text, "rejected", status)


def _error_message(raw: bytes) -> str | None:
    """vLLM's nested ``{"error": {...}}`` or the older flat error body."""
    try:
        data = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace").strip()[:300] or None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        data = data["error"]
    message = data.get("message") if isinstance(data, dict) else None
    return str(message) if message is not None else None


def _json(raw: bytes) -> object:
    if len(raw) > MAX_ANSWER:
        raise NodeCallError("the node's answer is larger than 4 MiB", "bad-answer")
    try:
        return json.loads(raw)
    except ValueError:
        raise NodeCallError("the node's answer is not JSON", "bad-answer") from None


def _card(item: dict[str, object]) -> Card:
    parent = item.get("parent")
    return Card(str(item.get("id")), str(item.get("root")), None if parent is None else str(parent))
