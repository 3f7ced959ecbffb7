"""Bad requests to the reference node's HTTP surface: each is a 4xx, never a 5xx or a dropped
connection, with vLLM's answer (``{"error": {message, type, param, code}}``, its messages).

One node serves the whole module (tiny kit model, runtime LoRA updates on, an
``--allowed-lora-dir``), on loopback; requests go through the official ``openai`` client or,
for bodies that client would never send, plain HTTP. The messages are those of the vLLM in
``.venv-vllm`` (0.32: ``sampling_params.py``, ``renderers/params.py``, ``protocol.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest

from adapterctl.serve.api import create_app
from adapterctl.serve.engine import Engine
from tests.contract.calls import CHAT, PROMPT, error_of, fresh_name, load_adapter
from tests.contract.conftest import BASE_NAME, build_models
from tests.refnode import serving_app

JSON = {"Content-Type": "application/json"}
POST_ROUTES = (
    "/v1/completions",
    "/v1/chat/completions",
    "/v1/load_lora_adapter",
    "/v1/unload_lora_adapter",
)


class Node:
    """The module's node: its URL, its allowed LoRA directory, the base model's folder."""

    def __init__(self, url: str, allowed: Path, base: Path) -> None:
        self.url, self.allowed, self.base = url, allowed, base

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key="none", max_retries=0)

    def post(self, route: str, body: bytes) -> httpx2.Response:
        with httpx2.Client(base_url=self.url, timeout=60) as http:
            return http.post(route, content=body, headers=JSON)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    root = tmp_path_factory.mktemp("bad-requests")
    base, adapters = build_models(root)
    allowed = adapters[0].parent
    engine = Engine(base, served_model_name=BASE_NAME, max_loras=2, allowed_lora_dir=allowed)
    app = create_app(engine, allow_runtime_lora_updating=True)
    with serving_app(app) as url:
        yield Node(url, allowed.resolve(), base)


@pytest.fixture
def client(node: Node) -> Iterator[openai.OpenAI]:
    with node.client() as sync_client:
        yield sync_client


def bad_request(message: str, param: str | None, type_: str = "BadRequestError") -> dict[str, Any]:
    return {"message": message, "type": type_, "param": param, "code": 400}


def validation(param: str, *errors: str) -> dict[str, Any]:
    """FastAPI's validation error as vLLM answers it (400 "Bad Request")."""
    label = "error" if len(errors) == 1 else "errors"
    lines = "\n".join(f"  {error}" for error in errors)
    return bad_request(f"{len(errors)} validation {label}:\n{lines}", param, "Bad Request")


# --- bodies that are not JSON, or not the right JSON ----------------------------------------


@pytest.mark.parametrize("route", POST_ROUTES)
@pytest.mark.parametrize(
    ("body", "param", "error"),
    [
        (b'{"model": ', "body.10", "{'type': 'json_invalid', 'loc': 'body.10', 'msg': 'JSON "
         "decode error', 'input': '<dict of 0 items>', 'ctx': {'error': 'Expecting value'}}"),
        (b"\xff\xfe{}", "body.0", "{'type': 'json_invalid', 'loc': 'body.0', 'msg': 'JSON "
         "decode error', 'input': '<dict of 0 items>', 'ctx': {'error': 'Expecting value'}}"),
        (b"[1, 2]", "body", "{'type': 'model_attributes_type', 'loc': 'body', 'msg': 'Input "
         "should be a valid dictionary or object to extract fields from', 'input': '<list of 2 "
         "items>'}"),
        (b"null", "body", "{'type': 'model_attributes_type', 'loc': 'body', 'msg': 'Input "
         "should be a valid dictionary or object to extract fields from', 'input': 'None'}"),
        (b"", "body", "{'type': 'missing', 'loc': 'body', 'msg': 'Field required', 'input': "
         "'None'}"),
    ],
    ids=["truncated", "not-utf8", "array", "null", "empty"],
)  # fmt: skip
def test_a_body_that_is_no_json_object_is_400(
    node: Node, route: str, body: bytes, param: str, error: str
) -> None:
    response = node.post(route, body)
    assert response.status_code == 400
    assert response.json() == {"error": validation(param, error)}


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b'{"prompt": "hi", "max_tokens": 1' + b"0" * 5000 + b"}"],
    ids=["nested-100000-deep", "number-of-5001-digits"],
)
def test_json_python_cannot_parse_is_400_as_vllm_answers_it(node: Node, body: bytes) -> None:
    """FastAPI's own 400 (json.loads raises RecursionError or ValueError, not a decode error);
    vLLM answers these with the same body: its handler is for FastAPI's HTTPException, and
    FastAPI raises Starlette's here."""
    response = node.post("/v1/completions", body)
    assert (response.status_code, response.json()) == (
        400,
        {"detail": "There was an error parsing the body"},
    )


