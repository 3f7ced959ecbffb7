"""Assertions against answers: every type, its not- form, exact reasons, and case outcomes."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import JsonValue

from adapterctl.evals.assertions import case_outcome, evaluate
from adapterctl.evals.results import Answer, AssertionResult
from adapterctl.evals.textmetrics import levenshtein, rouge_n, word_count
from adapterctl.model.golden import Assertion, Case, GoldenSuite
from tests.conftest import REPO

SQL_SCHEMA: dict[str, JsonValue] = {
    "type": "object",
    "required": ["sql"],
    "properties": {"sql": {"type": "string", "pattern": "^SELECT "}},
}
LONG_DELETE = '{"sql": "DELETE FROM orders WHERE status = 3 AND created_at < now()"}'


def _answer(text: str = "", **fields: Any) -> Answer:
    return Answer(**{"text": text, "finish_reason": "stop", "latency_ms": 812.0, **fields})


def _case(*assertions: dict[str, Any], threshold: float | None = None) -> Case:
    document: dict[str, Any] = {
        "id": "c",
        "prompt": "p",
        "vars": {"store": "EU"},
        "assert": list(assertions),
    }
    if threshold is not None:
        document["threshold"] = threshold
    return Case.model_validate(document)


def _raw_case(**assertion: Any) -> Case:
    """A case whose assertion skipped the model's validation (as a defensive check)."""
    return Case.model_construct(
        id="c",
        prompt="p",
        messages=None,
        vars={},
        assert_=(Assertion.model_construct(**assertion),),
    )


def _one(case: Case, answer: Answer, root: Path = REPO) -> AssertionResult:
    (result,) = evaluate(case, answer, root=root)
    return result


@dataclass(frozen=True)
class Row:
    assertion: dict[str, Any]
    text: str
    held: bool
    score: float
    reason: str
    answer: dict[str, Any] = field(default_factory=dict)


