"""The golden runner's HTTP client for one node: aiohttp directly, keeping the openai SDK's
retry policy and the words of its errors.

One :class:`aiohttp.ClientSession` per run (keep-alive, at most ``concurrency`` connections),
``Authorization: Bearer <key>`` on every request. A failed attempt is retried as the openai
SDK (``openai/_base_client.py``: ``_should_retry``, ``_calculate_retry_timeout``,
``_parse_retry_after_header``; ``openai/_constants.py``) retries it: after a timeout, a
connection error, or a 408, 409, 429 or 5xx, unless ``x-should-retry`` says otherwise;
waiting what ``retry-after-ms`` or ``retry-after`` asks (up to two minutes), else
min(0.5 s × 2ⁿ, 8 s) less up to 25 % jitter. A request that fails past the retries raises
:class:`RequestError` named and worded as the SDK's exception would be
(``InternalServerError: Error code: 500 - boom``): stored results and users' greps use them.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import aiohttp

from adapterctl import nodeclient
from adapterctl.nodeclient import NO_KEY, NodeError

INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
MAX_RETRY_AFTER_DELAY = 2 * 60
"""The SDK's constants (``openai/_constants.py``), in seconds."""
STATUS_ERRORS = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    409: "ConflictError",
    422: "UnprocessableEntityError",
    429: "RateLimitError",
}
"""The SDK's exception per status (``_make_status_error``); 5xx: ``InternalServerError``,
any other: ``APIStatusError``."""


