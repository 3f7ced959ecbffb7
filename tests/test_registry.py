"""Loading the registry: parallel and sequential loading agree; models load lazily."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapterctl import registry as registry_module
from adapterctl.gates import references
from adapterctl.model import AdapterRevision, Environment
from adapterctl.registry import Registry
from tests.conftest import copy_registry


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _broken_registry(root: Path) -> Path:
    """The example registry with a YAML error, a schema error and a dangling reference."""
    _edit(
        root / "adapters/support-bot/1.2.0.yaml", "  alpha: 32.0\n", "  alpha: 32.0\n  alpha: 8\n"
    )
    _edit(root / "environments/staging/environment.yaml", "{version: 1.1.0", "{version: v1.1")
    _edit(root / "adapters/sql-helper/1.0.0.yaml", "revision: r1}", "revision: r9}")
    return root


def test_parallel_and_sequential_loading_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _broken_registry(copy_registry(tmp_path / "registry"))
    sequential = Registry.load(root, workers=1)
    monkeypatch.setattr(registry_module, "PARALLEL_THRESHOLD", 1)
    parallel = Registry.load(root, workers=2)
    assert parallel.entries == sequential.entries
    assert sorted(parallel.findings, key=lambda f: f.sort_key()) == sorted(
        sequential.findings, key=lambda f: f.sort_key()
    )
    dangling = references.check(sequential)
    assert references.check(parallel) == dangling
    assert [f.rule for f in sorted(sequential.findings, key=lambda f: f.sort_key())] == [
        "yaml/duplicate-key",
        "schema/invalid-value",
    ]
    assert [f.rule for f in dangling] == ["references/missing-base", "references/base-mismatch"]


def test_models_are_loaded_again_after_a_parallel_load(
    registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry_module, "PARALLEL_THRESHOLD", 1)
    loaded = Registry.load(registry, workers=2)
    revision = loaded.revision("support-bot", "1.1.0")
    assert isinstance(revision, AdapterRevision)
    assert (revision.lora.rank, revision.lora.target_modules) == (8, ("q_proj", "v_proj"))
    assert loaded.revision("support-bot", "9.9.9") is None
    prod = loaded.environment("prod")
    assert isinstance(prod, Environment)
    assert [(r.version, r.weight) for r in prod.routes["support-bot"]] == [
        ("1.0.0", 90),
        ("1.1.0", 10),
    ]
    assert loaded.model("environments/prod/environment.yaml", AdapterRevision) is None


def test_locate_reparses_only_on_demand(registry: Path) -> None:
    loaded = Registry.load(registry, workers=1)
    location = loaded.locate("environments/prod/environment.yaml", ("promotion", "from"))
    assert (location.line, location.column) == (14, 9)
    missing = loaded.locate("environments/prod/environment.yaml", ("routes", "nope", 0))
    assert (missing.line, missing.path) == (7, ("routes", "nope", 0))
