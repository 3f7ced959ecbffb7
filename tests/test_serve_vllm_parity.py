"""The reference node answers like vLLM 0.32 where a client can see it: statuses, error
bodies, content types, the SageMaker ``/adapters`` pair and ``vllm:`` metric labels.

The expected answers were observed on vLLM 0.32.0 (CPU) started with ``--served-model-name
tiny-llama --enable-lora --max-lora-rank 64 --max-loras 4 --max-cpu-loras 8`` and
``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True``, or read from its source where noted. The app is
called in-process through ASGI (no sockets)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import anyio
import pytest
import typer
from fastapi import FastAPI

import adapterctl
from adapterctl.cli.serve import existing_directory
from adapterctl.serve.api import create_app
from adapterctl.serve.engine import Engine
from adapterctl.serve.errors import sanitize_message
from adapterctl.serve.metrics import NodeMetrics
from examples.kit import AdapterSpec, BaseSpec, make_adapter, make_base

BASE = BaseSpec(arch="llama")
Answer = tuple[int, dict[str, str], bytes]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("parity")
    make_base(root / "base", BASE)
    make_adapter(root / "good", BASE, AdapterSpec(seed=5))
    make_adapter(root / "rank128", BASE, AdapterSpec(rank=128, alpha=128))
    return root


@pytest.fixture
def engine(models: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return Engine(models / "base", served_model_name="tiny-llama", max_loras=4, max_lora_rank=64)


@pytest.fixture
def app(engine: Engine) -> FastAPI:
    return create_app(engine, api_key="k", allow_runtime_lora_updating=True)


def call(
    app: FastAPI,
    method: str,
    path: str,
    body: object = None,
    headers: dict[str, str] | None = None,
    query: str = "",
) -> Answer:
    """One request through the app's ASGI interface: (status, headers, body)."""
    raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    sent = {"authorization": "Bearer k"}
    if body is not None and not isinstance(body, bytes):
        sent["content-type"] = "application/json"
    sent.update(headers or {})
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query.encode(), "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
        "headers": [(k.lower().encode(), v.encode()) for k, v in sent.items()],
    }  # fmt: skip
    messages: list[dict[str, Any]] = []
    request = [{"type": "http.request", "body": raw, "more_body": False}]

    async def receive() -> MutableMapping[str, Any]:
        if request:
            return request.pop()
        await anyio.Event().wait()  # the client never disconnects
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        messages.append(dict(message))

    anyio.run(app, scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    answer_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    content = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], answer_headers, content


def error(status: int, message: str, type_: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": status}}


def load(app: FastAPI, name: str, path: Path | str) -> Answer:
    return call(app, "POST", "/v1/load_lora_adapter", {"lora_name": name, "lora_path": str(path)})


# --- 1. an unknown model names the base's served names ------------------------------------


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("/v1/completions", {"model": "nope", "prompt": "hi", "max_tokens": 2}),
        ("/v1/chat/completions", {"model": "nope", "messages": [{"role": "user", "content": "h"}]}),
    ],
)
def test_unknown_model_lists_the_valid_aliases(
    app: FastAPI, models: Path, route: str, body: dict[str, Any]
) -> None:
    assert load(app, "a@1", models / "good")[0] == 200  # adapters are not listed as aliases
    status, _, answer = call(app, "POST", route, body)
    message = "The model `nope` does not exist. Valid aliases: tiny-llama."
    assert (status, json.loads(answer)) == (404, error(404, message, "NotFoundError", "model"))


def test_the_model_is_checked_before_the_prompt(app: FastAPI) -> None:
    body = {"model": "nope", "prompt": ["one", "two"], "max_tokens": 2}
    assert call(app, "POST", "/v1/completions", body)[0] == 404


# --- 2. /version ----------------------------------------------------------------------------


def test_version_is_adapterctls_in_vllms_shape(app: FastAPI) -> None:
    status, headers, body = call(app, "GET", "/version", headers={"authorization": ""})
    assert (status, headers["content-type"]) == (200, "application/json")
    assert json.loads(body) == {"version": adapterctl.__version__}


