"""What the routes call: the engine and its metrics, requests turned into jobs and served,
the model list, and runtime LoRA updates (the engine checks and words its errors like vLLM).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any, Literal

import anyio.to_thread
from fastapi.responses import Response, StreamingResponse
from jinja2 import TemplateError

from adapterctl.serve.engine import Engine, LoraError, SamplingError, SamplingParams
from adapterctl.serve.errors import ApiError, engine_error
from adapterctl.serve.metrics import NodeMetrics
from adapterctl.serve.protocol import (
    ChatRequest,
    CompletionRequest,
    GenerationRequest,
    constraint_for,
)
from adapterctl.serve.responses import Job, complete, stream

logger = logging.getLogger("adapterctl.serve")


class Node:
    """The engine and its metrics, behind the routes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.metrics = NodeMetrics(engine.max_loras)

    def resolve(self, model: str | None) -> tuple[str, str | None]:
        """(served name, LoRA name or None); vLLM's ``_check_model`` 404 for unknown names,
        which lists the base's served names only, even when adapters are loaded."""
        base = self.engine.base_name
        if not model or model == base:
            return base, None
        if model in self.engine.loras():
            return model, model
        message = f"The model `{model}` does not exist. Valid aliases: {base}."
        raise ApiError(message, "NotFoundError", 404, "model")

    def job(
        self, request: GenerationRequest, kind: Literal["completion", "chat"], ids: list[int]
    ) -> Job:
        """Check the request against the model and build the job."""
        model, lora = self.resolve(request.model)
        if request.n != 1:
            raise ApiError("n > 1 is not supported by the reference node.", param="n")
        room = self.engine.max_model_len - len(ids)
        if room < 0:
            raise ApiError(
                f"Input length ({len(ids)}) exceeds model's maximum context length "
                f"({self.engine.max_model_len})."
            )
        options = request.stream_options
        usage = bool(request.stream and options is not None and options.include_usage)
        prefix = "cmpl" if kind == "completion" else "chatcmpl"
        params = _sampling(request, kind, room, self.engine.max_model_len)
        return Job(kind, model, lora, ids, params, bool(request.stream),
                   usage, constraint_for(request), f"{prefix}-{uuid.uuid4().hex}",
                   int(time.time()))  # fmt: skip


def _sampling(request: GenerationRequest, kind: str, room: int, length: int) -> SamplingParams:
    """vLLM's defaults (16 tokens for completions, the rest of the context for chat), its
    refusal of more output tokens than the model's length, and its clamp to the room left."""
    param, requested = _max_tokens(request)
    if requested is not None and requested > length:
        raise ApiError(
            f"{param}={requested} cannot be greater than max_model_len={length}. Please "
            f"request fewer output tokens. (parameter={param}, value={requested})",
            param=param,
        )
    if requested is None:
        requested = 16 if kind == "completion" else room
    stop = (request.stop,) if isinstance(request.stop, str) else tuple(request.stop or ())
    temperature = 1.0 if request.temperature is None else request.temperature
    top_p = 1.0 if request.top_p is None else request.top_p
    try:  # SamplingParams checks its ranges with vLLM's messages
        return SamplingParams(min(requested, room), temperature, top_p, request.seed, stop)
    except SamplingError as exc:
        raise ApiError(str(exc), param=exc.parameter) from None


def _max_tokens(request: GenerationRequest) -> tuple[str, int | None]:
    """The output-token limit a request names, and the field it came from (a chat's
    ``max_completion_tokens`` wins over its ``max_tokens``, as in vLLM)."""
    if isinstance(request, ChatRequest) and request.max_completion_tokens is not None:
        return "max_completion_tokens", request.max_completion_tokens
    return "max_tokens", request.max_tokens


async def serve(node: Node, build: Callable[[], Job], requested: str | None) -> Response:
    """Track, validate and start one inference request (errors before the stream are HTTP)."""
    try:
        job = build()
    except ApiError as error:
        node.metrics.track(_label(node, requested), None).finish(error=True)
        return error.response()
    tracker = node.metrics.track(job.model, job.lora)
    try:
        generator = await anyio.to_thread.run_sync(
            node.engine.generate, job.prompt_ids, job.params, job.lora
        )
    except Exception as exc:
        tracker.finish(error=True)
        return engine_error(exc).response()
    if job.stream:
        return StreamingResponse(stream(job, generator, tracker), media_type="text/event-stream")
    return await complete(job, generator, tracker)