class RequestError(Exception):
    """A request that failed past the retries, as the openai SDK names and words it."""

    def __init__(self, kind: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        """The SDK's exception class name: ``APITimeoutError``, ``NotFoundError``..."""
        self.message = message
        self.status = status
        """The HTTP status of a status error; None for a timeout or a connection error."""

    @property
    def summary(self) -> str:
        """``kind: message``, what an answer's error says."""
        return f"{self.kind}: {self.message}"


@dataclass(frozen=True, slots=True)
class Reply:
    """A 2xx answer: its body, and how long the attempt that got it took."""

    body: bytes
    latency_ms: float


@dataclass(frozen=True, slots=True)
class _Failure:
    """A failed attempt: what it raises if not retried, and the answer's headers if any."""

    error: RequestError
    headers: Mapping[str, str] | None
    retry: bool


class NodeClient:
    """``async with NodeClient(...) as client``: ``check``, then ``post`` as often as needed."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None,
        concurrency: int,
        timeout_s: float,
        retries: int,
    ) -> None:
        self.base_url = base_url
        self._root = base_url.rstrip("/")
        self._headers = {
            "authorization": f"Bearer {api_key or NO_KEY}",
            "content-type": "application/json",
        }
        self._limit = concurrency
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._retries = retries
        self._session: aiohttp.ClientSession | None = None
        self._proxy: str | None = None

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._limit),
            headers=self._headers,
            timeout=self._timeout,
        )
        self._proxy = nodeclient.env_proxy(self._root)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def check(self, models: Sequence[str], *, error: type[NodeError]) -> None:
        """Raise ``error`` unless the node answers ``/models`` and lists every one of ``models``;
        in :mod:`adapterctl.nodeclient`'s words."""
        url = self.base_url
        try:
            reply = await self._send("GET", "/models", None)
        except RequestError as exc:
            if exc.status is not None:
                raise nodeclient.refused(url, exc.status, exc.message, error=error) from None
            why = nodeclient.reason(exc.__cause__, exc.message)
            raise nodeclient.unreachable(url, why, error=error) from None
        served = model_ids(reply.body)
        if served is None:
            detail = "its /models answer is not a list of models"
            raise nodeclient.not_openai(url, detail, error=error)
        nodeclient.require_served(url, served, models, error=error)

    async def post(self, path: str, body: Mapping[str, object]) -> Reply:
        """POST ``body`` as JSON to ``path`` (``/chat/completions``), retrying as the SDK does."""
        return await self._send("POST", path, json.dumps(body).encode())

    async def _send(self, method: str, path: str, data: bytes | None) -> Reply:
        retries_taken = 0
        while True:
            outcome = await self._attempt(method, self._root + path, data)
            if isinstance(outcome, Reply):
                return outcome
            if not outcome.retry or retries_taken >= self._retries:
                raise outcome.error
            await asyncio.sleep(retry_delay(retries_taken, outcome.headers))
            retries_taken += 1

    async def _attempt(self, method: str, url: str, data: bytes | None) -> Reply | _Failure:
        if self._session is None:
            raise RuntimeError("NodeClient is used outside its `async with`")
        started = time.perf_counter()
        try:
            async with self._session.request(method, url, data=data, proxy=self._proxy) as response:
                body = await response.read()
        except TimeoutError as exc:  # aiohttp's own timeouts are TimeoutErrors too
            return _unanswered(RequestError("APITimeoutError", "Request timed out."), exc)
        except aiohttp.ClientError as exc:
            return _unanswered(RequestError("APIConnectionError", "Connection error."), exc)
        if 200 <= response.status < 300:
            return Reply(body, (time.perf_counter() - started) * 1000)
        status, headers = response.status, response.headers
        return _Failure(status_error(status, body), headers, should_retry(status, headers))


def _unanswered(error: RequestError, cause: BaseException) -> _Failure:
    """A timeout or a connection error: always retried (the SDK's policy), without headers."""
    error.__cause__ = cause
    return _Failure(error, None, retry=True)


def status_error(status: int, body: bytes) -> RequestError:
    """The SDK's error for a non-2xx answer (``_make_status_error_from_response``): ``Error
    code: N``, then `` - `` and the body's ``error.message`` (or ``message``) if it has one."""
    message = f"Error code: {status}"
    try:
        document = json.loads(body.decode("utf-8", errors="replace").strip())
    except (ValueError, RecursionError):
        document = None
    error = document.get("error", document) if isinstance(document, dict) else None
    said = error.get("message") if isinstance(error, dict) else None
    if isinstance(said, str) and said:
        message += f" - {said}"
    kind = STATUS_ERRORS.get(status, "InternalServerError" if status >= 500 else "APIStatusError")
    return RequestError(kind, message, status=status)


def should_retry(status: int, headers: Mapping[str, str]) -> bool:
    """The SDK's ``_should_retry``: not when the node asks for more than two minutes' wait;
    as ``x-should-retry`` says; else after a 408, 409, 429 or 5xx."""
    delay = retry_after(headers)
    if delay is not None and math.isfinite(delay) and delay > MAX_RETRY_AFTER_DELAY:
        return False
    said = headers.get("x-should-retry")
    if said in ("true", "false"):
        return said == "true"
    return status in (408, 409, 429) or status >= 500


def retry_delay(retries_taken: int, headers: Mapping[str, str] | None) -> float:
    """The SDK's ``_calculate_retry_timeout``: the node's ``retry-after`` when it is over 0 and
    at most two minutes, else min(0.5 s × 2ⁿ, 8 s) less a random 0–25 %."""
    delay = retry_after(headers) if headers is not None else None
    if delay is not None and math.isfinite(delay) and 0 < delay <= MAX_RETRY_AFTER_DELAY:
        return delay
    backoff = min(INITIAL_RETRY_DELAY * 2.0 ** min(retries_taken, 1000), MAX_RETRY_DELAY)
    return max(backoff * (1 - 0.25 * random.random()), 0.0)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The SDK's ``_parse_retry_after_header``: seconds from ``retry-after-ms``, else from
    ``retry-after`` as a number or as an HTTP date; None when neither says."""
    for header, divisor in (("retry-after-ms", 1000), ("retry-after", 1)):
        value = headers.get(header)
        if value is None:
            continue
        try:
            delay = float(value)
        except ValueError:
            continue
        literal = value.strip().lower() in ("inf", "+inf", "infinity", "+infinity")
        if delay == math.inf and not literal:  # an overflow: an excessive delay, refused
            return MAX_RETRY_AFTER_DELAY + 1
        return delay / divisor
    date = headers.get("retry-after")
    try:
        parsed = email.utils.parsedate_tz(date) if date is not None else None
        return None if parsed is None else float(email.utils.mktime_tz(parsed) - time.time())
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def model_ids(body: bytes) -> set[str] | None:
    """The ids of a ``/models`` answer (``{"data": [{"id": ...}, ...]}``); None if it is not one."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    cards = document.get("data") if isinstance(document, dict) else None
    if not isinstance(cards, list):
        return None
    served: set[str] = set()
    for card in cards:
        name = card.get("id") if isinstance(card, dict) else None
        if not isinstance(name, str):
            return None
        served.add(name)
    return served
