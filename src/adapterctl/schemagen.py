"""JSON Schemas generated from the models, and the check that the committed ones match."""

from __future__ import annotations

import json
from pathlib import Path

from adapterctl.findings import Finding, Location, Severity
from adapterctl.model.kinds import Kind

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_DIR = "schemas"


def generate(kind: Kind) -> str:
    """The JSON Schema of ``kind`` as committed: stable key order, two-space indent."""
    schema = kind.model.model_json_schema(by_alias=True, mode="validation")
    document = {"$schema": DRAFT, "title": schema.pop("title"), **schema}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write(root: Path) -> list[str]:
    """Write every schema under ``root/schemas``; returns the paths that changed."""
    directory = root / SCHEMA_DIR
    directory.mkdir(exist_ok=True)
    changed = []
    for kind in Kind:
        target = directory / kind.schema_file
        text = generate(kind)
        if not target.is_file() or target.read_text("utf-8") != text:
            tmp = target.with_suffix(".tmp")
            tmp.write_text(text, "utf-8")
            tmp.replace(target)
            changed.append(f"{SCHEMA_DIR}/{kind.schema_file}")
    return changed


def drift(root: Path) -> list[Finding]:
    """A finding for every committed schema that differs from the models (or is missing)."""
    findings = []
    for kind in Kind:
        path = f"{SCHEMA_DIR}/{kind.schema_file}"
        target = root / path
        if not target.is_file():
            message = f"missing: the {kind.value} schema has not been generated"
        elif target.read_text("utf-8") != generate(kind):
            message = f"out of date: the {kind.value} model changed since it was generated"
        else:
            continue
        hint = "run `adapterctl schemas --write` and commit the result"
        findings.append(Finding("schemas/drift", Severity.ERROR, Location(path), message, hint))
    return findings