ROWS = [
    Row({"type": "equals", "value": "Paris"}, "Paris", True, 1.0, "equals 'Paris'"),
    Row({"type": "equals", "value": "Paris"}, "Paris.", False, 0.0, "is 'Paris.', not 'Paris'"),
    Row(
        {"type": "contains", "value": "30 days"}, "within 30 days.", True, 1.0, "contains '30 days'"
    ),
    Row(
        {"type": "contains", "value": "30 days"},
        "30 Days",
        False,
        0.0,
        "does not contain '30 days'",
    ),
    Row(
        {"type": "icontains", "value": "30 days"},
        "30 DAYS",
        True,
        1.0,
        "contains '30 days' (ignoring case)",
    ),
    Row(
        {"type": "icontains", "value": "30 days"},
        "2 weeks",
        False,
        0.0,
        "does not contain '30 days' (ignoring case)",
    ),
    Row(
        {"type": "contains-any", "value": ["agent", "human"]},
        "a human calls",
        True,
        1.0,
        "contains 'human'",
    ),
    Row(
        {"type": "contains-any", "value": ["agent", "human"]},
        "we call",
        False,
        0.0,
        "contains none of 'agent', 'human'",
    ),
    Row(
        {"type": "contains-all", "value": ["order", "status"]},
        '{"order": 1, "status": 2}',
        True,
        1.0,
        "contains all of 'order', 'status'",
    ),
    Row(
        {"type": "contains-all", "value": ["order", "status", "id"]},
        '{"order": 1}',
        False,
        0.0,
        "does not contain 'status', 'id'",
    ),
    Row(
        {"type": "regex", "value": r"(?i)count\(\*\)"},
        "SELECT COUNT(*) FROM t",
        True,
        1.0,
        r"'COUNT(*)' matches '(?i)count\(\*\)'",
    ),
    Row(
        {"type": "regex", "value": r"(?i)count\(\*\)"},
        "SELECT 1",
        False,
        0.0,
        r"does not match '(?i)count\(\*\)'",
    ),
    Row({"type": "starts-with", "value": "Yes"}, "Yes, you can.", True, 1.0, "starts with 'Yes'"),
    Row({"type": "starts-with", "value": "Yes"}, "No.", False, 0.0, "does not start with 'Yes'"),
    Row({"type": "is-json"}, '{"sql": "SELECT 1"}', True, 1.0, "is JSON"),
    Row(
        {"type": "is-json"}, "SELECT 1", False, 0.0, "not JSON: Expecting value at line 1 column 1"
    ),
    Row({"type": "is-json"}, '{"a": NaN}', False, 0.0, "not JSON: NaN is not JSON"),
    Row(
        {"type": "is-json", "value": {"type": "object"}},
        "{}",
        True,
        1.0,
        "is JSON that matches the schema",
    ),
    Row(
        {"type": "is-json", "value": {"type": "object"}},
        "[]",
        False,
        0.0,
        "$: [] is not of type 'object'",
    ),
    Row(
        {"type": "json-schema", "value": SQL_SCHEMA},
        '{"sql": "SELECT 1"}',
        True,
        1.0,
        "is JSON that matches the schema",
    ),
    Row(
        {"type": "json-schema", "value": SQL_SCHEMA},
        '{"sql": "DELETE FROM t"}',
        False,
        0.0,
        "$.sql: 'DELETE FROM t' does not match '^SELECT '",
    ),
    Row(
        {"type": "json-schema", "value": SQL_SCHEMA},
        LONG_DELETE,
        False,
        0.0,
        "$.sql: 'DELETE FROM orders WHERE status = 3 AND…' does not match '^SELECT '",
    ),
    Row(
        {"type": "json-schema", "value": SQL_SCHEMA},
        "{}",
        False,
        0.0,
        "$: 'sql' is a required property",
    ),
    Row(
        {"type": "json-schema", "value": SQL_SCHEMA},
        "SELECT 1",
        False,
        0.0,
        "not JSON: Expecting value at line 1 column 1",
    ),
    Row(
        {"type": "json-schema", "value": SQL_SCHEMA},
        '{"sql": ',
        False,
        0.0,
        "not JSON: Expecting value at line 1 column 9",
    ),
    Row(
        {"type": "levenshtein", "value": "hello world"},
        "hello world",
        True,
        1.0,
        "edit distance 0 is within 5",
    ),
    Row(
        {"type": "levenshtein", "value": "hello world"},
        "hello wrld",
        True,
        1 - 1 / 11,
        "edit distance 1 is within 5",
    ),
    Row(
        {"type": "levenshtein", "value": "hello world", "threshold": 2},
        "hallo wereld",
        False,
        1 - 3 / 11,
        "edit distance 3 is above 2",
    ),
    Row(
        {"type": "levenshtein", "value": "abc"},
        "a much longer answer",
        False,
        0.0,
        "edit distance 18 is above 5",
    ),
    Row(
        {"type": "rouge-n", "value": "the cat sat on the mat"},
        "The cat sat on the mat.",
        True,
        1.0,
        "ROUGE-1 1.000 is at least 0.75",
    ),
    Row(
        {"type": "rouge-n", "value": "the cat sat on the mat"},
        "a cat sat",
        False,
        2 / 6,
        "ROUGE-1 0.333 is below 0.75",
    ),
    Row(
        {
            "type": "rouge-n",
            "value": "the cat sat on the mat",
            "threshold": 0.5,
            "metric": "rouge-2",
        },
        "the cat sat on a mat",
        True,
        3 / 5,
        "ROUGE-2 0.600 is at least 0.5",
    ),
    Row({"type": "word-count", "value": 3}, "one two  three", True, 1.0, "has 3 words"),
    Row({"type": "word-count", "value": 4}, "one two three", False, 0.0, "has 3 words, not 4"),
    Row(
        {"type": "word-count", "value": {"min": 2, "max": 5}},
        "one",
        False,
        0.0,
        "has 1 word, fewer than 2",
    ),
    Row(
        {"type": "word-count", "value": {"max": 2}}, "a b c", False, 0.0, "has 3 words, more than 2"
    ),
    Row({"type": "word-count", "value": {"min": 2}}, "a b", True, 1.0, "has 2 words"),
    Row({"type": "finish-reason", "value": "STOP"}, "", True, 1.0, "finished with 'stop'"),
    Row(
        {"type": "finish-reason", "value": "stop"},
        "",
        False,
        0.0,
        "finished with 'length', not 'stop'",
        {"finish_reason": "length"},
    ),
    Row({"type": "latency", "threshold": 2000}, "", True, 1.0, "latency 812 ms is within 2000 ms"),
    Row(
        {"type": "latency", "threshold": 2000},
        "",
        False,
        0.0,
        "latency 2310 ms is above 2000 ms",
        {"latency_ms": 2310.0},
    ),
    Row(
        {"type": "latency", "threshold": 2000},
        "",
        False,
        0.0,
        "latency 2000.4 ms is above 2000 ms",
        {"latency_ms": 2000.4},
    ),
]