# --- 3. to 5. runtime LoRA loads and unloads ---------------------------------------------------


def test_a_rank_above_max_lora_rank_is_the_workers_500(app: FastAPI, models: Path) -> None:
    status, _, body = load(app, "big@1", models / "rank128")
    message = (
        "Call to add_lora method failed: Worker failed with error 'LoRA rank 128 is greater "
        "than max_lora_rank 64.', please check the stack trace above for the root cause"
    )
    assert (status, json.loads(body)) == (500, error(500, message, "InternalServerError"))


def test_a_missing_path_is_404_with_the_path_redacted(app: FastAPI, models: Path) -> None:
    status, _, body = load(app, "b@1", models / "nowhere")  # under /tmp: vLLM writes <path>
    message = "Loading lora b@1 failed: No adapter found for <path>"
    assert (status, json.loads(body)) == (404, error(404, message, "NotFoundError"))


def test_load_duplicate_unload_and_unknown(app: FastAPI, models: Path) -> None:
    status, headers, body = load(app, "a@1", models / "good")
    assert (status, body) == (200, b"Success: LoRA adapter 'a@1' added successfully.")
    assert "content-type" not in headers  # vLLM's Response(content=str) sends none
    status, _, body = load(app, "a@1", models / "good")
    message = (
        "The lora adapter 'a@1' has already been loaded. If you want to load the adapter in"
        " place, set 'load_inplace' to True."
    )
    assert (status, json.loads(body)) == (400, error(400, message, "InvalidUserInput"))
    status, headers, body = call(app, "POST", "/v1/unload_lora_adapter", {"lora_name": "a@1"})
    assert (status, body) == (200, b"Success: LoRA adapter 'a@1' removed successfully.")
    assert "content-type" not in headers
    status, _, body = call(app, "POST", "/v1/unload_lora_adapter", {"lora_name": "zzz"})
    message = "The lora adapter 'zzz' cannot be found."
    assert (status, json.loads(body)) == (404, error(404, message, "NotFoundError"))


def test_a_lora_may_not_take_the_bases_name(app: FastAPI, models: Path) -> None:
    status, _, body = load(app, "tiny-llama", models / "good")
    message = "The lora adapter 'tiny-llama' conflicts with a served base model."
    assert (status, json.loads(body)) == (400, error(400, message, "InvalidUserInput"))


def test_load_inplace_keeps_the_old_weights_when_the_new_fail(
    app: FastAPI, engine: Engine, models: Path
) -> None:
    assert load(app, "a@1", models / "good")[0] == 200
    body = {"lora_name": "a@1", "lora_path": str(models / "rank128"), "load_inplace": True}
    assert call(app, "POST", "/v1/load_lora_adapter", body)[0] == 500
    assert engine.loras() == {"a@1": str(models / "good")}
    body["lora_path"] = str(models / "good")
    assert call(app, "POST", "/v1/load_lora_adapter", body)[0] == 200
    assert engine.loras() == {"a@1": str(models / "good")}


def test_a_validation_error_keeps_pydantics_context(app: FastAPI) -> None:
    """vLLM 0.32's handler: inputs summarised, ``ctx`` kept, ``loc`` dotted."""
    status, _, body = call(app, "POST", "/v1/load_lora_adapter", {"lora_name": "a"})
    message = (
        "1 validation error:\n  {'type': 'missing', 'loc': 'body.lora_path', 'msg': 'Field"
        " required', 'input': '<dict of 1 items>'}"
    )
    assert (status, json.loads(body)) == (400, error(400, message, "Bad Request", "body.lora_path"))
    headers = {"content-type": "application/json"}
    status, _, body = call(app, "POST", "/v1/load_lora_adapter", b"{bad", headers)
    assert json.loads(body)["error"]["message"] == (
        "1 validation error:\n  {'type': 'json_invalid', 'loc': 'body.1', 'msg': 'JSON decode"
        " error', 'input': '<dict of 0 items>', 'ctx': {'error': 'Expecting property name"
        " enclosed in double quotes'}}"
    )


