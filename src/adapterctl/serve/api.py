"""The reference node's HTTP API: the subset of vLLM's OpenAI-compatible server we use.

Shapes, messages and status codes are copied from vLLM (``vllm/entrypoints/openai``:
``api_server.py``, ``server_utils.py``, ``models/serving.py``, ``engine/protocol.py``,
``completion/protocol.py``, ``chat_completion/protocol.py``). One deliberate difference:
vLLM constrains decoding for ``response_format`` / ``structured_outputs``; this node cannot,
so it checks the finished text and says so in the ``x-adapterctl-structured-output``
response header (``valid`` or ``invalid``; a warning is logged when invalid). A streamed
response has already sent its headers, so there the result is only logged.

This module wires the routes; the parts live beside it: ``protocol`` (request bodies and
structured-output constraints), ``errors`` (vLLM's error answers), ``auth`` (the API key),
``node`` (what the routes call), ``responses`` (completion and chat bodies, SSE streams) and
``sagemaker`` (``/ping`` and the ``/adapters`` pair vLLM serves beside its own routes).
"""

from __future__ import annotations

import logging

from fastapi import Depends, FastAPI, HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from adapterctl import __version__
from adapterctl.serve.auth import BearerAuth
from adapterctl.serve.engine import Engine
from adapterctl.serve.errors import (
    ApiError,
    api_error_handler,
    http_exception_handler,
    unexpected_error_handler,
    validate_json_request,
    validation_error_handler,
)
from adapterctl.serve.node import (
    Node,
    chat_prompt,
    completion_prompt,
    load_lora,
    model_list,
    serve,
    unload_lora,
)
from adapterctl.serve.protocol import (
    ChatRequest,
    CompletionRequest,
    LoadLoraRequest,
    UnloadLoraRequest,
)
from adapterctl.serve.responses import Job
from adapterctl.serve.sagemaker import add_adapter_routes, add_ping_routes

logger = logging.getLogger("adapterctl.serve")


def _add_routes(app: FastAPI, node: Node) -> None:
    json_only = [Depends(validate_json_request)]

    @app.get("/health")
    async def health() -> Response:
        return Response(status_code=200)

    @app.get("/version")
    async def version() -> JSONResponse:
        """``{"version": …}`` like vLLM's ``/version``, but the version of adapterctl (the
        reference node's package), not of any vLLM."""
        return JSONResponse({"version": __version__})

    @app.get("/metrics")
    async def metrics() -> Response:
        body, content_type = node.metrics.render()
        return Response(body, media_type=content_type)

    @app.get("/v1/models")
    async def models() -> JSONResponse:
        return JSONResponse(model_list(node))

    @app.post("/v1/completions", dependencies=json_only)
    async def completions(request: CompletionRequest) -> Response:
        def build() -> Job:
            node.resolve(request.model)  # vLLM checks the model first
            return node.job(request, "completion", completion_prompt(node, request))

        return await serve(node, build, request.model)

    @app.post("/v1/chat/completions", dependencies=json_only)
    async def chat(request: ChatRequest) -> Response:
        def build() -> Job:
            node.resolve(request.model)
            return node.job(request, "chat", chat_prompt(node, request))

        return await serve(node, build, request.model)


def _add_lora_routes(app: FastAPI, node: Node) -> None:
    json_only = [Depends(validate_json_request)]

    @app.post("/v1/load_lora_adapter", dependencies=json_only)
    async def load(request: LoadLoraRequest) -> Response:
        text = await load_lora(
            node, request.lora_name, request.lora_path, inplace=request.load_inplace
        )
        return Response(text, status_code=200)  # no content type, as vLLM sends it

    @app.post("/v1/unload_lora_adapter", dependencies=json_only)
    async def unload(request: UnloadLoraRequest) -> Response:
        return Response(await unload_lora(node, request.lora_name), status_code=200)

    add_adapter_routes(app, node)


def create_app(
    engine: Engine, *, api_key: str | None = None, allow_runtime_lora_updating: bool = False
) -> FastAPI:
    """The reference node for ``engine``; load/unload routes only when runtime updates are on."""
    app = FastAPI(
        title="adapterctl reference node", openapi_url=None, docs_url=None, redoc_url=None
    )
    node = Node(engine)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(HTTPException, http_exception_handler)
    app.add_exception_handler(ApiError, api_error_handler)
    for error in (ValueError, TypeError, OverflowError, NotImplementedError):
        app.add_exception_handler(error, unexpected_error_handler)
    _add_routes(app, node)
    add_ping_routes(app)
    if allow_runtime_lora_updating:
        logger.warning("LoRA dynamic loading & unloading is enabled in the API server.")
        _add_lora_routes(app, node)
    if api_key:
        app.add_middleware(BearerAuth, api_key=api_key)
    return app
