"""Raw ASGI plumbing the gateway needs: read a body, answer JSON, answer vLLM's error shape.

No framework: the gateway's hot path is one dict lookup and a proxied stream, and a router
or middleware stack would cost more than the routing itself (DESIGN §5a).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY = 32 * 1024 * 1024
JSON = [(b"content-type", b"application/json")]


class BodyTooLarge(Exception):
    pass


async def read_body(receive: Receive, limit: int = MAX_BODY) -> bytes:
    """The request body; raises BodyTooLarge past ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        parts.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(parts)


async def answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def answer_json(send: Send, status: int, document: object) -> None:
    await answer(send, status, json.dumps(document).encode(), JSON)


def error_document(status: int, type_: str, message: str) -> dict[str, object]:
    """vLLM's ``ErrorResponse``: ``{"error": {message, type, param, code}}``, code = status."""
    return {"error": {"message": message, "type": type_, "param": None, "code": status}}


async def answer_error(send: Send, status: int, type_: str, message: str) -> None:
    await answer_json(send, status, error_document(status, type_, message))