@pytest.mark.parametrize("negate", [False, True], ids=["plain", "not"])
@pytest.mark.parametrize("row", ROWS, ids=lambda row: f"{row.assertion['type']}-{row.held}")
def test_each_type_and_its_negation(row: Row, negate: bool) -> None:
    assertion = dict(row.assertion)
    if negate:
        assertion["type"] = f"not-{assertion['type']}"
    result = _one(_case(assertion), _answer(row.text, **row.answer))
    assert result.type == assertion["type"]
    assert result.passed is (row.held != negate)
    assert result.score == pytest.approx(1 - row.score if negate else row.score)
    assert result.reason == row.reason


def test_results_carry_weight_and_metric() -> None:
    case = _case({"type": "icontains", "value": "30 days", "metric": "policy", "weight": 0.5})
    assert _one(case, _answer("30 days")) == AssertionResult(
        "icontains", True, 1.0, 0.5, "policy", "contains '30 days' (ignoring case)"
    )


@pytest.mark.parametrize(
    ("value", "text", "passed", "reason"),
    [
        ({"a": [1, True]}, '{"a": [1.0, true]}', True, 'equals {"a": [1, true]}'),
        ({"a": 1}, '{"a": true}', False, 'is {"a": true}, not {"a": 1}'),
        (
            {"a": 1},
            "{'a': 1}",
            False,
            "not JSON: Expecting property name enclosed in double quotes at line 1 column 2",
        ),
    ],
)
def test_equals_compares_json_values_structurally(
    value: JsonValue, text: str, passed: bool, reason: str
) -> None:
    result = _one(_raw_case(type="equals", value=value), _answer(text))
    assert (result.passed, result.reason) == (passed, reason)


UNJUDGEABLE = [
    ({"type": "latency"}, {}, "'{type}' needs a threshold (the maximum in ms)"),
    (
        {"type": "finish-reason", "value": "stop"},
        {"finish_reason": None},
        "the server reported no finish reason",
    ),
    (
        {"type": "word-count", "value": {"min": 5, "max": 2}},
        {},
        "'{type}' needs a whole number or {min, max} as its value",
    ),
    (
        {"type": "word-count", "value": "ten"},
        {},
        "'{type}' needs a whole number or {min, max} as its value",
    ),
    (
        {"type": "is-json", "value": "file://schema.json"},
        {},
        "'{type}' needs a JSON schema (an object) as its value",
    ),
    ({"type": "json-schema"}, {}, "'{type}' needs a JSON schema as its value"),
    (
        {"type": "json-schema", "value": {"type": "nope"}},
        {},
        "invalid JSON schema: 'nope' is not valid under any of the given schemas",
    ),
    ({"type": "rouge-n", "value": "!!!"}, {}, "the reference '!!!' has no 1-grams to compare"),
]


@pytest.mark.parametrize("negate", [False, True], ids=["plain", "not"])
@pytest.mark.parametrize(("assertion", "answer", "reason"), UNJUDGEABLE)
def test_what_cannot_be_judged_fails_in_both_forms(
    assertion: dict[str, Any], answer: dict[str, Any], reason: str, negate: bool
) -> None:
    assertion = {**assertion, "type": f"not-{assertion['type']}" if negate else assertion["type"]}
    result = _one(_case(assertion), _answer("{}", **answer))
    expected = reason.replace("{type}", assertion["type"])
    assert (result.passed, result.score, result.reason) == (False, 0.0, expected)


@pytest.mark.parametrize(
    ("assertion", "reason"),
    [
        ({"type": "contains", "value": 7}, "'contains' needs a string value"),
        (
            {"type": "not-contains-any", "value": []},
            "'not-contains-any' needs a non-empty list of strings",
        ),
        (
            {"type": "regex", "value": "("},
            "invalid regular expression '(': missing ), unterminated subpattern at position 0",
        ),
        (
            {"type": "python", "value": "not a reference"},
            "'python' needs path/to/file.py:function, not 'not a reference'",
        ),
        ({"type": "not-bogus"}, "unknown assertion type 'not-bogus'"),
        (
            {"type": "levenshtein", "value": "abc", "threshold": "five"},
            "cannot check 'levenshtein': TypeError: '<=' not supported between instances of 'int' and 'str'",
        ),
    ],
)
def test_malformed_values_fail_instead_of_raising(assertion: dict[str, Any], reason: str) -> None:
    fields = {"value": None, "threshold": None, "weight": 1.0, "metric": None, **assertion}
    result = _one(_raw_case(**fields), _answer("text"))
    assert (result.passed, result.score, result.reason) == (False, 0.0, reason)


