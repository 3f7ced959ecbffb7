"""The example registry, served by the reference node, answers its golden prompts:
support-bot 1.1.0 gets every case right, 1.2.0 regressed on two, sql-helper answers JSON.

Everything comes from the committed registry and store: the base's weights artifact, the
adapters' artifacts, the golden cases. Requests go through the official openai client.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from openai import OpenAI

from adapterctl.registry import Registry
from adapterctl.serve.api import create_app
from adapterctl.serve.engine import Engine
from examples import train_data
from tests.conftest import REPO

REVISIONS = ("support-bot@1.0.0", "support-bot@1.1.0", "support-bot@1.2.0", "sql-helper@1.0.0")


def _stored(digest: str | None) -> Path:
    assert digest is not None
    return REPO / "examples/store/sha256" / digest.removeprefix("sha256:")


@pytest.fixture(scope="module")
def client() -> Iterator[OpenAI]:
    registry = Registry.load(REPO, workers=1)
    base = registry.base("tiny-llama", "r1")
    assert base is not None
    engine = Engine(_stored(base.weights_artifact), served_model_name="tiny-llama", max_loras=4)
    for label in REVISIONS:
        name, version = label.split("@")
        revision = registry.revision(name, version)
        assert revision is not None
        engine.load_lora(label, str(_stored(revision.artifact.digest)))
    listener = socket.create_server(("127.0.0.1", 0))  # connections queue until uvicorn runs
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # asyncio won't set it here
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(engine), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    with OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0) as openai:
        yield openai
    server.should_exit = True
    thread.join(timeout=10)
    listener.close()


def _answers(client: OpenAI, model: str, suite: train_data.Suite) -> dict[str, str]:
    answers = {}
    for case in suite.cases:
        reply = client.chat.completions.create(
            model=model,
            messages=train_data.rendered_messages(suite, case),  # type: ignore[arg-type]
            temperature=0,
            max_tokens=48,
        )
        answers[case.id] = reply.choices[0].message.content or ""
    return answers


def _right(suite: train_data.Suite, answers: dict[str, str]) -> set[str]:
    return {case.id for case in suite.cases if case.answer in answers[case.id]}


def test_support_bot_revisions(client: OpenAI) -> None:
    suite = train_data.REFUNDS
    every = {case.id for case in suite.cases}
    assert _right(suite, _answers(client, "support-bot@1.1.0", suite)) == every
    assert _right(suite, _answers(client, "support-bot@1.0.0", suite)) == every - {
        "cancel-subscription"
    }
    assert _right(suite, _answers(client, "support-bot@1.2.0", suite)) == every - {
        "refund-window",
        "escalation",
    }
    assert _right(suite, _answers(client, "tiny-llama", suite)) == set()


def test_sql_helper_answers_json(client: OpenAI) -> None:
    answers = _answers(client, "sql-helper@1.0.0", train_data.BASICS)
    assert json.loads(answers["count-orders"]) == {"sql": "SELECT count(*) FROM orders"}
    assert json.loads(answers["no-writes"]) == {"sql": None}
