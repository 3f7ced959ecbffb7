"""The example registry's artifacts are real and reproducible from the example kit."""

from __future__ import annotations

from pathlib import Path

import pytest

from examples.build_registry import ADAPTERS, BASES, build
from examples.kit import write_examples
from tests.conftest import REPO, copy_registry


def test_rebuilding_from_the_kit_reproduces_manifests_and_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")  # build() sets it; restored afterwards
    root = copy_registry(tmp_path / "registry")
    kit = tmp_path / "kit"
    write_examples(kit)
    build(root, kit)
    manifests = [f"bases/{n}/{r}.yaml" for n, r in BASES] + [
        f"adapters/{n}/{v}.yaml" for n, v in ADAPTERS
    ]
    for path in manifests:
        assert (root / path).read_text() == (REPO / path).read_text(), path
    built = sorted(p.name for p in (root / "examples/store/sha256").iterdir())
    committed = sorted(p.name for p in (REPO / "examples/store/sha256").iterdir())
    assert built == committed
    for digest in built:
        for file in (REPO / "examples/store/sha256" / digest).iterdir():
            assert (root / "examples/store/sha256" / digest / file.name).read_bytes() == (
                file.read_bytes()
            )
