"""The example registry, served by the reference node, answers its golden prompts:
support-bot 1.1.0 gets every case right, 1.2.0 regressed on two, sql-helper answers JSON.

Everything comes from the committed registry and store: the base's weights artifact, the
adapters' artifacts, the golden cases. Requests go through the official openai client.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from openai import OpenAI

from examples import train_data


@pytest.fixture(scope="module")
def client(example_node: str) -> Iterator[OpenAI]:
    with OpenAI(base_url=example_node, api_key="unused", max_retries=0) as openai:
        yield openai


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
