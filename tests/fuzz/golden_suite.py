"""Fuzz target: a golden suite as ``eval`` and ``export-promptfoo`` use it: loaded and
validated, then exported to promptfoo and its assertions judged against a fixed answer (all
but ``python`` ones, which import a function from the registry: there is none here)."""

from __future__ import annotations

from collections.abc import Iterator

from adapterctl.documents import load_document
from adapterctl.evals.assertions import evaluate
from adapterctl.evals.promptfoo import to_promptfoo
from adapterctl.evals.results import Answer
from adapterctl.layout import Placement
from adapterctl.model import AdapterLine, GoldenSuite
from adapterctl.model.kinds import Kind
from tests.fuzz.harness import files, scratch, write

FILE = "adapters/demo/golden/demo.yaml"
LINE = AdapterLine.model_validate(
    {
        "name": "demo",
        "description": "A line to fuzz.",
        "owners": ["@demo"],
        "product_owner": "@demo",
        "golden_suites": ["demo"],
    }
)
ANSWER = Answer('{"order": 1234, "status": "refunded"} within 30 days', "stop", 120.0)


def check(data: bytes) -> None:
    write(FILE, data)
    suite = load_document(scratch(), FILE, Placement(Kind.GOLDEN_SUITE, "demo", "demo")).model
    if not isinstance(suite, GoldenSuite):
        return
    to_promptfoo(
        LINE,
        [suite],
        revisions=["demo@1.0.0"],
        base_url="http://127.0.0.1:9/v1",
        root=scratch(),
        config_dir=scratch(),
    )
    for case in suite.cases:
        if all(assertion.base_type != "python" for assertion in case.assert_):
            evaluate(case, ANSWER, root=scratch())


def seeds() -> Iterator[bytes]:
    yield from files(
        "adapters/*/golden/*.yaml", "tests/data/valid/*/overlay/adapters/*/golden/*.yaml"
    )
