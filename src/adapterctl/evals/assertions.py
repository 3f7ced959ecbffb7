"""Checking one answer against a case's assertions, with promptfoo's semantics.

Every assertion gives a verdict on the answer (held or not, a score in 0..1, and a reason:
one sentence that is true of the answer, e.g. "does not contain '30 days'"). ``not-``
inverts the verdict: it passes when the plain assertion does not, and scores 1 - score.
An assertion that cannot be judged (an answer with an error, a malformed value, a python
check that raises) fails in both forms with the reason; nothing here raises.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match

from adapterctl.evals.pycheck import PythonCheckError, describe, load_function
from adapterctl.evals.results import Answer, AssertionResult
from adapterctl.evals.textmetrics import (
    json_equal,
    json_loads,
    levenshtein,
    number,
    quote,
    quotes,
    rouge_n,
    word_count,
)
from adapterctl.model.golden import Assertion, Case

LEVENSHTEIN_THRESHOLD = 5.0
"""Default maximum edit distance (promptfoo's)."""
ROUGE_THRESHOLD = 0.75
"""Default minimum ROUGE-N score (promptfoo's)."""
_ROUGE_METRIC = re.compile(r"^rouge-?([1-9])$")


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the plain (not negated) assertion says about the answer."""

    held: bool
    score: float
    reason: str


class Unjudgeable(Exception):
    """The assertion cannot be checked: it fails, negated or not, with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Check:
    assertion: Assertion
    answer: Answer
    case: Case
    root: Path

    @property
    def text(self) -> str:
        return self.answer.text

    def string(self) -> str:
        if not isinstance(self.assertion.value, str):
            raise Unjudgeable(f"'{self.assertion.type}' needs a string value")
        return self.assertion.value

    def strings(self) -> list[str]:
        value = self.assertion.value
        if not (
            isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value)
        ):
            raise Unjudgeable(f"'{self.assertion.type}' needs a non-empty list of strings")
        return [str(v) for v in value]


def evaluate(case: Case, answer: Answer, *, root: Path) -> tuple[AssertionResult, ...]:
    """Check ``answer`` against every assertion of ``case``; ``root`` is the registry root."""
    return tuple(_evaluate(_Check(assertion, answer, case, root)) for assertion in case.assert_)


def case_outcome(case: Case, results: Sequence[AssertionResult]) -> tuple[float, bool]:
    """The case's weighted score and whether it passes.

    Score = Σ weight·score / Σ weight (the plain mean when every weight is 0). Without a
    case threshold every assertion must pass; with one, the score must reach it.
    """
    if not results:
        return 0.0, False
    total = sum(r.weight for r in results)
    if total > 0:
        score = sum(r.weight * r.score for r in results) / total
    else:
        score = statistics.fmean(r.score for r in results)
    if case.threshold is None:
        return score, all(r.passed for r in results)
    return score, score >= case.threshold - 1e-9


def _evaluate(check: _Check) -> AssertionResult:
    assertion = check.assertion

    def result(passed: bool, score: float, reason: str) -> AssertionResult:
        return AssertionResult(
            assertion.type, passed, score, assertion.weight, assertion.metric, reason
        )

    if check.answer.error is not None:
        return result(False, 0.0, check.answer.error)
    checker = _CHECKS.get(assertion.base_type)
    try:
        if checker is None:
            raise Unjudgeable(f"unknown assertion type '{assertion.type}'")
        verdict = checker(check)
    except Unjudgeable as exc:
        return result(False, 0.0, exc.reason)
    except Exception as exc:  # a malformed value the model let through
        return result(False, 0.0, f"cannot check '{assertion.type}': {describe(exc)}")
    if assertion.type.startswith("not-"):
        return result(not verdict.held, 1.0 - verdict.score, verdict.reason)
    return result(verdict.held, verdict.score, verdict.reason)


def _verdict(held: bool, reason: str) -> Verdict:
    return Verdict(held, 1.0 if held else 0.0, reason)


def _equals(check: _Check) -> Verdict:
    expected = check.assertion.value
    if isinstance(expected, str):
        if check.text == expected:
            return _verdict(True, f"equals {quote(expected)}")
        return _verdict(False, f"is {quote(check.text)}, not {quote(expected)}")
    document, error = json_loads(check.text)
    if error is not None:
        return _verdict(False, f"not JSON: {error}")
    shown = quote(json.dumps(expected, ensure_ascii=False), mark="")
    if json_equal(document, expected):
        return _verdict(True, f"equals {shown}")
    return _verdict(
        False, f"is {quote(json.dumps(document, ensure_ascii=False), mark='')}, not {shown}"
    )


