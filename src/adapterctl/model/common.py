"""Shared building blocks of the data model: the frozen base class and constrained types.

Scalars are strict (YAML's ``"8"`` is not the integer 8, ``yes`` is not a boolean) while
sequences read from YAML lists become tuples, so that every model is immutable.
"""

from __future__ import annotations

import re
import warnings
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    Strict,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError, ValidationError


def first_error(exc: ValidationError) -> str:
    """``field.path: message`` of pydantic's first error, for one-line refusals."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "(top)"
    return f"{where}: {error['msg']}"


def regex_problem(pattern: str) -> str | None:
    """Why a regular expression from a file cannot be used, or None when it can: it does not
    parse, it repeats or nests beyond what ``re`` compiles, or ``re`` warns that a later
    Python will read it differently (a ``[`` inside a set, ``--`` or ``&&`` in one)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", FutureWarning)
            re.compile(pattern)
    except (re.error, OverflowError) as exc:
        return str(exc)
    except RecursionError:
        return "groups nested too deeply"
    except FutureWarning as exc:
        reason = str(exc)
        return f"{reason[:1].lower()}{reason[1:]}, which a later Python reads differently"
    return None


class Frozen(BaseModel):
    """Base of every registry model: immutable, unknown fields refused."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=False,
        use_attribute_docstrings=True,
    )


def pattern_type(
    name: str, pattern: str, description: str, explain: str, max_length: int = 128
) -> Any:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if len(value) > max_length or not compiled.fullmatch(value):
            raise PydanticCustomError(name, explain, {"value": value})
        return value

    schema = {"type": "string", "pattern": pattern, "maxLength": max_length}
    return Annotated[
        str,
        Strict(),
        AfterValidator(check),
        WithJsonSchema({**schema, "description": description}),
    ]


Str = Annotated[str, Strict()]
Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]
Number = Annotated[float, Strict()]
Text = Annotated[str, Strict(), Field(min_length=1, max_length=4096)]
PositiveInt = Annotated[int, Strict(), Field(ge=1)]
Percent = Annotated[int, Strict(), Field(ge=0, le=100)]
Fraction = Annotated[float, Strict(), Field(ge=0.0, le=1.0)]
Timestamp = AwareDatetime


def _no_nul(value: str) -> str:
    if "\0" in value:
        raise PydanticCustomError("path", "a path cannot hold the character U+0000 (NUL)")
    return value


HostPath = Annotated[Text, AfterValidator(_no_nul)]
"""A file or folder on the host that reads the configuration (relative to its folder)."""

NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
SEMVER_PATTERN = (
    r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-((?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"
REVISION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
OWNER_PATTERN = r"^@[A-Za-z0-9](?:[A-Za-z0-9-]*)(?:/[A-Za-z0-9._-]+)?$"
DURATION_PATTERN = r"^(?=[0-9])([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$"

Name = pattern_type(
    "name",
    NAME_PATTERN,
    "Lower-case letters, digits and '-', at most 63 characters (a DNS label).",
    "'{value}' is not a valid name: use lower-case letters, digits and '-' "
    "(at most 63, starting and ending with a letter or digit)",
    max_length=63,
)
BASE_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$"
BaseName = pattern_type(
    "base-name",
    BASE_NAME_PATTERN,
    "A base model's name as people write it (llama-3.1-8b-instruct): a Kubernetes DNS-1123 "
    "subdomain, lower-case letters, digits, '-' and '.', at most 253 characters, each "
    "dot-separated part at most 63 and starting and ending with a letter or digit.",
    "'{value}' is not a valid base name: use lower-case letters, digits, '-' and '.' (a "
    "DNS-1123 subdomain: at most 253 characters, each dot-separated part starting and ending "
    "with a letter or digit), e.g. llama-3.1-8b-instruct",
    max_length=253,
)
SemVer = pattern_type(
    "semver",
    SEMVER_PATTERN,
    "A semantic version (https://semver.org), e.g. 1.2.0.",
    "'{value}' is not a semantic version: expected MAJOR.MINOR.PATCH, e.g. 1.2.0",
)
Digest = pattern_type(
    "digest",
    DIGEST_PATTERN,
    "A SHA-256 digest: 'sha256:' and 64 lower-case hex digits.",
    "'{value}' is not a digest: expected 'sha256:' followed by 64 lower-case hex digits",
    max_length=71,
)
Revision = pattern_type(
    "revision",
    REVISION_PATTERN,
    "A base model revision: an upstream commit, a digest prefix or a label such as r1.",
    "'{value}' is not a valid revision: use letters, digits, '.', '_' and '-'",
)
# A base revision named in one string, as routes and the command line write it.
BASE_TARGET_PATTERN = f"^{BASE_NAME_PATTERN[1:-1]}@{REVISION_PATTERN[1:]}"
BaseTarget = pattern_type(
    "base-target",
    BASE_TARGET_PATTERN,
    "A base revision, NAME@REVISION (bases/NAME/REVISION.yaml), e.g. support-bot-merged@r1.",
    "'{value}' is not a base revision: expected NAME@REVISION (bases/NAME/REVISION.yaml), "
    "e.g. support-bot-merged@r1",
    max_length=382,
)
Owner = pattern_type(
    "owner",
    OWNER_PATTERN,
    "A GitHub user (@name) or team (@org/team).",
    "'{value}' is not a GitHub owner: expected @user or @org/team",
)
# One path component (not '.' or '..'): artifact files live flat in the store.
FileName = pattern_type(
    "file_name",
    r"^[A-Za-z0-9._-]*[A-Za-z0-9_-][A-Za-z0-9._-]*$",
    "An artifact file name: one path component of letters, digits, '.', '_' and '-'.",
    "'{value}' is not an artifact file name: one path component, no '/' or '..' "
    "(it would escape the store)",
    max_length=255,
)
Duration = pattern_type(
    "duration",
    DURATION_PATTERN,
    "A duration such as 24h, 1d12h or 30m.",
    "'{value}' is not a duration: expected e.g. 24h, 1d12h or 30m",
    max_length=32,
)


def _check_scalar(value: object) -> str | int | float | bool:
    if isinstance(value, str | int | float | bool):
        return value
    raise PydanticCustomError(
        "scalar_type", "expected a string, number or boolean, got {kind}", {"kind": kind(value)}
    )


_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (type(None), "null"),
    (bool, "a boolean"),
    ((int, float), "a number"),
    (str, "a string"),
    (dict, "a mapping"),
    ((list, tuple), "a list"),
)


def kind(value: object) -> str:
    """How a YAML value reads to a person: 'a mapping', 'a list', 'a number'..."""
    for types, word in _KINDS:
        if isinstance(value, types):
            return word
    return f"a {type(value).__name__}"


Scalar = Annotated[
    str | int | float | bool,
    PlainValidator(_check_scalar),
    WithJsonSchema({"type": ["string", "number", "boolean"]}),
]