# --- 6. the base card without a served name ---------------------------------------------------


def test_the_base_card_is_the_base_argument_as_given(
    app: FastAPI, models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(models)
    engine = Engine("./base/")
    status, _, body = call(create_app(engine), "GET", "/v1/models")
    card = json.loads(body)["data"][0]
    assert (status, card["id"], card["root"], card["parent"]) == (200, "./base/", "./base/", None)
    assert existing_directory("./base/") == "./base/"  # `adapterctl serve --base ./base/`
    with pytest.raises(
        typer.BadParameter, match=re.escape("Directory './nowhere' does not exist.")
    ):
        existing_directory("./nowhere")


# --- 7. SageMaker's /adapters -------------------------------------------------------------------


def test_sagemaker_register_and_unregister(app: FastAPI, engine: Engine, models: Path) -> None:
    register = {"name": "a@1", "src": str(models / "good")}
    status, headers, body = call(app, "POST", "/adapters", register, {"authorization": ""})
    assert (status, body, "content-type" in headers) == (200, b"Adapter a@1 registered", False)
    assert engine.loras() == {"a@1": str(models / "good")}
    status, _, body = call(app, "POST", "/adapters", register)  # load_inplace is never passed
    assert (status, json.loads(body)["error"]["type"]) == (400, "InvalidUserInput")
    status, _, body = call(app, "DELETE", "/adapters/a@1", headers={"authorization": ""})
    assert (status, body) == (200, b"Adapter a@1 unregistered")
    status, _, body = call(app, "DELETE", "/adapters/a@1")
    message = "The lora adapter 'a@1' cannot be found."
    assert (status, json.loads(body)) == (404, error(404, message, "NotFoundError"))


def test_sagemaker_alias_header_and_query_string(app: FastAPI, models: Path) -> None:
    alias = {"X-Amzn-SageMaker-Adapter-Alias": "support"}
    query = f"name=b%401&src={models / 'good'}"
    status, _, body = call(app, "POST", "/adapters", b"", alias, query=query)
    assert (status, body) == (200, b"Adapter support registered")
    assert call(app, "DELETE", "/adapters/b@1", headers=alias)[2] == b"Adapter support unregistered"


def test_sagemaker_errors(app: FastAPI, models: Path) -> None:
    status, _, body = call(app, "POST", "/adapters", {"name": "", "src": "/tmp/x"})
    message = (
        '[{"type":"value_error","loc":["name"],"msg":"Value error, The parameter name cannot'
        ' be an empty string","input":"","ctx":{"error":"The parameter name cannot be an empty'
        ' string"}}]'
    )
    assert (status, json.loads(body)) == (400, error(400, message, "Bad Request"))
    status, _, body = call(app, "POST", "/adapters", {"name": "c@1", "src": str(models / "no")})
    message = "Loading lora c@1 failed: No adapter found for <path>"
    assert (status, json.loads(body)) == (404, error(404, message, "NotFoundError"))


def test_without_runtime_updates_there_are_no_lora_routes(engine: Engine, models: Path) -> None:
    app = create_app(engine)
    register = {"name": "a@1", "src": str(models / "good")}
    status, _, body = call(app, "POST", "/adapters", register)
    assert (status, body) == (404, b'{"detail":"Not Found"}')
    assert load(app, "a@1", models / "good")[0] == 404
    status, _, body = call(app, "GET", "/ping")
    assert (status, body) == (200, b"")
    assert call(app, "POST", "/ping")[0] == 200


def test_the_api_key_guards_vllms_prefixes_only(app: FastAPI) -> None:
    for path in ("/v1/models", "/v2/anything", "/inference/x", "/cohere/x"):
        status, _, body = call(app, "GET", path, headers={"authorization": ""})
        assert (status, json.loads(body)) == (401, {"error": "Unauthorized"})
    assert call(app, "GET", "/health", headers={"authorization": ""})[0] == 200


# --- the worker's other refusals ------------------------------------------------------------------


def _edited(models: Path, name: str, **fields: object) -> Path:
    target = models / name
    if not target.exists():
        shutil.copytree(models / "good", target)
        config = json.loads((target / "adapter_config.json").read_text())
        (target / "adapter_config.json").write_text(json.dumps({**config, **fields}))
    return target


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"rank_pattern": {"q_proj": 96}}, "LoRA rank 96 is greater than max_lora_rank 64."),
        (
            {"modules_to_save": ["lm_head"]},
            'vLLM only supports modules_to_save being either None or ["classifier", "score"]'
            " for classification models. Unsupported modules_to_save: ['lm_head']",
        ),
        ({"lora_bias": True}, "vLLM does not support LoRA bias (lora_bias)."),
        ({"use_qalora": True, "bias": "all"}, "vLLM does not support QALoRA. Adapter bias is not supported."),
        ({"r": "8"}, "'<=' not supported between instances of 'str' and 'int'"),
    ],
)  # fmt: skip
def test_other_refusals_are_the_workers_500(
    app: FastAPI, models: Path, fields: dict[str, object], reason: str
) -> None:
    path = _edited(models, "edited-" + "-".join(fields), **fields)
    status, _, body = load(app, "x@1", path)
    message = (
        f"Call to add_lora method failed: Worker failed with error '{reason}', please check"
        " the stack trace above for the root cause"
    )
    assert (status, json.loads(body)) == (500, error(500, message, "InternalServerError"))


