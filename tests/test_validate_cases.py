"""Every case under tests/data: invalid ones print exactly their expected.txt and exit 1;
valid ones (the example registry with the case applied) pass with no findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapterctl.cli.app import main
from tests.cases import Case, cases


@pytest.mark.parametrize("case", cases("invalid"), ids=lambda case: case.name)
def test_invalid_case_fails_with_its_message(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = case.build(tmp_path / "registry")
    monkeypatch.chdir(root)
    code = main(["validate", *case.args])
    captured = capsys.readouterr()
    assert captured.out == case.expected
    assert captured.err == ""
    assert code == 1


@pytest.mark.parametrize("case", cases("valid"), ids=lambda case: case.name)
def test_valid_case_passes(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = case.build(tmp_path / "registry")
    monkeypatch.chdir(root)
    code = main(["validate"])
    assert capsys.readouterr().out == "✓ validate: 18 files, no problems\n"
    assert code == 0


def test_there_are_at_least_thirty_invalid_cases() -> None:
    assert len(cases("invalid")) >= 30
