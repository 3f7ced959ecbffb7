"""What the contract cases send, and small calls they share (through the official client)."""

from __future__ import annotations

import uuid
from typing import Any

import openai
from openai.types import Completion
from openai.types.chat import ChatCompletionMessageParam

PROMPT = "The refund policy says"
CHAT: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Where is my parcel?"}]
SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


def fresh_name(prefix: str) -> str:
    """A name no earlier case (or run) has used."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def load_adapter(client: openai.OpenAI, name: str, path: str, **extra: Any) -> str:
    """``POST /v1/load_lora_adapter``; the plain-text answer."""
    body = {"lora_name": name, "lora_path": path, **extra}
    return client.post("/load_lora_adapter", cast_to=str, body=body)


def unload_adapter(client: openai.OpenAI, name: str) -> str:
    """``POST /v1/unload_lora_adapter``; the plain-text answer."""
    return client.post("/unload_lora_adapter", cast_to=str, body={"lora_name": name})


def greedy(client: openai.OpenAI, model: str, **extra: Any) -> Completion:
    """A short greedy completion of ``PROMPT``."""
    result: Completion = client.completions.create(
        model=model, prompt=PROMPT, max_tokens=8, temperature=0, **extra
    )
    return result


def error_of(exc: openai.APIStatusError) -> dict[str, Any]:
    """The ``error`` object of a failed call (the client unwraps vLLM's envelope)."""
    assert isinstance(exc.body, dict), exc.body
    return exc.body