# --- 8. metrics and message redaction -------------------------------------------------------------


def _lora_info(metrics: NodeMetrics) -> tuple[str, str]:
    """The labels of the newest ``vllm:lora_requests_info`` series: (waiting, running)."""
    newest = max(
        (s for m in metrics.registry.collect() for s in m.samples if m.name == "vllm:lora_requests_info"),
        key=lambda sample: sample.value,
    )  # fmt: skip
    assert newest.labels["max_lora"] == "4"
    return newest.labels["waiting_lora_adapters"], newest.labels["running_lora_adapters"]


def test_lora_requests_info_lists_every_active_adapter_in_both_labels(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """vLLM 0.32 fills both labels from one table of adapters with unfinished requests."""
    clock = iter(range(1, 100))
    monkeypatch.setattr("prometheus_client.metrics.time.time", lambda: float(next(clock)))
    metrics = NodeMetrics(max_loras=4)
    a, b = metrics.track("a@1", "a@1"), metrics.track("b@1", "b@1")
    assert _lora_info(metrics) == ("a@1,b@1", "a@1,b@1")
    a.running()
    assert _lora_info(metrics) == ("a@1,b@1", "a@1,b@1")
    a.finish(error=False)
    assert _lora_info(metrics) == ("b@1", "b@1")
    again = metrics.track("a@1", "a@1")
    assert _lora_info(metrics) == ("b@1,a@1", "b@1,a@1")
    b.finish(error=False)
    again.finish(error=True)
    assert _lora_info(metrics) == ("", "")
    base = metrics.track("tiny-llama", None)
    base.finish(error=False)
    text = metrics.render()[0].decode()
    assert 'adapterctl:requests_total{model="a@1"} 2.0' in text  # per adapter, unlike vLLM
    assert 'adapterctl:request_errors_total{model="a@1"} 1.0' in text
    assert "vllm:request_success_total" not in text


@pytest.mark.parametrize(
    ("message", "sent"),
    [
        ("No adapter found for /tmp/pytest-1/a", "No adapter found for <path>"),
        ("No adapter found for /srv/adapters/a@1", "No adapter found for <path>@1"),  # "@" ends it
        ("No adapter found for /work/adapters/a", "No adapter found for /work/adapters/a"),
        ("cannot read /work/a/adapter_config.json", "cannot read <path>"),
        ("<object at 0x7f3a2b>", "<object>"),
    ],
)
def test_messages_are_sanitized_like_vllms(message: str, sent: str) -> None:
    assert sanitize_message(message) == sent
