"""SageMaker's routes on the reference node, as vLLM 0.32 serves them through
``model_hosting_container_standards`` (``sagemaker/lora/``, ``sagemaker/__init__.py``).

``GET``/``POST /ping`` answer like ``/health`` (vLLM always serves them). With runtime LoRA
updates on, vLLM registers its load and unload handlers a second time, behind SageMaker's
request and response transforms (``vllm/entrypoints/serve/lora/api_router.py``):

- ``POST /adapters`` with ``{"name", "src"}`` (``preload`` and ``pin`` accepted, ignored)
  loads ``src`` under ``name`` exactly like ``/v1/load_lora_adapter`` with ``load_inplace``
  false (the transform never passes it on);
- ``DELETE /adapters/{adapter_name}`` unloads like ``/v1/unload_lora_adapter``.

Success is a 200 with the text ``Adapter <name> registered`` (or ``unregistered``), the
``X-Amzn-SageMaker-Adapter-Alias`` header's value in place of the name when one is sent. A
failure is the vLLM route's own error answer, unchanged. A body that is not JSON is read from
the query string instead; one that fails validation is a 400 ``Bad Request`` whose message
is pydantic's error list as JSON. Neither route checks the content type, and neither is under
``/v1``, so neither needs the API key (vLLM's ``AuthenticationMiddleware`` guards ``/v1``,
``/v2``, ``/inference`` and ``/cohere`` only).
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError, ValidationInfo, field_validator

from adapterctl.serve.node import Node, load_lora, unload_lora

logger = logging.getLogger("adapterctl.serve")
ALIAS_HEADER = "X-Amzn-SageMaker-Adapter-Alias"


class SageMakerRegisterLoRAAdapterRequest(BaseModel):
    """``sagemaker/lora/models/request.py``; the class name shows in validation messages."""

    name: str
    src: str
    preload: bool = True
    pin: bool = False

    @field_validator("name", "src", mode="before")
    @classmethod
    def validate_not_empty(cls, value: Any, info: ValidationInfo) -> Any:
        if value == "":
            raise ValueError(f"The parameter {info.field_name} cannot be an empty string")
        return value


async def _register_request(request: Request) -> SageMakerRegisterLoRAAdapterRequest:
    """``RegisterLoRAApiTransform.transform_request``: the JSON body (else the query
    string), validated; a 400 ``HTTPException`` carrying pydantic's errors as JSON."""
    data: Any
    try:
        data = await request.json()
    except json.JSONDecodeError:
        logger.warning("No JSON body in the request. Using query parameters.")
        data = request.query_params
    try:
        return SageMakerRegisterLoRAAdapterRequest.model_validate(data)
    except ValidationError as error:
        detail = error.json(include_url=False)
        raise HTTPException(HTTPStatus.BAD_REQUEST.value, detail=detail) from None


def _named(request: Request, name: str) -> str:
    """The alias header's value when sent (and not empty), else the adapter's name."""
    return request.headers.get(ALIAS_HEADER) or name


def add_ping_routes(app: FastAPI) -> None:
    """``/ping`` (GET and POST): SageMaker's health check, an empty 200 like ``/health``."""

    @app.api_route("/ping", methods=["GET", "POST"])
    async def ping() -> Response:
        return Response(status_code=200)


def add_adapter_routes(app: FastAPI, node: Node) -> None:
    """``POST /adapters`` and ``DELETE /adapters/{adapter_name}`` (runtime updates only)."""

    @app.post("/adapters")
    async def register(request: Request) -> Response:
        body = await _register_request(request)
        await load_lora(node, body.name, body.src)
        return Response(f"Adapter {_named(request, body.name)} registered", status_code=200)

    @app.delete("/adapters/{adapter_name}")
    async def unregister(adapter_name: str, request: Request) -> Response:
        await unload_lora(node, adapter_name)
        return Response(f"Adapter {_named(request, adapter_name)} unregistered", status_code=200)
