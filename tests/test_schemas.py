"""Generated JSON Schemas: committed copies match the models, editors can use them, and
every registry file names its schema."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from adapterctl import schemagen
from adapterctl.cli.app import main
from adapterctl.documents import MODELINE
from adapterctl.layout import classify
from adapterctl.model.kinds import Kind
from tests.conftest import REPO


def _yaml_files() -> list[str]:
    """Every YAML file of the repository except the deliberately broken test inputs and
    GitHub's own files (workflows, linter settings: checked by actionlint)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.yaml", "*.yml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    skipped = ("tests/data/invalid/", ".github/")
    return [path for path in listed if not path.startswith(skipped)]


def _registry_path(path: str) -> str:
    """The path a file has inside its registry (test overlays mirror a registry)."""
    return path.split("/overlay/", 1)[1] if "/overlay/" in path else path


def _schema_file(path: str) -> str:
    """The schema a YAML file of the repository must name: its registry kind's, or the
    training record's for hand-over files."""
    placement = classify(_registry_path(path))
    if placement is not None:
        return placement.kind.schema_file
    if path.endswith("teams.yaml"):
        return "teams.schema.json"
    if path.endswith("/trust.yaml"):
        return "trust.schema.json"
    assert path.endswith("/training.yaml"), f"{path} is neither a registry file nor a record"
    return "training-record.schema.json"


def _registry_files() -> list[str]:
    return [path for path in _yaml_files() if "/overlay/" not in path]


def test_committed_schemas_match_the_models() -> None:
    assert schemagen.drift(REPO) == []


def test_drift_is_reported_and_write_repairs_it(
    registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = registry / "schemas/environment.schema.json"
    schema.write_text(schema.read_text().replace('"retain"', '"keep"'))
    (registry / "schemas/base.schema.json").unlink()
    assert main(["schemas", "--root", str(registry)]) == 1
    assert capsys.readouterr().out == (
        "schemas/base.schema.json  error  schemas/drift\n"
        "  missing: the base schema has not been generated\n"
        "  → run `adapterctl schemas --write` and commit the result\n"
        "\n"
        "schemas/environment.schema.json  error  schemas/drift\n"
        "  out of date: the environment model changed since it was generated\n"
        "  → run `adapterctl schemas --write` and commit the result\n"
        "\n"
        "✗ schemas: 2 errors in 13 files\n"
    )
    assert main(["schemas", "--write", "--root", str(registry)]) == 0
    assert "wrote schemas/base.schema.json\n" in capsys.readouterr().out
    assert main(["schemas", "--root", str(registry)]) == 0


def test_schemas_are_valid_draft_2020_12() -> None:
    for path in schemagen.files():
        name = path.removeprefix("schemas/").removesuffix(".schema.json")
        Draft202012Validator.check_schema(json.loads(schemagen.generate(name)))


@pytest.mark.parametrize("path", _yaml_files())
def test_yaml_file_names_its_schema_and_the_schema_accepts_it(path: str) -> None:
    schema_file = _schema_file(path)
    depth = path.count("/") if "/overlay/" not in path else _registry_path(path).count("/")
    text = (REPO / path).read_text()
    assert text.startswith(f"{MODELINE}{'../' * depth}schemas/{schema_file}\n")
    schema = json.loads((REPO / "schemas" / schema_file).read_text())
    document = json.loads(json.dumps(yaml.safe_load(text), default=str))
    assert list(Draft202012Validator(schema).iter_errors(document)) == []


def test_schema_rejects_what_the_model_rejects() -> None:
    schema = json.loads(schemagen.generate(Kind.ADAPTER_REVISION.value))
    text = (REPO / "adapters/support-bot/1.1.0.yaml").read_text()
    document = json.loads(json.dumps(yaml.safe_load(text), default=str))
    document["lora"]["rnak"] = 8
    document["artifact"]["digest"] = "sha256:abc"
    errors = sorted(e.message for e in Draft202012Validator(schema).iter_errors(document))
    assert errors == [
        "'sha256:abc' does not match '^sha256:[0-9a-f]{64}$'",
        "Additional properties are not allowed ('rnak' was unexpected)",
    ]


def test_every_registry_kind_has_an_example() -> None:
    kinds = {placement.kind for path in _registry_files() if (placement := classify(path))}
    assert kinds == set(Kind)
