"""``adapterctl codeowners`` on real files: this repository's CODEOWNERS and broken ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapterctl.cli.app import main
from tests.conftest import REPO


@pytest.mark.parametrize(
    ("path", "owner"),
    [
        ("adapters/support-bot/1.1.0.yaml", "@example-org/ml-team"),
        ("bases/tiny-llama/r1.yaml", "@example-org/ml-team"),
        ("adapters/support-bot/golden/refunds.yaml", "@example-org/support-product"),
        ("adapters/new-line/golden/basics.yaml", "@example-org/product-owners"),
        ("environments/prod/environment.yaml", "@example-org/release-managers"),
        ("environments/staging/environment.yaml", "@example-org/platform"),
        ("schemas/environment.schema.json", "@example-org/platform"),
        ("scripts/validate-pr", "@example-org/platform"),
        (".github/workflows/pr-gates.yml", "@example-org/platform"),
    ],
)
def test_repository_codeowners_follow_the_design(
    path: str, owner: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["codeowners", "--root", str(REPO), "--format", "json", str(REPO / path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["file"] == "CODEOWNERS"
    assert report["findings"] == []
    assert [item["owners"] for item in report["paths"]] == [[owner]]


def test_text_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "adapters").mkdir()
    (tmp_path / "CODEOWNERS").write_text("* @org/all\n/adapters/ @org/ml\n/adapters/x/ \n")
    monkeypatch.chdir(tmp_path)
    assert main(["codeowners", "README.md", "adapters/a.yaml", "adapters/x/1.0.0.yaml"]) == 0
    assert capsys.readouterr().out == (
        "README.md              @org/all  (CODEOWNERS:1 *)\n"
        "adapters/a.yaml        @org/ml  (CODEOWNERS:2 /adapters/)\n"
        "adapters/x/1.0.0.yaml  (no owners) (CODEOWNERS:3 /adapters/x/)\n"
    )


def test_github_folder_takes_precedence_and_invalid_lines_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "adapters").mkdir()
    (tmp_path / ".github").mkdir()
    (tmp_path / "CODEOWNERS").write_text("* @org/ignored\n")
    (tmp_path / ".github/CODEOWNERS").write_text("/adapters/ release-managers\n*.md @org/docs\n")
    monkeypatch.chdir(tmp_path)
    assert main(["codeowners", "adapters/a.yaml", "README.md"]) == 1
    assert capsys.readouterr().out == (
        "adapters/a.yaml  (no owners: no rule matches)\n"
        "README.md        @org/docs  (.github/CODEOWNERS:2 *.md)\n"
        "\n"
        ".github/CODEOWNERS:1  error  codeowners/invalid-line\n"
        "  invalid owner 'release-managers': expected @user, @org/team or an email address\n"
        "  → GitHub skips invalid CODEOWNERS lines, so this rule has no effect; fix this line\n"
        "\n"
        "✗ codeowners: 1 error in 1 file\n"
    )


def test_no_codeowners_file_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "environments").mkdir()
    monkeypatch.chdir(tmp_path)
    assert main(["codeowners", "x"]) == 2
    assert capsys.readouterr().err == (
        f"adapterctl: error: no CODEOWNERS file in {tmp_path.resolve()}\n"
        "  → GitHub reads .github/CODEOWNERS, CODEOWNERS or docs/CODEOWNERS\n"
    )


def test_path_outside_the_repository_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["codeowners", "--root", str(REPO), str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err == (
        f"adapterctl: error: {tmp_path / 'x'}: outside the repository at {REPO}\n"
    )
