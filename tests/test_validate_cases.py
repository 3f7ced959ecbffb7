"""The valid cases under tests/data: the example registry with the case applied passes
with no findings (the invalid ones are the corpus, run by tests/test_corpus.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapterctl.cli.app import main
from tests.cases import Case, cases


@pytest.mark.parametrize("case", cases("valid"), ids=lambda case: case.name)
def test_valid_case_passes(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = case.build(tmp_path / "registry")
    monkeypatch.chdir(root)
    code = main(["validate"])
    assert capsys.readouterr().out == "✓ validate: 18 files, no problems\n"
    assert code == 0
