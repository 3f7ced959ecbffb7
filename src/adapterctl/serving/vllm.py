"""The part of vLLM's HTTP API a sync uses: ``/v1/models`` and runtime LoRA load/unload.

Written against vLLM's documented behaviour (DESIGN §4): success is HTTP 200 with a
plain-text body; errors are ``{"error": {"message", "type", "code"}}`` or, from older
servers, the flat ``{"message", "type", "code"}``. Connection failures, timeouts, 429 and
5xx are retried with exponential backoff, except vLLM's 500 for an adapter its worker
refuses; other answers are final.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.client import HTTPException

from adapterctl.errors import InputError

MAX_ANSWER = 4 * 1024 * 1024
RETRIED = frozenset({408, 429, 500, 502, 503, 504})
WORKER_REFUSAL = "Call to add_lora method failed: Worker failed with error"
"""vLLM 0.32 answers 500 when its worker refuses an adapter (a rank above --max-lora-rank,
DoRA, bias, missing tensors): the same adapter is refused again, so it is not retried."""


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


@dataclass
class VllmClient:
    endpoint: str
    """The API base URL, ending in /v1."""
    api_key: str | None = None
    timeout_s: float = 120.0
    retries: int = 3
    backoff_s: float = 0.5
    sleep: Callable[[float], None] = time.sleep
    calls: list[str] = field(default_factory=list)
    """Every request made, as ``METHOD /path`` (for reports and tests)."""

    def models(self) -> list[Card]:
        data = self._call("GET", "/models", None, "models")
        cards = data.get("data") if isinstance(data, dict) else None
        if not isinstance(cards, list):
            raise NodeCallError(f"{self.endpoint}/models: not a model list", "bad-answer")
        return [_card(item) for item in cards if isinstance(item, dict)]

    def load(self, name: str, path: str) -> None:
        body = {"lora_name": name, "lora_path": path, "load_inplace": False}
        self._call("POST", "/load_lora_adapter", body, "load")

    def unload(self, name: str) -> None:
        self._call("POST", "/unload_lora_adapter", {"lora_name": name}, "unload")

    def _call(self, method: str, path: str, body: object, what: str) -> object:
        attempt = 0
        while True:
            attempt += 1
            self.calls.append(f"{method} {path}")
            try:
                return self._once(method, path, body)
            except _Retryable as exc:
                if attempt >= self.retries:
                    raise NodeCallError(
                        f"{what} failed after {attempt} attempts: {exc}", exc.reason, exc.status
                    ) from None
                self.sleep(self.backoff_s * 2 ** (attempt - 1))

    def _once(self, method: str, path: str, body: object) -> object:
        request = urllib.request.Request(
            self.endpoint + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers=self._headers(body is not None),
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                raw = answer.read(MAX_ANSWER + 1)
                kind = answer.headers.get_content_type()
        except urllib.error.HTTPError as exc:
            raise _http_error(exc) from None
        except (TimeoutError, urllib.error.URLError, HTTPException, OSError) as exc:
            raise _unreachable(exc, self.endpoint, self.timeout_s) from None
        if kind != "application/json":
            return raw.decode("utf-8", "replace")
        return _json(raw)

    def _headers(self, has_body: bool) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "adapterctl-sync"}
        if has_body:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers


class _Retryable(Exception):
    def __init__(self, message: str, reason: str, status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


def _unreachable(exc: Exception, endpoint: str, timeout_s: float) -> _Retryable:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError):
        return _Retryable(f"no answer within {timeout_s:g} s", "timeout")
    return _Retryable(f"cannot reach {endpoint} ({reason or type(exc).__name__})", "node-down")


def _http_error(exc: urllib.error.HTTPError) -> Exception:
    message = _error_message(exc.read(MAX_ANSWER + 1)) or exc.reason
    text = f"HTTP {exc.code}: {message}"
    if exc.code == 500 and WORKER_REFUSAL in str(message):
        return NodeCallError(text, "rejected", exc.code)  # the adapter, not the node: final
    if exc.code in RETRIED:
        reason = "timeout" if exc.code == 408 else "server-error"
        return _Retryable(text, reason, exc.code)
    return NodeCallError(text, "rejected", exc.code)


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
