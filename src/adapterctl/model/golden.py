"""A golden prompt suite: ``adapters/<name>/golden/<suite>.yaml``.

The assertion names follow promptfoo where it has one; each can be negated with ``not-``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    JsonValue,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from adapterctl.model.common import (
    Fraction,
    Frozen,
    Name,
    Number,
    PositiveInt,
    Str,
    Text,
    regex_problem,
)

ASSERTION_TYPES = (
    "equals",
    "contains",
    "icontains",
    "contains-any",
    "contains-all",
    "regex",
    "starts-with",
    "is-json",
    "json-schema",
    "levenshtein",
    "rouge-n",
    "word-count",
    "finish-reason",
    "latency",
    "python",
)
ALL_ASSERTION_TYPES = ASSERTION_TYPES + tuple(f"not-{name}" for name in ASSERTION_TYPES)


def _check_assertion_type(value: str) -> str:
    if value not in ALL_ASSERTION_TYPES:
        raise PydanticCustomError(
            "assertion_type",
            "unknown assertion type '{value}'",
            {"value": value},
        )
    return value


AssertionType = Annotated[
    Str,
    AfterValidator(_check_assertion_type),
    WithJsonSchema({"type": "string", "enum": list(ALL_ASSERTION_TYPES)}),
]
PYTHON_REF = re.compile(
    r"^[A-Za-z_][\w.]*(/[\w.-]+)*\.py:[A-Za-z_]\w*$|^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"
)
LIST_VALUED = {"contains-any", "contains-all"}
TEXT_VALUED = {"equals", "contains", "icontains", "regex", "starts-with", "finish-reason"}


class Assertion(Frozen):
    """One check of a model answer."""

    type: AssertionType
    value: JsonValue = None
    """What the answer is compared with; its form depends on the type."""
    threshold: Number | None = None
    """Score threshold for scored types (levenshtein, rouge-n, latency)."""
    weight: Number = Field(default=1.0, ge=0)
    """Weight of this assertion in the case's score."""
    metric: Name | None = None
    """Name under which the score is reported and compared with the baseline."""

    @property
    def base_type(self) -> str:
        return self.type.removeprefix("not-")

    @model_validator(mode="after")
    def _value_fits_type(self) -> Assertion:
        kind, value = self.base_type, self.value
        if kind in TEXT_VALUED and not isinstance(value, str):
            raise ValueError(f"'{self.type}' needs a string value")
        if kind in LIST_VALUED and not (
            isinstance(value, list) and value and all(isinstance(v, str) for v in value)
        ):
            raise ValueError(f"'{self.type}' needs a non-empty list of strings")
        if kind == "regex":
            _compile(str(value))
        if kind == "python" and not (isinstance(value, str) and PYTHON_REF.match(value)):
            raise ValueError(
                "'python' needs a function in the repository, as path/to/file.py:function"
            )
        return self


def _compile(pattern: str) -> None:
    problem = regex_problem(pattern)
    if problem is not None:
        raise ValueError(f"invalid regular expression: {problem}")


class Message(Frozen):
    """One chat message."""

    role: Literal["system", "user", "assistant"]
    content: Str


class Case(Frozen):
    """One reference case: a prompt (completion) or chat messages, and assertions."""

    id: Name
    description: Str | None = None
    prompt: Str | None = None
    messages: tuple[Message, ...] | None = Field(default=None, min_length=1)
    vars: dict[Str, Str] = Field(default_factory=dict)
    """Values substituted for {{name}} in the prompt or messages."""
    assert_: tuple[Assertion, ...] = Field(alias="assert", min_length=1)
    threshold: Fraction | None = None
    """Weighted score the case needs to pass (default: every assertion passes)."""
    max_tokens: PositiveInt | None = None

    @model_validator(mode="after")
    def _prompt_or_messages(self) -> Case:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("a case needs exactly one of 'prompt' or 'messages'")
        return self


class SuiteThresholds(Frozen):
    """Suite-wide thresholds."""

    pass_rate: Fraction = 1.0
    """Share of cases that must pass."""


class GoldenSuite(Frozen):
    """A golden prompt suite, owned by the line's product owner."""

    suite: Name
    """The suite's name (its file name)."""
    description: Text
    vars: dict[Str, Str] = Field(default_factory=dict)
    """Defaults for case variables."""
    cases: tuple[Case, ...] = Field(min_length=1)
    thresholds: SuiteThresholds = Field(default_factory=SuiteThresholds)

    @field_validator("cases")
    @classmethod
    def _unique_case_ids(cls, cases: tuple[Case, ...]) -> tuple[Case, ...]:
        seen: set[str] = set()
        for case in cases:
            if case.id in seen:
                raise ValueError(f"case id '{case.id}' is used twice")
            seen.add(case.id)
        return cases
