"""The official ``openai`` client against the reference node and, when configured, a real
vLLM: runtime LoRA updates, vLLM's error shapes, the metrics, and (reference node only) the
app's options and the CLI's vLLM-compatible parsing.

Expected messages and statuses are vLLM's (``vllm/entrypoints/openai/models/serving.py``,
``server_utils.py``, ``vllm/exceptions.py``); a case the reference node alone can answer
skips for vLLM with the reason. Models, completions and chat are in
``test_openai_generation.py``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import openai
import pytest
from fastapi.testclient import TestClient
from openai.types import Completion

from adapterctl.cli.serve import parse_lora_module, runtime_lora_updating
from adapterctl.errors import UsageError
from adapterctl.serve.api import create_app
from adapterctl.serve.engine import Engine
from examples.kit import AdapterSpec, make_adapter
from tests.contract.calls import (
    CHAT,
    PROMPT,
    error_of,
    fresh_name,
    greedy,
    load_adapter,
    unload_adapter,
)
from tests.contract.conftest import Target

# --- LoRA adapters --------------------------------------------------------------------------


def test_each_loaded_adapter_serves_by_name(
    target: Target, client: openai.OpenAI, loaded: list[str]
) -> None:
    for name in loaded:
        completion = greedy(client, name)
        chat = client.chat.completions.create(
            model=name, messages=CHAT, max_tokens=4, temperature=0
        )
        assert completion.model == name
        assert chat.model == name


def test_loading_a_name_twice_is_400(
    target: Target, client: openai.OpenAI, loaded: list[str]
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        load_adapter(client, loaded[0], target.adapters[0])
    assert error_of(caught.value) == {
        "message": f"The lora adapter '{loaded[0]}' has already been loaded. If you want to "
        "load the adapter in place, set 'load_inplace' to True.",
        "type": "InvalidUserInput",
        "param": None,
        "code": 400,
    }


def test_unloading_an_unknown_name_is_404(client: openai.OpenAI) -> None:
    name = fresh_name("never-loaded")
    with pytest.raises(openai.NotFoundError) as caught:
        unload_adapter(client, name)
    assert error_of(caught.value) == {
        "message": f"The lora adapter '{name}' cannot be found.",
        "type": "NotFoundError",
        "param": None,
        "code": 404,
    }


def test_loading_a_missing_path_is_404(target: Target, client: openai.OpenAI) -> None:
    name = fresh_name("missing")
    with pytest.raises(openai.NotFoundError) as caught:
        load_adapter(client, name, target.missing_adapter)
    assert error_of(caught.value) == {  # vLLM writes "<path>", never the path itself
        "message": f"Loading lora {name} failed: No adapter found for <path>",
        "type": "NotFoundError",
        "param": None,
        "code": 404,
    }
    assert name not in {card.id for card in client.models.list()}


def test_rank_above_max_lora_rank_is_500(
    target: Target, client: openai.OpenAI, tmp_path: Path
) -> None:
    """vLLM refuses it in the worker: 500 InternalServerError, not the 400 one would guess."""
    if target.base_spec is None or target.max_lora_rank is None:
        pytest.skip("needs the server's base spec and --max-lora-rank (a kit model)")
    rank = target.max_lora_rank * 2
    spec = AdapterSpec(rank=rank, alpha=2 * rank)
    make_adapter(tmp_path / "too-wide", target.base_spec, spec)
    name = fresh_name("too-wide")
    with pytest.raises(openai.InternalServerError) as caught:
        load_adapter(client, name, str(tmp_path / "too-wide"))
    assert error_of(caught.value) == {
        "message": "Call to add_lora method failed: Worker failed with error 'LoRA rank "
        f"{rank} is greater than max_lora_rank {target.max_lora_rank}.', please check the "
        "stack trace above for the root cause",
        "type": "InternalServerError",
        "param": None,
        "code": 500,
    }
    assert name not in {card.id for card in client.models.list()}


def test_requests_are_served_while_an_adapter_loads(target: Target) -> None:
    target.need_adapters(1)
    name = fresh_name("concurrent")

    async def run() -> list[object]:
        async with target.async_client() as client:
            load = client.post(
                "/load_lora_adapter",
                cast_to=str,
                body={"lora_name": name, "lora_path": target.adapters[0]},
            )
            others = [
                client.completions.create(
                    model=target.base_model, prompt=PROMPT, max_tokens=4, temperature=0
                )
                for _ in range(3)
            ]
            results = await asyncio.gather(load, client.models.list(), *others)
            await client.post("/unload_lora_adapter", cast_to=str, body={"lora_name": name})
            return list(results)

    results = asyncio.run(run())
    assert results[0] == f"Success: LoRA adapter '{name}' added successfully."
    assert all(isinstance(r, Completion) for r in results[2:])


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["completions", "chat"])
def test_unknown_model_is_404(route: str, target: Target, client: openai.OpenAI) -> None:
    def ask() -> object:
        if route == "completions":
            return client.completions.create(model="no-such-model", prompt=PROMPT, max_tokens=2)
        return client.chat.completions.create(model="no-such-model", messages=CHAT, max_tokens=2)

    with pytest.raises(openai.NotFoundError) as caught:
        ask()
    assert error_of(caught.value) == {
        "message": f"The model `no-such-model` does not exist. Valid aliases: {target.base_model}.",
        "type": "NotFoundError",
        "param": "model",
        "code": 404,
    }


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b'{"model": "x", "prompt": ', "body.25"),  # malformed JSON: loc is the offset
        (b"{}", "body.prompt"),  # missing field
        (b'{"prompt": "hi", "max_tokens": "many"}', "body.max_tokens"),  # wrong type
    ],
    ids=["malformed-json", "missing-field", "wrong-type"],
)
def test_invalid_bodies_are_400(target: Target, body: bytes, param: str) -> None:
    headers = {"Content-Type": "application/json"}
    with target.http() as http:
        response = http.post("/v1/completions", content=body, headers=headers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == 400
    assert error["type"] in ("Bad Request", "BadRequestError")  # newer / older vLLM
    if target.is_node:
        assert (error["type"], error["param"]) == ("Bad Request", param)
        assert error["message"].startswith("1 validation error:\n  {")


def test_a_body_that_is_not_json_is_400(target: Target) -> None:
    with target.http() as http:
        response = http.post("/v1/completions", content=b"prompt=hi")
    assert response.status_code == 400
    assert "Only 'application/json' is allowed" in response.json()["error"]["message"]


def test_missing_or_wrong_api_key_is_401(target: Target) -> None:
    if not target.api_key:
        pytest.skip(f"the server has no API key (${'ADAPTERCTL_VLLM_API_KEY'})")
    with target.http(authorized=False) as http:
        missing = http.get("/v1/models")
        wrong = http.get("/v1/models", headers={"Authorization": "Bearer wrong"})
        health = http.get("/health")
    assert (missing.status_code, missing.json()) == (401, {"error": "Unauthorized"})
    assert (wrong.status_code, wrong.json()) == (401, {"error": "Unauthorized"})
    assert health.status_code == 200
    with (
        openai.OpenAI(base_url=f"{target.root_url}/v1", api_key="wrong", max_retries=0) as bad,
        pytest.raises(openai.AuthenticationError) as caught,
    ):
        bad.models.list()
    assert caught.value.body == "Unauthorized"


def test_health_is_200(target: Target) -> None:
    with target.http(authorized=False) as http:
        response = http.get("/health")
    assert response.status_code == 200
    if target.is_node:
        assert response.content == b""


# --- metrics --------------------------------------------------------------------------------


def test_metrics_export_lora_requests_info(target: Target, loaded: list[str]) -> None:
    with target.client() as client:
        greedy(client, loaded[0])
    with target.http() as http:
        text = http.get("/metrics").text
    assert "# TYPE vllm:lora_requests_info gauge" in text
    assert 'vllm:lora_requests_info{max_lora="' in text
    assert "running_lora_adapters=" in text
    assert "waiting_lora_adapters=" in text


def test_metrics_count_requests_by_model(
    target: Target, client: openai.OpenAI, loaded: list[str]
) -> None:
    target.need_node("adapterctl:* metrics are the reference node's own")
    greedy(client, target.base_model)
    greedy(client, loaded[0])
    with pytest.raises(openai.NotFoundError):
        greedy(client, "no-such-model")
    with target.http() as http:
        text = http.get("/metrics").text
    for model in (target.base_model, loaded[0]):
        assert f'adapterctl:requests_total{{model="{model}"}}' in text
        assert f'adapterctl:request_latency_seconds_count{{model="{model}"}}' in text
    assert 'adapterctl:request_errors_total{model="unknown"}' in text


# --- reference node only: app options and the CLI's vLLM-compatible parsing ----------------


def test_runtime_updates_off_hides_the_lora_routes(node_target: Target) -> None:
    engine = Engine(Path(_base_path(node_target)), served_model_name="quiet")
    with TestClient(create_app(engine)) as http:
        response = http.post("/v1/load_lora_adapter", json={"lora_name": "a", "lora_path": "/x"})
        models = http.get("/v1/models")
    assert response.status_code == 404
    assert models.status_code == 200  # no API key: /v1 is open


def _base_path(target: Target) -> str:
    assert target.base_root is not None
    return target.base_root


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("sql=/srv/sql", ("sql", "/srv/sql", None)),
        ('{"name": "b", "path": "/p", "base_model_name": "m"}', ("b", "/p", "m")),
    ],
)
def test_cli_parses_both_lora_module_forms(item: str, expected: tuple[object, ...]) -> None:
    module = parse_lora_module(item)
    assert (module.name, module.path, module.base_model_name) == expected


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("{not json", "Invalid JSON format for --lora-modules: {not json"),
        ('{"name": "a"}', 'Invalid fields for --lora-modules: {"name": "a"} - '),
    ],
)
def test_cli_rejects_bad_lora_modules(item: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_lora_module(item)
    assert caught.value.message.startswith(message)


@pytest.mark.parametrize(
    ("value", "enabled"),
    [("True", True), ("1", True), (" true ", True), ("0", False), ("yes", False), (None, False)],
)
def test_cli_reads_the_runtime_lora_switch_like_vllm(value: str | None, enabled: bool) -> None:
    environ = {} if value is None else {"VLLM_ALLOW_RUNTIME_LORA_UPDATING": value}
    assert runtime_lora_updating(environ) is enabled
