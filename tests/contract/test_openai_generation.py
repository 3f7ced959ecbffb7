"""The official ``openai`` client (sync and async) against the reference node and, when
configured, a real vLLM: the model list, completions and chat, streamed or not.

Expected shapes are vLLM's (``vllm/entrypoints/openai``); a case the reference node alone
can answer skips for vLLM with the reason. LoRA updates, errors and metrics are in
``test_openai_lora_errors.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from tests.contract.calls import CHAT, PROMPT, SCHEMA, greedy
from tests.contract.conftest import Target

# --- models ---------------------------------------------------------------------------------


def test_models_lists_the_base_card(target: Target, client: openai.OpenAI) -> None:
    cards = {card.id: card.model_dump() for card in client.models.list()}
    base = cards[target.base_model]
    assert base["object"] == "model"
    assert base["owned_by"] == "vllm"
    assert base["parent"] is None
    assert isinstance(base["max_model_len"], int)
    assert base["permission"][0]["object"] == "model_permission"
    if target.base_root is not None:
        assert base["root"] == target.base_root


def test_models_list_loaded_adapters(
    target: Target, client: openai.OpenAI, loaded: list[str]
) -> None:
    cards = {card.id: card.model_dump() for card in client.models.list()}
    for name, path in zip(loaded, target.adapters, strict=False):
        assert cards[name]["root"] == path
        assert cards[name]["parent"] == target.base_model


# --- completions ----------------------------------------------------------------------------


def test_completion_shape_and_greedy_determinism(target: Target, client: openai.OpenAI) -> None:
    first, second = greedy(client, target.base_model), greedy(client, target.base_model)
    assert first.id.startswith("cmpl-")
    assert first.object == "text_completion"
    assert first.model == target.base_model
    assert first.choices[0].text == second.choices[0].text
    assert first.usage is not None
    usage = first.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert 0 < usage.completion_tokens <= 8


def test_max_tokens_ends_with_length(target: Target, client: openai.OpenAI) -> None:
    result = client.completions.create(
        model=target.base_model, prompt=PROMPT, max_tokens=3, temperature=0
    )
    assert result.choices[0].finish_reason == "length"
    assert result.usage is not None
    assert result.usage.completion_tokens == 3


def test_stop_string_ends_with_stop(target: Target, client: openai.OpenAI) -> None:
    full = greedy(client, target.base_model).choices[0].text
    stop = full[len(full) // 2 :][:2]
    assert stop.strip(), f"greedy text too short to pick a stop string from: {full!r}"
    for value in (stop, [stop, "\u2603"]):
        result = greedy(client, target.base_model, stop=value)
        assert result.choices[0].finish_reason == "stop"
        assert result.choices[0].text == full[: full.index(stop)]


def test_seed_reproduces_sampling(target: Target, client: openai.OpenAI) -> None:
    def sample() -> str:
        result = client.completions.create(
            model=target.base_model, prompt=PROMPT, max_tokens=8, temperature=1.0, seed=1234
        )
        return result.choices[0].text

    assert sample() == sample()


def test_completion_stream_matches_the_full_answer(target: Target, client: openai.OpenAI) -> None:
    full = greedy(client, target.base_model)
    stream = client.completions.create(
        model=target.base_model,
        prompt=PROMPT,
        max_tokens=8,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    texts = [c.choices[0].text for c in chunks if c.choices]
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert "".join(texts) == full.choices[0].text
    assert finishes[-1] == full.choices[0].finish_reason
    assert all(reason is None for reason in finishes[:-1])
    assert chunks[-1].choices == []  # the usage chunk (stream_options.include_usage)
    assert chunks[-1].usage == full.usage


def test_prompt_as_a_list_of_one_string(target: Target, client: openai.OpenAI) -> None:
    result = client.completions.create(
        model=target.base_model, prompt=[PROMPT], max_tokens=8, temperature=0
    )
    assert result.choices[0].text == greedy(client, target.base_model).choices[0].text


# --- chat -----------------------------------------------------------------------------------


def test_chat_shape_and_greedy_determinism(target: Target, client: openai.OpenAI) -> None:
    def ask() -> ChatCompletion:
        return client.chat.completions.create(
            model=target.base_model, messages=CHAT, max_completion_tokens=6, temperature=0
        )

    first, second = ask(), ask()
    assert first.id.startswith("chatcmpl-")
    assert first.object == "chat.completion"
    assert first.choices[0].message.role == "assistant"
    assert first.choices[0].message.content == second.choices[0].message.content
    assert first.choices[0].finish_reason in ("length", "stop")
    assert first.usage is not None
    assert first.usage.completion_tokens <= 6


def test_chat_max_tokens_ends_with_length(target: Target, client: openai.OpenAI) -> None:
    result = client.chat.completions.create(
        model=target.base_model, messages=CHAT, max_tokens=2, temperature=0
    )
    assert result.choices[0].finish_reason == "length"


def test_chat_stream_async(target: Target) -> None:
    async def run() -> tuple[str, list[Any]]:
        async with target.async_client() as client:
            full = await client.chat.completions.create(
                model=target.base_model, messages=CHAT, max_tokens=6, temperature=0
            )
            stream = await client.chat.completions.create(
                model=target.base_model, messages=CHAT, max_tokens=6, temperature=0, stream=True
            )
            return full.choices[0].message.content or "", [chunk async for chunk in stream]

    full, chunks = asyncio.run(run())
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == full
    assert chunks[-1].choices[0].finish_reason in ("length", "stop")


def test_response_format_json_schema_is_accepted(target: Target, client: openai.OpenAI) -> None:
    response_format: Any = {"type": "json_schema", "json_schema": {"name": "a", "schema": SCHEMA}}
    raw = client.chat.completions.with_raw_response.create(
        model=target.base_model,
        messages=CHAT,
        max_tokens=6,
        temperature=0,
        response_format=response_format,
    )
    assert raw.status_code == 200
    assert raw.parse().choices[0].message.role == "assistant"
    if target.is_node:  # the node cannot constrain decoding: it reports the check instead
        assert raw.headers["x-adapterctl-structured-output"] in ("valid", "invalid")


def test_structured_outputs_extra_body_is_accepted(target: Target, client: openai.OpenAI) -> None:
    result = greedy(client, target.base_model, extra_body={"structured_outputs": {"json": SCHEMA}})
    assert result.choices[0].finish_reason in ("length", "stop")
