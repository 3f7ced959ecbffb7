"""Loading one registry file: read safely, validate against its model, check its identity.

Everything here works on a single file so that the registry can load files in parallel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from adapterctl.findings import Finding, JsonPath, Location, Severity
from adapterctl.gates.schema import validate
from adapterctl.layout import Placement, Reference, references_of, schema_reference
from adapterctl.model.common import Frozen, kind
from adapterctl.model.kinds import Kind
from adapterctl.yamlio import Source, YamlError, decode, load, read_bytes

MODELINE = "# yaml-language-server: $schema="


@dataclass(frozen=True, slots=True)
class Entry:
    """What the registry index keeps of a valid document: cheap to pass between processes."""

    path: str
    placement: Placement
    references: tuple[Reference, ...]


@dataclass(frozen=True, slots=True)
class Loaded:
    """The outcome of loading one file: its index entry and model if valid, and the findings."""

    path: str
    entry: Entry | None
    model: Frozen | None
    findings: tuple[Finding, ...]


def load_document(root: Path, path: str, placement: Placement) -> Loaded:
    """Read, parse and validate ``root/path``; never raises for bad content."""
    try:
        text = decode(read_bytes(root / path))
        data, node = load(text)
    except YamlError as exc:
        return Loaded(path, None, None, (exc.finding(path),))
    source = Source(path, node)
    findings = _modeline(path, text, placement.kind)
    if not isinstance(data, dict):
        message = f"expected a mapping of fields at the top level, got {kind(data)}"
        findings.append(Finding("schema/invalid-value", Severity.ERROR, source.locate(()), message))
        return Loaded(path, None, None, tuple(findings))
    model, errors = validate(placement.kind.model, data, source)
    findings += errors
    if model is None:
        return Loaded(path, None, None, tuple(findings))
    findings += _identity(placement, model, source)
    entry = Entry(path, placement, references_of(model))
    return Loaded(path, entry, model, tuple(findings))


def _modeline(path: str, text: str, kind_: Kind) -> list[Finding]:
    expected = schema_reference(path, kind_)
    for number, line in enumerate(text.splitlines()[:20], start=1):
        if line.startswith(MODELINE):
            found = line.removeprefix(MODELINE).strip()
            if found == expected:
                return []
            message = f"$schema points at '{found}'; expected '{expected}'"
            return [_modeline_finding(path, number, message)]
        if line.strip() and not line.startswith("#"):
            break
    message = f"no '{MODELINE}{expected}' line"
    return [_modeline_finding(path, 1, message)]


def _modeline_finding(path: str, line: int, message: str) -> Finding:
    hint = "put it first in the file: editors then validate the file as you type"
    return Finding("schema/modeline", Severity.WARNING, Location(path, line, 1), message, hint)


def _identity(placement: Placement, model: Frozen, source: Source) -> list[Finding]:
    expected: dict[str, str | None] = {"name": placement.name}
    if placement.kind is Kind.ADAPTER_REVISION:
        expected["version"] = placement.item
    elif placement.kind is Kind.BASE:
        expected["revision"] = placement.item
    elif placement.kind is Kind.GOLDEN_SUITE:
        expected = {"suite": placement.item}
    findings = []
    for field, want in expected.items():
        got = getattr(model, field)
        if want is not None and got != want:
            findings.append(_mismatch(source, (field,), got, want))
    return findings


def _mismatch(source: Source, path: JsonPath, got: str, want: str) -> Finding:
    return Finding(
        "schema/path-mismatch",
        Severity.ERROR,
        source.locate(path),
        f"{path[-1]} '{got}' does not match the file's path, which says '{want}'",
        "the path is the registry key: rename the file or correct the field",
    )
