"""Exit codes, output formats and the top-level error handler of the CLI."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from adapterctl import __version__
from adapterctl.cli.app import main
from adapterctl.gates import references

ENV = "environments/prod/environment.yaml"


def _break_weights(root: Path) -> None:
    env = root / ENV
    env.write_text(env.read_text().replace("weight: 90}", "weight: 85}"))


@pytest.fixture
def broken(registry: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _break_weights(registry)
    monkeypatch.chdir(registry)
    return registry


def test_json_report(broken: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report == {
        "command": "validate",
        "ok": False,
        "summary": {"files": 18, "errors": 1, "warnings": 0, "info": 0},
        "findings": [
            {
                "file": ENV,
                "line": 8,
                "column": 5,
                "path": "$.routes.support-bot",
                "severity": "error",
                "rule": "schema/invalid-value",
                "message": "weights sum to 95 (85 + 10), not 100",
                "hint": None,
            }
        ],
    }


def test_junit_report(broken: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--format", "junit"]) == 1
    suites = ET.fromstring(capsys.readouterr().out)
    suite = suites.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("18", "1")
    failures = suite.findall("testcase/failure")
    assert len(failures) == 1
    assert failures[0].get("type") == "schema/invalid-value"
    assert failures[0].get("message") == "weights sum to 95 (85 + 10), not 100"
    case = suite.find(f"testcase[@name='{ENV}']")
    assert case is not None
    assert case.get("classname") == "environments.prod"


def test_markdown_report(broken: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--format", "markdown"]) == 1
    assert capsys.readouterr().out == (
        "### ❌ adapterctl validate: 1 error in 18 files\n"
        "\n"
        "| Location | Severity | Rule | Message |\n"
        "|---|---|---|---|\n"
        f"| `{ENV}:8` `$.routes.support-bot` | ❌ error | `schema/invalid-value` "
        "| weights sum to 95 (85 + 10), not 100 |\n"
    )


def test_markdown_escapes_table_cells(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = registry / "adapters/support-bot/adapter.yaml"
    line.write_text(line.read_text().replace("golden_suites: [refunds]", "golden_suites: ['a|b']"))
    assert main(["validate", "--root", str(registry), "--format", "markdown"]) == 1
    row = capsys.readouterr().out.splitlines()[-1]
    assert "'a\\|b' is not a valid name" in row
    assert row.count(" | ") == 3


def test_output_file_instead_of_stdout(broken: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--format", "json", "--output", "report.json"]) == 1
    assert capsys.readouterr().out == ""
    assert json.loads((broken / "report.json").read_text())["ok"] is False
    assert [p.name for p in broken.iterdir() if p.name.startswith(".report")] == []


def test_output_into_missing_folder_is_a_usage_error(
    broken: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "-o", "missing/report.txt"]) == 2
    err = capsys.readouterr().err
    assert err == "adapterctl: error: cannot write missing/report.txt: No such file or directory\n"


def test_valid_registry_exits_zero(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--root", str(registry)]) == 0
    assert capsys.readouterr().out == "✓ validate: 18 files, no problems\n"


def test_warnings_do_not_fail(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = registry / "bases/tiny-llama/r1.yaml"
    path.write_text(path.read_text().replace("../../schemas/base", "../schemas/base"))
    assert main(["validate", "--root", str(registry)]) == 0
    assert capsys.readouterr().out == (
        "bases/tiny-llama/r1.yaml:1  warning  schema/modeline\n"
        "  $schema points at '../schemas/base.schema.json'; "
        "expected '../../schemas/base.schema.json'\n"
        "  → put it first in the file: editors then validate the file as you type\n"
        "\n"
        "✓ validate: 1 warning in 18 files\n"
    )


def test_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--format", "xml"]) == 2
    assert "Invalid value for '--format' / '-f'" in capsys.readouterr().err


def test_missing_path_is_a_usage_error(
    registry: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(registry)
    assert main(["validate", "adapters/nope.yaml"]) == 2
    assert capsys.readouterr().err == (
        "adapterctl: error: adapters/nope.yaml: no such file or directory\n"
    )


def test_outside_a_registry_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["validate"]) == 2
    assert capsys.readouterr().err.startswith(
        f"adapterctl: error: {tmp_path.resolve()} is not inside an adapterctl registry\n  → "
    )


def test_root_is_found_from_a_subfolder(
    registry: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _break_weights(registry)
    monkeypatch.chdir(registry / "adapters/support-bot")
    assert main(["validate", "."]) == 0
    assert capsys.readouterr().out == "✓ validate: 5 files, no problems\n"


def test_internal_error_exits_three_without_traceback(
    registry: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def explode(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(references, "check", explode)
    assert main(["validate", "--root", str(registry)]) == 3
    assert capsys.readouterr().err == (
        "adapterctl: internal error: RuntimeError: boom\n"
        "  → run again with --debug for the traceback, and report it\n"
    )
    assert main(["--debug", "validate", "--root", str(registry)]) == 3
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert err.endswith("RuntimeError: boom\n")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"adapterctl {__version__}\n"


def test_no_arguments_shows_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "validate" in capsys.readouterr().out
