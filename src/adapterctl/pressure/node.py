"""The node as the replay sees it: it must answer and serve every model the rounds ask for;
after that, a failed request is described in a few stable words, never raised."""

from __future__ import annotations

from collections.abc import Sequence

import openai
from openai import AsyncOpenAI

from adapterctl import nodeclient
from adapterctl.nodeclient import NodeError, cause


class PressureError(NodeError):
    """The replay cannot start: the node is unreachable or does not serve a model."""


async def check_node(client: AsyncOpenAI, url: str, models: Sequence[str]) -> None:
    """Raise :class:`PressureError` unless the node answers and lists every model."""
    await nodeclient.check_node(
        client,
        url,
        models,
        error=PressureError,
        missing_hint="load the revisions on the node first (POST /v1/load_lora_adapter), "
        "or name the base model with --base-model",
    )


def describe(exc: openai.APIError) -> str:
    """A short, stable description of a failed request (kept in the evidence)."""
    if isinstance(exc, openai.APITimeoutError):
        return "timeout: no answer in time"
    if isinstance(exc, openai.APIStatusError):
        body = exc.body
        said = body.get("message") if isinstance(body, dict) else None
        return f"HTTP {exc.status_code}: {said if isinstance(said, str) else exc.message}"[:300]
    if isinstance(exc, openai.APIConnectionError):
        return f"connection error: {cause(exc)}"
    return f"error in the stream: {exc.message}"