# --- missing fields and wrong types ---------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "body", "param", "error"),
    [
        ("/v1/completions", b'{"model": "tiny-llama"}', "body.prompt",
         "{'type': 'missing', 'loc': 'body.prompt', 'msg': 'Field required', 'input': '<dict "
         "of 1 items>'}"),
        ("/v1/chat/completions", b'{"model": "tiny-llama"}', "body.messages",
         "{'type': 'missing', 'loc': 'body.messages', 'msg': 'Field required', 'input': '<dict "
         "of 1 items>'}"),
        ("/v1/load_lora_adapter", b'{"lora_name": "a"}', "body.lora_path",
         "{'type': 'missing', 'loc': 'body.lora_path', 'msg': 'Field required', 'input': '<dict "
         "of 1 items>'}"),
        ("/v1/unload_lora_adapter", b"{}", "body.lora_name",
         "{'type': 'missing', 'loc': 'body.lora_name', 'msg': 'Field required', 'input': '<dict "
         "of 0 items>'}"),
        ("/v1/completions", b'{"prompt": "hi", "temperature": "hot"}', "body.temperature",
         "{'type': 'float_parsing', 'loc': 'body.temperature', 'msg': 'Input should be a valid "
         "number, unable to parse string as a number', 'input': 'hot'}"),
        ("/v1/completions", b'{"prompt": "hi", "max_tokens": 1.5}', "body.max_tokens",
         "{'type': 'int_from_float', 'loc': 'body.max_tokens', 'msg': 'Input should be a valid "
         "integer, got a number with a fractional part', 'input': '1.5'}"),
        ("/v1/completions", b'{"prompt": "hi", "stream": "maybe"}', "body.stream",
         "{'type': 'bool_parsing', 'loc': 'body.stream', 'msg': 'Input should be a valid "
         "boolean, unable to interpret input', 'input': 'maybe'}"),
        ("/v1/chat/completions", b'{"messages": "hi"}', "body.messages",
         "{'type': 'list_type', 'loc': 'body.messages', 'msg': 'Input should be a valid list', "
         "'input': 'hi'}"),
        ("/v1/chat/completions", b'{"messages": [{"role": 5, "content": "x"}]}',
         "body.messages.0.role",
         "{'type': 'string_type', 'loc': 'body.messages.0.role', 'msg': 'Input should be a "
         "valid string', 'input': '5'}"),
        ("/v1/unload_lora_adapter", b'{"lora_name": null}', "body.lora_name",
         "{'type': 'string_type', 'loc': 'body.lora_name', 'msg': 'Input should be a valid "
         "string', 'input': 'None'}"),
        ("/v1/completions", b'{"prompt": "hi", "seed": 18446744073709551616}', "body.seed",
         "{'type': 'less_than_equal', 'loc': 'body.seed', 'msg': 'Input should be less than or "
         "equal to 9223372036854775807', 'input': '18446744073709551616', 'ctx': {'le': "
         "9223372036854775807}}"),
    ],
    ids=["prompt", "messages", "lora_path", "lora_name", "temperature-str", "max_tokens-float",
         "stream-str", "messages-str", "role-int", "lora_name-null", "seed-past-int64"],
)  # fmt: skip
def test_missing_fields_and_wrong_types_are_400(
    node: Node, route: str, body: bytes, param: str, error: str
) -> None:
    response = node.post(route, body)
    assert response.status_code == 400
    assert response.json() == {"error": validation(param, error)}


def test_every_wrong_field_is_reported(node: Node) -> None:
    response = node.post("/v1/load_lora_adapter", b'{"lora_name": 5, "lora_path": 6}')
    assert response.status_code == 400
    assert response.json() == {
        "error": validation(
            "body.lora_name",
            "{'type': 'string_type', 'loc': 'body.lora_name', 'msg': 'Input should be a valid "
            "string', 'input': '5'}",
            "{'type': 'string_type', 'loc': 'body.lora_path', 'msg': 'Input should be a valid "
            "string', 'input': '6'}",
        )
    }


# --- sampling parameters out of range -------------------------------------------------------

MAX_MODEL_LEN = 512  # the kit base's max_position_embeddings


