"""The reference node's request bodies, as vLLM's ``protocol.py`` models accept them, and the
structured-output constraint a generation request asks for.

Unknown fields are accepted and ignored, as vLLM does. vLLM constrains decoding for
``response_format`` / ``structured_outputs``; this node cannot, so a ``Constraint`` is checked
on the finished text instead (see ``adapterctl.serve.responses``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from jsonschema import exceptions as schema_errors
from jsonschema.validators import validator_for
from pydantic import BaseModel, ConfigDict, Field

from adapterctl.serve.errors import ApiError

# --- requests (unknown fields are accepted and ignored, as vLLM does) -----------------------


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class JsonSchemaFormat(_Open):
    name: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")


class ResponseFormat(_Open):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class StructuredOutputs(_Open):
    json_: dict[str, Any] | str | None = Field(default=None, alias="json")
    regex: str | None = None
    choice: list[str] | None = None
    json_object: bool | None = None


class StreamOptions(_Open):
    include_usage: bool | None = True


class GenerationRequest(_Open):
    """The fields completion and chat requests share."""

    model: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)
    """vLLM's bounds: a 64-bit signed integer."""
    stop: str | list[str] | None = None
    n: int = 1
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    response_format: ResponseFormat | None = None
    structured_outputs: StructuredOutputs | None = None


class CompletionRequest(GenerationRequest):
    prompt: str | list[str]
    add_special_tokens: bool = True


class ContentPart(_Open):
    type: str
    text: str | None = None


class ChatMessage(_Open):
    role: str
    content: str | list[ContentPart] | None = None


class ChatRequest(GenerationRequest):
    messages: list[ChatMessage]
    max_completion_tokens: int | None = None
    add_generation_prompt: bool = True
    add_special_tokens: bool = False


class LoadLoraRequest(_Open):
    lora_name: str
    lora_path: str
    load_inplace: bool = False


class UnloadLoraRequest(_Open):
    lora_name: str


# --- structured outputs: checked after generation (see the module docstring) ---------------


@dataclass(frozen=True)
class Constraint:
    """What vLLM would have enforced while decoding; here checked on the finished text."""

    schema: dict[str, Any] | None = None
    regex: str | None = None
    choice: tuple[str, ...] | None = None

    def violation(self, text: str) -> str | None:
        """Why ``text`` breaks the constraint, or None when it holds."""
        if self.choice is not None:
            return None if text in self.choice else f"not one of {list(self.choice)}"
        if self.regex is not None:
            return None if re.fullmatch(self.regex, text) else f"does not match {self.regex!r}"
        try:
            document = json.loads(text)
        except ValueError as exc:
            return f"not JSON: {exc}"
        if self.schema is None:
            return None if isinstance(document, dict) else "not a JSON object"
        error = schema_errors.best_match(
            validator_for(self.schema)(self.schema).iter_errors(document)
        )
        return None if error is None else error.message


def constraint_for(request: GenerationRequest) -> Constraint | None:
    """``structured_outputs`` first, else ``response_format`` (vLLM's order)."""
    outputs, fmt = request.structured_outputs, request.response_format
    if outputs is not None:
        kinds = [outputs.json_, outputs.regex, outputs.choice]
        if sum(kind is not None for kind in kinds) > 1:
            raise ApiError(
                "You can only use one kind of constraints for structured outputs "
                "('json', 'regex' or 'choice').",
                param="structured_outputs",
            )
        schema = _schema(outputs.json_)
        if schema is not None or outputs.regex or outputs.choice or outputs.json_object:
            choice = tuple(outputs.choice) if outputs.choice is not None else None
            return _checked(Constraint(schema, outputs.regex, choice))
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_schema" and fmt.json_schema is None:
        raise ApiError(
            "When response_format type is 'json_schema', the 'json_schema' field must be provided.",
            param="response_format",
        )
    return _checked(Constraint(fmt.json_schema.schema_ if fmt.json_schema else None))


def _schema(value: dict[str, Any] | str | None) -> dict[str, Any] | None:
    """``structured_outputs.json`` may be the schema or its JSON text."""
    if not isinstance(value, str):
        return value
    try:
        schema = json.loads(value)
    except ValueError as exc:
        raise ApiError(f"Invalid JSON schema: {exc}", param="structured_outputs") from None
    if not isinstance(schema, dict):
        raise ApiError("Invalid JSON schema: not an object", param="structured_outputs")
    return schema


def _checked(constraint: Constraint) -> Constraint:
    """Refuse what vLLM could not compile: a broken JSON schema or regular expression."""
    try:
        if constraint.schema is not None:
            validator_for(constraint.schema).check_schema(constraint.schema)
        if constraint.regex is not None:
            re.compile(constraint.regex)
    except (schema_errors.SchemaError, re.error) as exc:
        raise ApiError(f"Invalid structured output constraint: {exc}") from None
    return constraint
