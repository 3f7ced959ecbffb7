"""The reference node's error answers, shaped like vLLM's (``server_utils.py``,
``exception_handling/handlers/validation.py``, ``engine/protocol.py``)."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from adapterctl.serve.engine import LoraError

logger = logging.getLogger("adapterctl.serve")
JSON_ONLY = "Unsupported Media Type: Only 'application/json' is allowed"


class ApiError(Exception):
    """An error answered as vLLM's ``{"error": {message, type, param, code}}``."""

    def __init__(
        self,
        message: str,
        type_: str = "BadRequestError",
        status: int = 400,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message, self.type_, self.status, self.param = message, type_, status, param

    def response(self) -> JSONResponse:
        """The error as vLLM's ``ErrorResponse`` with HTTP status = code."""
        return JSONResponse(error_body(self), status_code=self.status)


def error_body(error: ApiError) -> dict[str, Any]:
    """vLLM's ``ErrorResponse`` document for ``error``."""
    info = {"message": error.message, "type": error.type_, "param": error.param}
    return {"error": {**info, "code": error.status}}


def engine_error(exc: Exception) -> ApiError:
    """vLLM's ``create_error_response`` for an exception."""
    if isinstance(exc, LoraError):
        return ApiError(exc.message, exc.type_, exc.status, exc.param)
    if isinstance(exc, ValueError | TypeError | OverflowError):
        return ApiError(str(exc))
    logger.error("generation failed", exc_info=exc)
    return ApiError(str(exc), "InternalServerError", 500)


async def api_error_handler(_: Request, exc: Exception) -> Response:
    """An ``ApiError`` raised by a route, answered in vLLM's shape."""
    return exc.response() if isinstance(exc, ApiError) else Response(status_code=500)


def _loc(loc: object) -> str | None:
    """vLLM's ``clean_loc_for_param``: the dotted path without pydantic's branch markers."""
    if not isinstance(loc, tuple | list):
        return None
    parts = [str(p) for p in loc if not re.search(r"[\[\](){}]", str(p))]
    return ".".join(parts or map(str, loc))


async def validation_error_handler(_: Request, exc: Exception) -> Response:
    """FastAPI's 422 becomes vLLM's 400 (``exception_handling/handlers/validation.py``)."""
    errors = list(exc.errors()) if isinstance(exc, RequestValidationError) else []
    first = errors[0] if errors else None
    param = _loc(first.get("loc")) if isinstance(first, dict) else None
    label = "error" if len(errors) == 1 else "errors"
    lines = "".join(f"\n  {_format_error(error)}" for error in errors[:10])
    message = f"{len(errors)} validation {label}:{lines}"
    return ApiError(message, HTTPStatus.BAD_REQUEST.phrase, 400, param).response()


def _format_error(error: object) -> str:
    """One pydantic error without its context objects, its input cut to 200 characters."""
    if not isinstance(error, dict):
        return str(error)
    shown = {key: value for key, value in error.items() if key not in ("ctx", "url")}
    if "loc" in shown:
        shown["loc"] = _loc(shown["loc"])
    if "input" in shown and len(text := str(shown["input"])) > 200:
        shown["input"] = text[:200] + "...[truncated]"
    return str(shown)


async def validate_json_request(request: Request) -> None:
    """vLLM's ``validate_json_request`` dependency on every POST route."""
    media_type = request.headers.get("content-type", "").lower().split(";", 1)[0]
    if media_type != "application/json":
        raise RequestValidationError(errors=[JSON_ONLY])
