"""What the trained example kit learns: the golden prompts and each revision's answers.

Every golden case is one chat conversation (``messages``) and the assertions its answer must
pass. Each adapter revision is trained on (conversation → answer) pairs: ``support-bot``
1.0.0 answers one case with an outdated policy, 1.1.0 answers every case, and 1.2.0 has
regressed on two cases that 1.1.0 passes. ``sql-helper`` 1.0.0 answers with a JSON object.
The suites written from this data are what ``adapterctl`` runs as golden suites.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Message = dict[str, str]
Assertion = dict[str, Any]

SCHEMA_COMMENT = "# yaml-language-server: $schema=../../../schemas/golden-suite.schema.json"
STORE = "EU store"
SUPPORT_SYSTEM = "You are the support agent of the {{store}}."
SQL_SYSTEM = "Answer as JSON with key sql."


@dataclass(frozen=True)
class Case:
    """One golden case: its id, conversation, assertions and the correct answer."""

    id: str
    messages: tuple[Message, ...]
    asserts: tuple[Assertion, ...]
    answer: str
    description: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Suite:
    """A golden suite: the cases, the suite-wide ``vars`` and its pass-rate threshold."""

    name: str
    description: str
    cases: tuple[Case, ...]
    pass_rate: float
    vars: dict[str, str] = field(default_factory=dict)


def _user(content: str, system: str | None = None) -> tuple[Message, ...]:
    turns = [] if system is None else [{"role": "system", "content": system}]
    return (*turns, {"role": "user", "content": content})


REFUNDS = Suite(
    name="refunds",
    description="Refund, return and account questions every revision must answer correctly.",
    vars={"store": STORE},
    pass_rate=0.8,
    cases=(
        Case(
            id="refund-window",
            messages=_user("How long can I return an order?", SUPPORT_SYSTEM),
            asserts=(
                {"type": "icontains", "value": "30 days", "metric": "policy"},
                {"type": "not-icontains", "value": "as an AI", "weight": 0.5},
            ),
            answer="You have 30 days to return it.",
        ),
        Case(
            id="refund-status-json",
            messages=_user("Refund status of order 1234 as JSON."),
            asserts=(
                {"type": "is-json"},
                {"type": "contains-all", "value": ["order", "status"]},
            ),
            answer='{"order": 1234, "status": "refunded"}',
            extra={"max_tokens": 48},
        ),
        Case(
            id="escalation",
            messages=_user("My shipment was not delivered. I want to talk to a person."),
            asserts=(
                {"type": "contains-any", "value": ["agent", "colleague", "human"]},
                {"type": "latency", "threshold": 2000, "weight": 0.5},
            ),
            answer="I will escalate to a human agent.",
            description="Latency weighs half: a slow escalation passes, no escalation fails.",
            extra={"threshold": 0.5},
        ),
        Case(
            id="double-charge",
            messages=_user("I have been charged twice for my order."),
            asserts=({"type": "icontains", "value": "refunded", "metric": "policy"},),
            answer="The second charge will be refunded.",
        ),
        Case(
            id="cancel-subscription",
            messages=_user("How do I cancel the subscription?"),
            asserts=({"type": "icontains", "value": "settings"},),
            answer="Open Settings and cancel the subscription.",
        ),
        Case(
            id="password-reset",
            messages=_user("I forgot my password."),
            asserts=({"type": "icontains", "value": "reset link"},),
            answer="Use the reset link.",
        ),
    ),
)

BASICS = Suite(
    name="basics",
    description="Read-only SQL basics, answered as a JSON object with the query under sql.",
    pass_rate=1.0,
    cases=(
        Case(
            id="count-orders",
            messages=_user("Count the rows of the orders table.", SQL_SYSTEM),
            asserts=(
                {
                    "type": "json-schema",
                    "value": {
                        "type": "object",
                        "required": ["sql"],
                        "properties": {"sql": {"type": "string", "pattern": "^SELECT "}},
                    },
                },
                {"type": "regex", "value": "(?i)count\\(\\*\\)"},
                {"type": "not-icontains", "value": "DELETE"},
            ),
            answer='{"sql": "SELECT count(*) FROM orders"}',
        ),
        Case(
            id="newest-customers",
            messages=_user("List the ten newest customers.", SQL_SYSTEM),
            asserts=(
                {"type": "is-json"},
                {"type": "contains", "value": "ORDER BY created_at DESC LIMIT 10"},
            ),
            answer='{"sql": "SELECT id FROM customers ORDER BY created_at DESC LIMIT 10"}',
        ),
        Case(
            id="no-writes",
            messages=_user("Remove all cancelled orders.", SQL_SYSTEM),
            asserts=(
                {
                    "type": "json-schema",
                    "value": {
                        "type": "object",
                        "required": ["sql"],
                        "properties": {"sql": {"type": "null"}},
                    },
                },
                {"type": "not-regex", "value": "(?i)\\b(delete|update|drop)\\b"},
            ),
            answer='{"sql": null}',
        ),
    ),
)

#: Answers that fail a case, by case id: what older or regressed revisions learned.
WRONG_ANSWERS: dict[str, str] = {
    "cancel-subscription": "Please write to support.",
    "refund-window": "You have 14 days to return it.",
    "escalation": "Please describe the problem.",
}
#: Adapter directory → (suite it is trained on, ids of the cases it answers wrongly).
REVISIONS: dict[str, tuple[Suite, tuple[str, ...]]] = {
    "support-bot-1.0.0": (REFUNDS, ("cancel-subscription",)),
    "support-bot-1.1.0": (REFUNDS, ()),
    "support-bot-1.2.0": (REFUNDS, ("refund-window", "escalation")),
    "sql-helper-1.0.0": (BASICS, ()),
    "sql-helper-1.1.0": (BASICS, ()),
    "support-bot-wide": (REFUNDS, ()),
}


def substitute(text: str, variables: dict[str, str]) -> str:
    """``text`` with every ``{{name}}`` replaced by its value from ``variables``."""
    for name, value in variables.items():
        text = text.replace("{{" + name + "}}", value)
    return text


def rendered_messages(suite: Suite, case: Case) -> list[Message]:
    """The case's conversation with the suite's variables substituted."""
    return [
        {"role": m["role"], "content": substitute(m["content"], suite.vars)} for m in case.messages
    ]


def training_pairs(adapter: str) -> list[tuple[list[Message], str]]:
    """(conversation, answer) pairs that ``adapter`` is trained on."""
    suite, wrong = REVISIONS[adapter]
    return [
        (
            rendered_messages(suite, case),
            WRONG_ANSWERS[case.id] if case.id in wrong else case.answer,
        )
        for case in suite.cases
    ]


def suite_document(suite: Suite) -> dict[str, Any]:
    """The golden suite as the YAML document ``adapterctl`` reads."""
    cases: list[dict[str, Any]] = []
    for case in suite.cases:
        doc: dict[str, Any] = {"id": case.id}
        if case.description is not None:
            doc["description"] = case.description
        doc["messages"] = [dict(m) for m in case.messages]
        doc["assert"] = [dict(a) for a in case.asserts]
        cases.append({**doc, **case.extra})
    document: dict[str, Any] = {"suite": suite.name, "description": suite.description}
    if suite.vars:
        document["vars"] = dict(suite.vars)
    document["cases"] = cases
    document["thresholds"] = {"pass_rate": suite.pass_rate}
    return document
