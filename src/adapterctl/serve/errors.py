"""The reference node's error answers, shaped like vLLM's (``vllm/entrypoints/serve/
exception_handling/``: ``error_response.py``, ``utils.py``, ``handlers/``).

Like vLLM, every message is passed through ``sanitize_message`` before it is sent: memory
addresses, traceback lines and file paths are replaced, so a client reads ``<path>`` where
the server had ``/tmp/adapters/a``.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import HTTPException, Request
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
    """vLLM's ``ErrorResponse`` document for ``error``, its message sanitized."""
    message = sanitize_message(error.message)
    return {"error": {"message": message, "type": error.type_, "param": error.param,
                      "code": error.status}}  # fmt: skip


def sanitize_message(message: str) -> str:
    """vLLM's ``sanitize_message``: strip memory addresses, traceback lines and file paths
    (paths under the usual system roots, and any path ending in a file name with an
    extension, become ``<path>``)."""
    message = re.sub(r" at 0x[0-9a-fA-F]+>", ">", message)
    message = re.sub(r'\n?\s*File "[^"]+", line \d+, in \S+(\n\s+.*)?', "", message)
    message = re.sub(r"/(?:home|usr|opt|var|tmp|root|lib|mnt|srv)(?:/[\w.\-]+)+", "<path>", message)
    message = re.sub(r"(?:/[\w\-]+)+/[\w\-]+\.\w+", "<path>", message)
    return message.strip()


def engine_error(exc: Exception) -> ApiError:
    """vLLM's ``create_error_response`` for an exception."""
    if isinstance(exc, LoraError):
        return ApiError(exc.message, exc.type_, exc.status, exc.param)
    if isinstance(exc, ValueError | TypeError | OverflowError):
        return ApiError(str(exc))
    if isinstance(exc, NotImplementedError):
        return ApiError(str(exc), "NotImplementedError", 501)
    logger.error("generation failed", exc_info=exc)
    return ApiError(str(exc), "InternalServerError", 500)


async def api_error_handler(_: Request, exc: Exception) -> Response:
    """An ``ApiError`` raised by a route, answered in vLLM's shape."""
    return exc.response() if isinstance(exc, ApiError) else Response(status_code=500)


#: Pydantic-internal segments of an error's ``loc`` that are no field name (vLLM's list).
_INTERNAL_LOC_MARKERS = frozenset(
    ("function-wrap", "function-after", "function-before", "function-plain", "json-or-python",
     "lax-or-strict", "chain", "default", "nullable", "tagged-union", "union", "call",
     "arguments", "is-instance", "is-subclass", "callable", "str", "int", "float", "bool",
     "bytes", "bytearray", "list", "tuple", "dict", "set", "frozenset", "complex", "none",
     "nonetype")
)  # fmt: skip
_MAX_REPORTED_ERRORS, _MAX_ERROR_INPUT_CHARS, _MAX_ERROR_CHARS = 10, 200, 1000


def _loc(loc: object) -> str | None:
    """vLLM's ``clean_loc_for_param``: the dotted path without pydantic's internal markers."""
    if not isinstance(loc, tuple | list):
        return None
    parts = [str(p) for p in loc if not _is_internal(str(p))]
    return ".".join(parts or map(str, loc))


def _is_internal(segment: str) -> bool:
    return bool(re.search(r"[\[\](){}]", segment)) or segment.lower() in _INTERNAL_LOC_MARKERS


async def validation_error_handler(_: Request, exc: Exception) -> Response:
    """FastAPI's 422 becomes vLLM's 400 (``exception_handling/handlers/validation.py``)."""
    errors = list(exc.errors()) if isinstance(exc, RequestValidationError) else []
    first = errors[0] if errors else None
    param = _loc(first.get("loc")) if isinstance(first, dict) and first.get("loc") else None
    message = "Validation error"
    if errors:
        label = "error" if len(errors) == 1 else "errors"
        reported = errors[:_MAX_REPORTED_ERRORS]
        lines = "".join(f"  {_format_error(error)}\n" for error in reported)
        more = len(errors) - len(reported)
        tail = f"  ...and {more} more {label}\n" if more else ""
        message = f"{len(errors)} validation {label}:\n{lines}{tail}".rstrip()
    return ApiError(message, HTTPStatus.BAD_REQUEST.phrase, 400, param).response()


def _format_error(error: object) -> str:
    """One pydantic error, its input summarised and the whole cut to 1000 characters."""
    if isinstance(error, dict):
        error = dict(error)
        if "input" in error:
            error["input"] = _summarize(error["input"])
        if isinstance(error.get("loc"), tuple | list):
            error["loc"] = _loc(error["loc"])
    text = str(error)
    return text[:_MAX_ERROR_CHARS] + "...[truncated]" if len(text) > _MAX_ERROR_CHARS else text


def _summarize(value: object) -> object:
    """vLLM's ``_summarize_error_input``: containers are described, long text is cut."""
    if isinstance(value, bytes | bytearray):
        return f"<{type(value).__name__} of {len(value)} bytes>"
    if isinstance(value, list | tuple | set | frozenset | dict):
        return f"<{type(value).__name__} of {len(value)} items>"
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:  # e.g. an int past sys.get_int_max_str_digits()
        return f"<{type(value).__name__}>"
    if len(text) > _MAX_ERROR_INPUT_CHARS:
        return text[:_MAX_ERROR_INPUT_CHARS] + "...[truncated]"
    return text


async def http_exception_handler(_: Request, exc: Exception) -> Response:
    """vLLM's handler for FastAPI's ``HTTPException``: the detail as the message, the
    status's phrase as the type (``exception_handling/handlers/http.py``)."""
    if not isinstance(exc, HTTPException):
        return Response(status_code=500)
    phrase = HTTPStatus(exc.status_code).phrase
    return ApiError(str(exc.detail), phrase, exc.status_code).response()


async def unexpected_error_handler(_: Request, exc: Exception) -> Response:
    """vLLM's fallback for ``ValueError``, ``TypeError``, ``OverflowError`` and
    ``NotImplementedError`` raised by a route (``create_error_response``)."""
    return engine_error(exc).response()


async def validate_json_request(request: Request) -> None:
    """vLLM's ``validate_json_request`` dependency on every POST route."""
    media_type = request.headers.get("content-type", "").lower().split(";", 1)[0]
    if media_type != "application/json":
        raise RequestValidationError(errors=[JSON_ONLY])