def _contains(check: _Check, fold: bool = False) -> Verdict:
    needle = check.string()
    found = needle.lower() in check.text.lower() if fold else needle in check.text
    suffix = " (ignoring case)" if fold else ""
    return _verdict(found, f"{'contains' if found else 'does not contain'} {quote(needle)}{suffix}")


def _contains_any(check: _Check) -> Verdict:
    values = check.strings()
    found = [v for v in values if v in check.text]
    if found:
        return _verdict(True, f"contains {quote(found[0])}")
    return _verdict(False, f"contains none of {quotes(values)}")


def _contains_all(check: _Check) -> Verdict:
    values = check.strings()
    missing = [v for v in values if v not in check.text]
    if missing:
        return _verdict(False, f"does not contain {quotes(missing)}")
    return _verdict(True, f"contains all of {quotes(values)}")


def _regex(check: _Check) -> Verdict:
    pattern = check.string()
    try:
        match = re.search(pattern, check.text)
    except re.error as exc:
        raise Unjudgeable(f"invalid regular expression {quote(pattern)}: {exc}") from None
    if match is None:
        return _verdict(False, f"does not match {quote(pattern)}")
    return _verdict(True, f"{quote(match.group(0))} matches {quote(pattern)}")


def _starts_with(check: _Check) -> Verdict:
    prefix = check.string()
    held = check.text.startswith(prefix)
    return _verdict(held, f"{'starts' if held else 'does not start'} with {quote(prefix)}")


def _is_json(check: _Check) -> Verdict:
    return _json_verdict(check, check.assertion.value)


def _json_schema(check: _Check) -> Verdict:
    if check.assertion.value is None:
        raise Unjudgeable(f"'{check.assertion.type}' needs a JSON schema as its value")
    return _json_verdict(check, check.assertion.value)


def _json_verdict(check: _Check, schema: object) -> Verdict:
    if schema is not None and not isinstance(schema, dict | bool):
        raise Unjudgeable(f"'{check.assertion.type}' needs a JSON schema (an object) as its value")
    document, error = json_loads(check.text)
    if error is not None:
        return _verdict(False, f"not JSON: {error}")
    if schema is None:
        return _verdict(True, "is JSON")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise Unjudgeable(f"invalid JSON schema: {exc.message}") from None
    problem = best_match(Draft202012Validator(schema).iter_errors(document))
    if problem is None:
        return _verdict(True, "is JSON that matches the schema")
    message, shown = problem.message, repr(problem.instance)
    if len(shown) > 40 and shown in message:
        short = (
            quote(problem.instance) if isinstance(problem.instance, str) else quote(shown, mark="")
        )
        message = message.replace(shown, short)
    return _verdict(False, f"{problem.json_path}: {message}")


def _levenshtein(check: _Check) -> Verdict:
    expected = check.string()
    limit = _threshold(check, LEVENSHTEIN_THRESHOLD)
    distance = levenshtein(check.text, expected)
    score = max(0.0, 1.0 - distance / len(expected)) if expected else float(distance == 0)
    held = distance <= limit
    return Verdict(held, score, f"edit distance {distance} is {_within(held)} {number(limit)}")


def _rouge_n(check: _Check) -> Verdict:
    reference = check.string()
    found = _ROUGE_METRIC.match(check.assertion.metric or "")
    n = int(found.group(1)) if found else 1
    score = rouge_n(check.text, reference, n)
    if score is None:
        raise Unjudgeable(f"the reference {quote(reference)} has no {n}-grams to compare")
    limit = _threshold(check, ROUGE_THRESHOLD)
    held = score >= limit
    relation = "is at least" if held else "is below"
    return Verdict(held, score, f"ROUGE-{n} {score:.3f} {relation} {number(limit)}")


def _word_count(check: _Check) -> Verdict:
    value, count = check.assertion.value, word_count(check.text)
    has = f"has {count} word{'' if count == 1 else 's'}"
    if _is_int(value):
        held = count == value
        return _verdict(held, has if held else f"{has}, not {value}")
    low, high = _bounds(check.assertion.type, value)
    if low is not None and count < low:
        return _verdict(False, f"{has}, fewer than {low}")
    if high is not None and count > high:
        return _verdict(False, f"{has}, more than {high}")
    return _verdict(True, has)


