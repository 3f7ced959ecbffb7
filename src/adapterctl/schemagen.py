"""JSON Schemas generated from the models, and the check that the committed ones match."""

from __future__ import annotations

import json
from pathlib import Path

from adapterctl.findings import Finding, Location, Severity
from adapterctl.fsutil import write_atomic
from adapterctl.model.common import Frozen
from adapterctl.model.gateway import GatewayConfig, TenantKeys
from adapterctl.model.kinds import Kind
from adapterctl.model.node import NodeConfig
from adapterctl.model.revision import Training
from adapterctl.model.teams import Teams
from adapterctl.model.trust import TrustPolicy

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_DIR = "schemas"


EXTRA: dict[str, type[Frozen]] = {
    "training-record": Training,
    "teams": Teams,
    "trust": TrustPolicy,
    "node-config": NodeConfig,
    "gateway-config": GatewayConfig,
    "tenant-keys": TenantKeys,
}
"""Schemas of files that are not registry documents (name → model)."""


def _schemas() -> dict[str, type[Frozen]]:
    return {kind.value: kind.model for kind in Kind} | EXTRA


def generate(name: str) -> str:
    """The JSON Schema ``name`` as committed: stable key order, two-space indent."""
    schema = _schemas()[name].model_json_schema(by_alias=True, mode="validation")
    document = {"$schema": DRAFT, "title": schema.pop("title"), **schema}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write(root: Path) -> list[str]:
    """Write every schema under ``root/schemas``; returns the paths that changed."""
    directory = root / SCHEMA_DIR
    directory.mkdir(exist_ok=True)
    changed = []
    for name in _schemas():
        target = directory / file_name(name)
        text = generate(name)
        if not target.is_file() or target.read_text("utf-8") != text:
            write_atomic(target, text)
            changed.append(f"{SCHEMA_DIR}/{file_name(name)}")
    return changed


def file_name(name: str) -> str:
    return f"{name}.schema.json"


def files() -> list[str]:
    """Every committed schema, repository-relative."""
    return [f"{SCHEMA_DIR}/{file_name(name)}" for name in _schemas()]


def drift(root: Path) -> list[Finding]:
    """A finding for every committed schema that differs from the models (or is missing)."""
    findings = []
    for name in _schemas():
        path = f"{SCHEMA_DIR}/{file_name(name)}"
        target = root / path
        if not target.is_file():
            message = f"missing: the {name} schema has not been generated"
        elif target.read_text("utf-8") != generate(name):
            message = f"out of date: the {name} model changed since it was generated"
        else:
            continue
        hint = "run `adapterctl schemas --write` and commit the result"
        findings.append(Finding("schemas/drift", Severity.ERROR, Location(path), message, hint))
    return findings