def test_an_answer_with_an_error_fails_every_assertion() -> None:
    case = _case(
        {"type": "not-contains", "value": "x"},
        {"type": "latency", "threshold": 5000},
        {"type": "not-is-json"},
    )
    results = evaluate(case, _answer("", error="HTTP 503 after 3 attempts"), root=REPO)
    assert [(r.passed, r.score, r.reason) for r in results] == [
        (False, 0.0, "HTTP 503 after 3 attempts")
    ] * 3


CHECKS = """
    import dataclasses

    @dataclasses.dataclass
    class Seen:
        output: str

    def boolean(output, context):
        return "refund" in Seen(output).output

    def score(output, context):
        return 0.4

    def verdict(output, context):
        return {"pass": False, "score": 0.25, "reason": "too vague"}

    def plain(output, context):
        return {"pass": True}

    def uses_context(output, context):
        return context["case"] == "c" and context["vars"] == {"store": "EU"} and context[
            "finish_reason"] == "stop" and context["prompt"] == "p"

    def boom(output, context):
        raise ValueError("no sql found")

    def too_big(output, context):
        return 1.5

    def text(output, context):
        return "yes"

    def bad_dict(output, context):
        return {"passed": True}

    not_callable = 3
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    registry = tmp_path / "registry"
    (registry / "checks").mkdir(parents=True)
    (registry / "checks" / "check.py").write_text(textwrap.dedent(CHECKS))
    (registry / "checks" / "broken.py").write_text("def f(:\n")
    (tmp_path / "outside.py").write_text(
        "open(__file__ + '.ran', 'w').close()\ndef f(o, c): return True\n"
    )
    (registry / "link.py").symlink_to(tmp_path / "outside.py")
    return registry


PYTHON = [
    ({"value": "checks/check.py:boolean"}, True, 1.0, "checks/check.py:boolean returned true"),
    ({"value": "checks.check:boolean"}, True, 1.0, "checks.check:boolean returned true"),
    (
        {"value": "checks/check.py:uses_context"},
        True,
        1.0,
        "checks/check.py:uses_context returned true",
    ),
    ({"value": "checks/check.py:score"}, True, 0.4, "checks/check.py:score scored 0.4"),
    (
        {"value": "checks/check.py:score", "threshold": 0.5},
        False,
        0.4,
        "checks/check.py:score scored 0.4, below 0.5",
    ),
    ({"value": "checks/check.py:verdict"}, False, 0.25, "too vague"),
    ({"value": "checks/check.py:plain"}, True, 1.0, "checks/check.py:plain returned pass true"),
    (
        {"value": "checks/check.py:plain", "threshold": 0.5},
        True,
        1.0,
        "checks/check.py:plain returned pass true",
    ),
]


@pytest.mark.parametrize("negate", [False, True], ids=["plain", "not"])
@pytest.mark.parametrize(("assertion", "held", "score", "reason"), PYTHON)
def test_python_checks(
    root: Path, assertion: dict[str, Any], held: bool, score: float, reason: str, negate: bool
) -> None:
    kind = "not-python" if negate else "python"
    result = _one(_case({"type": kind, **assertion}), _answer("refunded"), root)
    assert result.passed is (held != negate)
    assert result.score == pytest.approx(1 - score if negate else score)
    assert result.reason == reason
    assert not (root / "checks" / "__pycache__").exists()


def test_a_python_dict_below_the_threshold_fails(root: Path) -> None:
    case = _case({"type": "python", "value": "checks/check.py:verdict", "threshold": 0.5})
    result = _one(case, _answer("x"), root)
    assert (result.passed, result.reason) == (False, "score 0.25 is below 0.5: too vague")


PYTHON_FAILURES = [
    ("checks/check.py:boom", "checks/check.py:boom raised ValueError: no sql found"),
    ("checks/check.py:too_big", "checks/check.py:too_big returned the score 1.5, outside 0..1"),
    ("checks/check.py:text", "checks/check.py:text returned str, not a bool, a score or a dict"),
    (
        "checks/check.py:bad_dict",
        "checks/check.py:bad_dict returned a dict without a boolean 'pass' (and text 'reason')",
    ),
    ("checks/check.py:missing", "checks/check.py has no function missing"),
    ("checks/check.py:not_callable", "checks/check.py has no function not_callable"),
    ("checks/nothere.py:f", "checks/nothere.py does not exist in the registry"),
    ("checks.nothere:f", "checks/nothere.py does not exist in the registry"),
    (
        "checks/broken.py:f",
        "cannot load checks/broken.py: SyntaxError: invalid syntax (broken.py, line 1)",
    ),
    ("checks/../../outside.py:f", "checks/../../outside.py is outside the registry root"),
    ("link.py:f", "link.py is outside the registry root"),
]


@pytest.mark.parametrize("negate", [False, True], ids=["plain", "not"])
@pytest.mark.parametrize(("ref", "reason"), PYTHON_FAILURES)
def test_python_failures_never_raise(root: Path, ref: str, reason: str, negate: bool) -> None:
    case = _case({"type": "not-python" if negate else "python", "value": ref})
    result = _one(case, _answer("x"), root)
    assert (result.passed, result.score, result.reason) == (False, 0.0, reason)
    assert not (root.parent / "outside.py.ran").exists()


def _result(passed: bool, weight: float = 1.0, score: float | None = None) -> AssertionResult:
    value = float(passed) if score is None else score
    return AssertionResult("contains", passed, value, weight, None, "r")


@pytest.mark.parametrize(
    ("threshold", "results", "outcome"),
    [
        (None, [_result(True), _result(True, 0.5)], (1.0, True)),
        (None, [_result(True), _result(False, 3.0)], (0.25, False)),
        (None, [_result(True), _result(False, 0.0)], (1.0, False)),
        (0.5, [_result(True), _result(False, 0.5)], (2 / 3, True)),
        (0.5, [_result(False), _result(True, 0.5)], (1 / 3, False)),
        (0.7, [_result(True, 0.7), _result(False, 0.3)], (0.7, True)),
        (0.8, [_result(True), _result(False, score=0.7)], (0.85, True)),
        (0.9, [_result(True), _result(False, score=0.7)], (0.85, False)),
        (None, [_result(True, 0.0), _result(False, 0.0, 0.5)], (0.75, False)),
        (None, [], (0.0, False)),
    ],
)
def test_case_outcome(
    threshold: float | None, results: list[AssertionResult], outcome: tuple[float, bool]
) -> None:
    case = _case({"type": "contains", "value": "x"}, threshold=threshold)
    score, passed = case_outcome(case, results)
    assert score == pytest.approx(outcome[0])
    assert passed is outcome[1]


def _suite(line: str, name: str) -> GoldenSuite:
    path = REPO / "adapters" / line / "golden" / f"{name}.yaml"
    return GoldenSuite.model_validate(yaml.safe_load(path.read_text()))


def test_the_sql_helper_suite() -> None:
    cases = {case.id: case for case in _suite("sql-helper", "basics").cases}
    good = evaluate(
        cases["count-orders"], _answer('{"sql": "SELECT count(*) FROM orders"}'), root=REPO
    )
    assert all(r.passed for r in good)
    bad = evaluate(cases["count-orders"], _answer('{"sql": "DELETE FROM orders"}'), root=REPO)
    assert [r.reason for r in bad] == [
        "$.sql: 'DELETE FROM orders' does not match '^SELECT '",
        r"does not match '(?i)count\(\*\)'",
        "contains 'DELETE' (ignoring case)",
    ]
    refused = evaluate(cases["no-writes"], _answer('{"sql": null}'), root=REPO)
    assert case_outcome(cases["no-writes"], refused) == (1.0, True)


def test_the_escalation_case_weighs_latency_half() -> None:
    escalation = next(c for c in _suite("support-bot", "refunds").cases if c.id == "escalation")
    slow = evaluate(escalation, _answer("A colleague will call.", latency_ms=2310.0), root=REPO)
    assert [r.reason for r in slow] == ["contains 'colleague'", "latency 2310 ms is above 2000 ms"]
    assert case_outcome(escalation, slow) == (2 / 3, True)
    unescalated = evaluate(escalation, _answer("Please wait."), root=REPO)
    assert case_outcome(escalation, unescalated) == (1 / 3, False)


def test_text_metrics() -> None:
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("", "abc") == levenshtein("abc", "") == 3
    assert rouge_n("the the the", "the cat the") == pytest.approx(2 / 3)
    assert rouge_n("anything", "one") == 0.0
    assert rouge_n("a b", "a", n=2) is None
    assert word_count("  one\ttwo\nthree  ") == 3
    assert word_count("") == 0