def _bounds(kind: str, value: object) -> tuple[int | None, int | None]:
    if isinstance(value, dict) and value.keys() <= {"min", "max"} and value:
        low, high = value.get("min"), value.get("max")
        ints = (low is None or _is_int(low)) and (high is None or _is_int(high))
        if ints and (low is None or high is None or low <= high):
            return low, high
    raise Unjudgeable(f"'{kind}' needs a whole number or {{min, max}} as its value")


def _finish_reason(check: _Check) -> Verdict:
    expected, actual = check.string(), check.answer.finish_reason
    if actual is None:
        raise Unjudgeable("the server reported no finish reason")
    if actual.lower() == expected.lower():
        return _verdict(True, f"finished with {quote(actual)}")
    return _verdict(False, f"finished with {quote(actual)}, not {quote(expected)}")


def _latency(check: _Check) -> Verdict:
    if check.assertion.threshold is None:
        raise Unjudgeable(f"'{check.assertion.type}' needs a threshold (the maximum in ms)")
    limit, latency = check.assertion.threshold, check.answer.latency_ms
    held = latency <= limit
    return _verdict(held, f"latency {number(latency)} ms is {_within(held)} {number(limit)} ms")


def _python(check: _Check) -> Verdict:
    ref = check.string()
    try:
        function = load_function(ref, check.root)
    except PythonCheckError as exc:
        raise Unjudgeable(exc.reason) from None
    context: dict[str, Any] = {
        "case": check.case.id,
        "vars": dict(check.case.vars),
        "prompt": check.case.prompt,
        "messages": [m.model_dump() for m in check.case.messages or ()] or None,
        "finish_reason": check.answer.finish_reason,
        "latency_ms": check.answer.latency_ms,
    }
    try:
        returned = function(check.text, context)
    except (Exception, SystemExit) as exc:
        raise Unjudgeable(f"{ref} raised {describe(exc)}") from None
    return _python_verdict(ref, returned, check.assertion.threshold)


def _python_verdict(ref: str, returned: object, threshold: float | None) -> Verdict:
    if isinstance(returned, bool):
        return _verdict(returned, f"{ref} returned {str(returned).lower()}")
    if isinstance(returned, int | float):
        score = _unit(ref, returned)
        held = score > 0 if threshold is None else score >= threshold
        relation = "at least" if held else "below"
        limit = "" if threshold is None else f", {relation} {number(threshold)}"
        return Verdict(held, score, f"{ref} scored {number(score)}{limit}")
    if isinstance(returned, dict):
        passed, reason = returned.get("pass"), returned.get("reason")
        if not isinstance(passed, bool) or not isinstance(reason, str | None):
            raise Unjudgeable(f"{ref} returned a dict without a boolean 'pass' (and text 'reason')")
        score = _unit(ref, returned.get("score", float(passed)))
        reason = reason or f"{ref} returned pass {str(passed).lower()}"
        if threshold is not None and score < threshold:
            return Verdict(
                False, score, f"score {number(score)} is below {number(threshold)}: {reason}"
            )
        return Verdict(passed, score, reason)
    raise Unjudgeable(f"{ref} returned {type(returned).__name__}, not a bool, a score or a dict")


def _unit(ref: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unjudgeable(f"{ref} returned a score that is not a number")
    if not (math.isfinite(value) and 0 <= value <= 1):
        raise Unjudgeable(f"{ref} returned the score {value}, outside 0..1")
    return float(value)


def _threshold(check: _Check, default: float) -> float:
    return default if check.assertion.threshold is None else check.assertion.threshold


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _within(held: bool) -> str:
    return "within" if held else "above"


_CHECKS: dict[str, Callable[[_Check], Verdict]] = {
    "equals": _equals,
    "contains": _contains,
    "icontains": lambda check: _contains(check, fold=True),
    "contains-any": _contains_any,
    "contains-all": _contains_all,
    "regex": _regex,
    "starts-with": _starts_with,
    "is-json": _is_json,
    "json-schema": _json_schema,
    "levenshtein": _levenshtein,
    "rouge-n": _rouge_n,
    "word-count": _word_count,
    "finish-reason": _finish_reason,
    "latency": _latency,
    "python": _python,
}