@pytest.mark.parametrize(
    ("extra", "message", "param"),
    [
        ({"temperature": -0.5}, "temperature must be non-negative, got -0.5.", "temperature"),
        ({"temperature": 2.5}, "temperature must be in [0, 2], got 2.5.", "temperature"),
        ({"top_p": 0}, "top_p must be in (0, 1], got 0.0.", "top_p"),
        ({"top_p": 1.5}, "top_p must be in (0, 1], got 1.5.", "top_p"),
        ({"max_tokens": 0}, "max_tokens must be at least 1, got 0.", "max_tokens"),
        ({"max_tokens": -5}, "max_tokens must be at least 1, got -5.", "max_tokens"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_sampling_parameters_out_of_range_are_400(
    client: openai.OpenAI, extra: dict[str, Any], message: str, param: str, stream: bool
) -> None:
    """Refused before a stream starts: a 400, not a 200 whose stream carries the error."""
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model=BASE_NAME, prompt=PROMPT, stream=stream, **extra)
    value = message.removesuffix(".").rsplit(" ", 1)[1]
    suffix = f" (parameter={param}, value={value})"
    assert error_of(caught.value) == bad_request(message + suffix, param)


@pytest.mark.parametrize(("literal", "shown"), [(b"NaN", "nan"), (b"Infinity", "inf")])
def test_a_temperature_that_is_no_number_is_400(node: Node, literal: bytes, shown: str) -> None:
    """Python's JSON reads NaN and Infinity; NaN used to reach the sampler (a 500, or a 200
    whose stream carried the error) and Infinity sampled uniformly."""
    for stream in (b"false", b"true"):
        body = b'{"prompt": "hi", "stream": %s, "temperature": %s}' % (stream, literal)
        response = node.post("/v1/completions", body)
        assert response.status_code == 400
        message = (
            f"temperature must be a finite number, got {shown}. "
            f"(parameter=temperature, value={shown})"
        )
        assert response.json() == {"error": bad_request(message, "temperature")}


@pytest.mark.parametrize("max_tokens", [MAX_MODEL_LEN + 1, 10**30])
def test_max_tokens_past_the_model_length_is_400(client: openai.OpenAI, max_tokens: int) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model=BASE_NAME, prompt=PROMPT, max_tokens=max_tokens)
    message = (
        f"max_tokens={max_tokens} cannot be greater than max_model_len={MAX_MODEL_LEN}. Please "
        f"request fewer output tokens. (parameter=max_tokens, value={max_tokens})"
    )
    assert error_of(caught.value) == bad_request(message, "max_tokens")


def test_chat_max_completion_tokens_past_the_model_length_is_400(client: openai.OpenAI) -> None:
    huge = 2**63
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=BASE_NAME, messages=CHAT, max_completion_tokens=huge, max_tokens=4
        )
    message = (
        f"max_completion_tokens={huge} cannot be greater than max_model_len={MAX_MODEL_LEN}. "
        f"Please request fewer output tokens. (parameter=max_completion_tokens, value={huge})"
    )
    assert error_of(caught.value) == bad_request(message, "max_completion_tokens")


def test_max_tokens_within_the_model_length_is_cut_to_the_room_left(
    client: openai.OpenAI,
) -> None:
    """Like vLLM (``get_max_tokens``): at most the model length, less the prompt."""
    prompt = " ".join(["refund"] * (MAX_MODEL_LEN - 7))  # a BOS and 2 more tokens: 4 left
    completion = client.completions.create(
        model=BASE_NAME, prompt=prompt, max_tokens=MAX_MODEL_LEN, temperature=0
    )
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == MAX_MODEL_LEN - 4
    assert (completion.choices[0].finish_reason, completion.usage.completion_tokens) == (
        "length",
        4,
    )


# --- runtime LoRA updates outside the allowed directory -------------------------------------


def outside(path: str, allowed: Path) -> dict[str, Any]:
    message = f"LoRA path '{path}' is outside the allowed directory '{allowed}'."
    return bad_request(message, "lora_path")


def test_a_lora_path_outside_the_allowed_dir_is_400(node: Node, client: openai.OpenAI) -> None:
    name = fresh_name("outside")
    for path in ("/etc", f"{node.allowed}/../{node.base.name}"):
        with pytest.raises(openai.BadRequestError) as caught:
            load_adapter(client, name, path)
        shown = "<path>" if path.startswith("/tmp") else path  # vLLM's sanitize_message
        assert error_of(caught.value) == outside(shown, Path("<path>"))
    assert name not in {card.id for card in client.models.list()}


def test_a_link_out_of_the_allowed_dir_is_400(node: Node, client: openai.OpenAI) -> None:
    link = node.allowed / fresh_name("link")
    link.symlink_to(node.base, target_is_directory=True)
    with pytest.raises(openai.BadRequestError) as caught:
        load_adapter(client, fresh_name("linked"), str(link))
    assert error_of(caught.value) == outside("<path>", Path("<path>"))


def test_a_lora_path_with_a_nul_byte_is_400(node: Node) -> None:
    """It used to be a 500: ``Path.resolve`` raises ValueError on a NUL byte."""
    body = b'{"lora_name": "nul", "lora_path": "adapter\\u0000"}'
    response = node.post("/v1/load_lora_adapter", body)
    assert response.status_code == 400
    assert response.json() == {"error": outside("adapter\\0", Path("<path>"))}


# --- the node is still up -------------------------------------------------------------------


def test_the_node_still_serves(client: openai.OpenAI) -> None:
    completion = client.completions.create(
        model=BASE_NAME, prompt=PROMPT, max_tokens=2, temperature=0
    )
    assert completion.choices[0].finish_reason == "length"
