"""One generation job and its answers: vLLM's completion and chat bodies, or its SSE stream.

vLLM constrains decoding for structured outputs; this node checks the finished text instead
and reports the verdict in the ``x-adapterctl-structured-output`` header (``valid`` or
``invalid``, with a warning logged when invalid). A stream has already sent its headers, so
there the verdict is only logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import anyio.to_thread
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import iterate_in_threadpool

from adapterctl.serve.engine import Chunk, SamplingParams
from adapterctl.serve.errors import engine_error, error_body
from adapterctl.serve.metrics import RequestTracker
from adapterctl.serve.protocol import Constraint

logger = logging.getLogger("adapterctl.serve")
STRUCTURED_HEADER = "x-adapterctl-structured-output"


@dataclass(frozen=True)
class Job:
    """A validated inference request, ready for the engine."""

    kind: Literal["completion", "chat"]
    model: str
    lora: str | None
    prompt_ids: list[int]
    params: SamplingParams
    stream: bool
    include_usage: bool
    constraint: Constraint | None
    id: str
    created: int

    @property
    def object(self) -> str:
        """The OpenAI object type of a response (``.chunk`` for streamed chat)."""
        if self.kind == "completion":
            return "text_completion"
        return "chat.completion.chunk" if self.stream else "chat.completion"

    def envelope(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        """The fields every response and chunk share."""
        return {"id": self.id, "object": self.object, "created": self.created,
                "model": self.model, "choices": choices}  # fmt: skip

    def usage(self, completion_tokens: int) -> dict[str, Any]:
        """vLLM's ``UsageInfo``."""
        prompt = len(self.prompt_ids)
        return {"prompt_tokens": prompt, "total_tokens": prompt + completion_tokens,
                "completion_tokens": completion_tokens, "prompt_tokens_details": None}  # fmt: skip

    def choice(
        self, text: str, finish_reason: str | None, *, first: bool = False
    ) -> dict[str, Any]:
        """One choice of a response (or a chunk's delta, when streaming)."""
        end = {"logprobs": None, "finish_reason": finish_reason, "stop_reason": None}
        if self.kind == "completion":
            return {"index": 0, "text": text, **end}
        if self.stream:
            delta = {"role": "assistant", "content": ""} if first else {"content": text}
            return {"index": 0, "delta": delta, **end}
        message = {"role": "assistant", "content": text, "refusal": None, "annotations": None,
                   "audio": None, "function_call": None, "reasoning": None}  # fmt: skip
        return {"index": 0, "message": message, **end}


def _sse(document: dict[str, Any]) -> str:
    return f"data: {json.dumps(document, separators=(',', ':'))}\n\n"


async def _chunks(generator: Iterator[Chunk], tracker: RequestTracker) -> AsyncIterator[Chunk]:
    """The engine's chunks, each produced in a worker thread; the generator is always closed."""
    try:
        async for chunk in iterate_in_threadpool(generator):
            tracker.running()
            yield chunk
    finally:
        close = getattr(generator, "close", None)
        if callable(close):
            await anyio.to_thread.run_sync(close)


def _check_structured(job: Job, text: str) -> str | None:
    if job.constraint is None:
        return None
    problem = job.constraint.violation(text)
    if problem is not None:
        logger.warning("%s %s: structured output not satisfied (%s)", job.id, job.model, problem)
    return "valid" if problem is None else "invalid"


async def complete(job: Job, generator: Iterator[Chunk], tracker: RequestTracker) -> Response:
    """The whole answer as one JSON body, once the engine has finished."""
    texts, tokens, finish = [], 0, None
    try:
        async for chunk in _chunks(generator, tracker):
            texts.append(chunk.text)
            tokens += len(chunk.token_ids)
            finish = chunk.finish_reason or finish
    except Exception as exc:
        tracker.finish(error=True)
        return engine_error(exc).response()
    text = "".join(texts)
    body = {**job.envelope([job.choice(text, finish)]), "usage": job.usage(tokens)}
    verdict = _check_structured(job, text)
    tracker.finish(error=False)
    return JSONResponse(body, headers={STRUCTURED_HEADER: verdict} if verdict else None)


async def stream(
    job: Job, generator: Iterator[Chunk], tracker: RequestTracker
) -> AsyncIterator[str]:
    """vLLM's SSE: ``data: {chunk}`` events (chat opens with the role), then ``[DONE]``."""
    texts, tokens, failed = [], 0, False
    try:
        if job.kind == "chat":
            yield _sse(job.envelope([job.choice("", None, first=True)]))
        async for chunk in _chunks(generator, tracker):
            texts.append(chunk.text)
            tokens += len(chunk.token_ids)
            yield _sse(job.envelope([job.choice(chunk.text, chunk.finish_reason)]))
        _check_structured(job, "".join(texts))
        if job.include_usage:
            yield _sse({**job.envelope([]), "usage": job.usage(tokens)})
    except Exception as exc:
        failed = True
        yield _sse(error_body(engine_error(exc)))
    finally:
        tracker.finish(error=failed)
    yield "data: [DONE]\n\n"
