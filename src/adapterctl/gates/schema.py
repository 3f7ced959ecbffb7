"""The schema gate for one document: pydantic validation errors → findings with locations."""

from __future__ import annotations

import difflib
from dataclasses import replace
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from adapterctl.findings import Finding, JsonPath, Severity
from adapterctl.model.common import kind
from adapterctl.model.fields import field_names_at
from adapterctl.yamlio import Source

M = TypeVar("M", bound=BaseModel)

_BOUNDS = {
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be greater than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "too_short": "needs at least {min_length} item(s)",
    "too_long": "allows at most {max_length} item(s)",
    "string_too_short": "needs at least {min_length} character(s)",
    "string_too_long": "allows at most {max_length} character(s)",
}

_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "tuple_type": "a list",
    "list_type": "a list",
    "date_type": "a date (YYYY-MM-DD)",
    "datetime_type": "a timestamp (YYYY-MM-DDTHH:MM:SSZ)",
    "timezone_aware": "a timestamp with a time zone (e.g. 2026-11-20T09:12:00Z)",
}


def validate(model: type[M], data: object, source: Source) -> tuple[M | None, list[Finding]]:
    """Validate ``data`` against ``model``; findings point at the offending lines."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        errors = _without_consequences(exc.errors())
        findings = [_finding(model, error, source) for error in errors]
        return None, _without_suggested_missing(findings)


def _without_consequences(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Drop length errors of a list whose items already failed (pydantic reports both)."""
    locs = [tuple(error["loc"]) for error in errors]

    def is_consequence(error: ErrorDetails) -> bool:
        loc = tuple(error["loc"])
        return error["type"] == "too_short" and any(
            len(other) > len(loc) and other[: len(loc)] == loc for other in locs
        )

    return [error for error in errors if not is_consequence(error)]


def _without_suggested_missing(findings: list[Finding]) -> list[Finding]:
    """A misspelt field shows up as unknown *and* missing; its did-you-mean says both."""
    suggested = {
        (f.location.path[:-1], f.hint) for f in findings if f.rule == "schema/unknown-field"
    }
    return [
        f
        for f in findings
        if f.rule != "schema/missing-field"
        or (f.location.path[:-1], f"did you mean '{f.location.path[-1]}'?") not in suggested
    ]


def _finding(model: type[BaseModel], error: ErrorDetails, source: Source) -> Finding:
    path: JsonPath = tuple(part for part in error["loc"] if part != "[key]")
    kind_ = error["type"]
    if kind_ == "missing":
        return _missing(path, source)
    if kind_ == "extra_forbidden":
        return _unknown(model, path, source)
    location = source.locate(path)
    message, hint = _describe(error, source.scalar_text(path))
    return Finding("schema/invalid-value", Severity.ERROR, location, message, hint)


def _missing(path: JsonPath, source: Source) -> Finding:
    location = replace(source.locate(path[:-1]), path=path)
    message = f"missing required field '{path[-1]}'"
    return Finding("schema/missing-field", Severity.ERROR, location, message)


def _unknown(model: type[BaseModel], path: JsonPath, source: Source) -> Finding:
    allowed = field_names_at(model, path[:-1])
    name = str(path[-1])
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    hint: str | None = None
    if close:
        hint = f"did you mean '{close[0]}'?"
    elif allowed:
        hint = "allowed fields: " + ", ".join(allowed)
    location = source.locate(path, key=True)
    return Finding(
        "schema/unknown-field", Severity.ERROR, location, f"unknown field '{name}'", hint
    )


def _describe(error: ErrorDetails, written: str | None) -> tuple[str, str | None]:
    kind_, value = error["type"], error["input"]
    if kind_ == "string_type" and isinstance(value, int | float | bool):
        written = written or _show(value)
        return (
            f"expected a string, got {written} (YAML reads it as {kind(value)}: {_show(value)})",
            f'quote the value: "{written}"',
        )
    if kind_ in _EXPECTED:
        return f"expected {_EXPECTED[kind_]}, got {_shown_with_kind(value)}", None
    if kind_ in _BOUNDS:
        ctx = error.get("ctx", {})
        got = ctx.get("actual_length", _show(value))
        return _BOUNDS[kind_].format(**ctx) + f", got {got}", None
    if kind_ == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"expected {expected}, got {_show(value)}", None
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] in ("value_error", "assertion_error") or _is_custom(error):
        return message, None
    return f"{message[0].lower()}{message[1:]}, got {_show(value)}", None


def _is_custom(error: ErrorDetails) -> bool:
    return "url" not in error


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57] + "...")
    if isinstance(value, dict | list):
        return kind(value)
    return str(value)


def _shown_with_kind(value: Any) -> str:
    if isinstance(value, dict | list) or value is None:
        return kind(value)
    return f"{_show(value)} ({kind(value)})"
