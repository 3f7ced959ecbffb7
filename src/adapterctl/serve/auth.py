"""The reference node's API key check, as vLLM's ``AuthenticationMiddleware`` does it."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

#: The paths vLLM's middleware guards (``middleware/authenticate.py``); others are open.
GUARDED_PREFIX = ("/v1", "/v2", "/inference", "/cohere")


class BearerAuth:
    """vLLM's ``AuthenticationMiddleware``: every guarded path needs ``Bearer <key>``."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app, self.digest = app, hashlib.sha256(api_key.encode()).digest()

    def _authorized(self, scope: Scope) -> bool:
        scheme, _, token = (Headers(scope=scope).get("authorization") or "").partition(" ")
        digest = hashlib.sha256(token.encode()).digest()
        return scheme.lower() == "bearer" and secrets.compare_digest(digest, self.digest)

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """Answer 401 ``{"error": "Unauthorized"}`` to unauthenticated guarded requests."""
        if scope["type"] not in ("http", "websocket") or scope.get("method") == "OPTIONS":
            return self.app(scope, receive, send)
        path = str(scope["path"]).removeprefix(str(scope.get("root_path", "")))
        if path.startswith(GUARDED_PREFIX) and not self._authorized(scope):
            return JSONResponse({"error": "Unauthorized"}, status_code=401)(scope, receive, send)
        return self.app(scope, receive, send)