def _label(node: Node, requested: str | None) -> str:
    """The metrics label of a request that failed validation (unknown names are pooled)."""
    if not requested:
        return node.engine.base_name
    served = requested == node.engine.base_name or requested in node.engine.loras()
    return requested if served else "unknown"


def chat_prompt(node: Node, request: ChatRequest) -> list[int]:
    """The base model's chat template, for LoRA requests too (as vLLM does)."""
    messages = []
    for message in request.messages:
        content = message.content
        if isinstance(content, list):
            if any(part.type != "text" for part in content):
                raise ApiError("Only text content parts are supported.", param="messages")
            content = "".join(part.text or "" for part in content)
        messages.append({"role": message.role, "content": content or ""})
    try:
        text = node.engine.render_chat(messages, request.add_generation_prompt)
    except (ValueError, TypeError, TemplateError) as exc:
        raise ApiError(str(exc)) from None
    return node.engine.encode(text, add_special_tokens=request.add_special_tokens)


def completion_prompt(node: Node, request: CompletionRequest) -> list[int]:
    """The one prompt of a completion request, encoded."""
    prompts = [request.prompt] if isinstance(request.prompt, str) else request.prompt
    if len(prompts) != 1 or not prompts[0]:
        raise ApiError("Exactly one non-empty prompt is supported.", param="prompt")
    return node.engine.encode(prompts[0], add_special_tokens=request.add_special_tokens)


def model_list(node: Node) -> dict[str, Any]:
    """vLLM's ``ModelList``: the base card, then one card per loaded adapter."""
    engine, now = node.engine, int(time.time())

    def card(model_id: str, root: str, parent: str | None, length: int | None) -> dict[str, Any]:
        permission = {"id": f"modelperm-{uuid.uuid4().hex}", "object": "model_permission",
                      "created": now, "allow_create_engine": False, "allow_sampling": True,
                      "allow_logprobs": True, "allow_search_indices": False, "allow_view": True,
                      "allow_fine_tuning": False, "organization": "*", "group": None,
                      "is_blocking": False}  # fmt: skip
        return {"id": model_id, "object": "model", "created": now, "owned_by": "vllm",
                "root": root, "parent": parent, "max_model_len": length,
                "permission": [permission]}  # fmt: skip

    cards = [card(engine.base_name, engine.base_path, None, engine.max_model_len)]
    cards += [card(name, path, engine.base_name, None) for name, path in engine.loras().items()]
    return {"object": "list", "data": cards}


# --- runtime LoRA updates (the engine checks and words its errors like vLLM) ----------------


async def load_lora(node: Node, name: str, path: str, *, inplace: bool = False) -> str:
    """vLLM's ``load_lora_adapter``, in a worker thread so other requests keep being served;
    the success text, or :class:`ApiError` with vLLM's answer."""
    await _in_thread(partial(node.engine.load_lora, name, path, inplace=inplace))
    logger.info("Loaded new LoRA adapter: name '%s', path '%s'", name, path)
    return f"Success: LoRA adapter '{name}' added successfully."


async def unload_lora(node: Node, name: str) -> str:
    """vLLM's ``unload_lora_adapter``; in-flight requests keep the weights until they end."""
    await _in_thread(partial(node.engine.unload_lora, name))
    logger.info("Removed LoRA adapter: name '%s'", name)
    return f"Success: LoRA adapter '{name}' removed successfully."


async def _in_thread(action: Callable[[], None]) -> None:
    try:
        await anyio.to_thread.run_sync(action)
    except LoraError as exc:
        raise ApiError(exc.message, exc.type_, exc.status, exc.param) from None
    except Exception as exc:
        logger.error("LoRA update failed", exc_info=exc)
        raise ApiError(str(exc), "InternalServerError", 500) from None
