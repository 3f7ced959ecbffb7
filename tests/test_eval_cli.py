"""``adapterctl eval`` end to end: the example registry on the reference node, over HTTP.

support-bot 1.1.0 passes against 1.0.0 (what prod serves most); 1.2.0 is refused against
1.1.0 (what staging serves) with the two regressed cases named; sql-helper's JSON cases pass.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from adapterctl.cli.app import main
from adapterctl.evaluation import line_and_suites
from adapterctl.registry import InvalidDocument, Registry
from tests.conftest import copy_registry


@pytest.fixture
def endpoint(example_endpoint: str) -> str:
    return example_endpoint


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return copy_registry(tmp_path / "registry")


def _eval(root: Path, *args: str) -> int:
    return main(["eval", *args, "--root", str(root), "--format", "json"])


def test_better_revision_passes_against_prod(
    root: Path, endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _eval(
        root, "support-bot@1.1.0", "--env", "prod", "--endpoint", endpoint,
        "--hardware-class", "cpu-ci",
    )  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    messages = [f["message"] for f in report["findings"]]
    assert messages == [
        "p95 latency budget 2000 ms holds for gpu-l40s; not checked on cpu-ci",
        "suite refunds: support-bot@1.1.0 100%, support-bot@1.0.0 83%",
    ]
    evidence = json.loads((root / "reports/golden/support-bot@1.1.0.json").read_text())
    assert evidence["candidate"] == "support-bot@1.1.0"
    assert evidence["baseline"] == "support-bot@1.0.0"
    assert evidence["ok"] is True
    assert evidence["hardware_class"] == "cpu-ci"
    assert len(evidence["results"]) == 6 * 2 * 3  # cases × revisions × repeats


def test_regressed_revision_is_refused_naming_the_cases(
    root: Path, endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _eval(root, "support-bot@1.2.0", "--env", "staging", "--endpoint", endpoint)
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    regressions = [f for f in report["findings"] if f["rule"] == "golden/regression"]
    assert [f["message"] for f in regressions] == [
        "case refund-window passed on support-bot@1.1.0 in all 3 repeats"
        " but fails on support-bot@1.2.0 in 3 of 3: does not contain '30 days' (ignoring case)",
        "case escalation passed on support-bot@1.1.0 in all 3 repeats"
        " but fails on support-bot@1.2.0 in 3 of 3: contains none of 'agent', 'colleague', 'human'",
    ]
    assert [(f["file"], f["line"], f["path"]) for f in regressions] == [
        ("adapters/support-bot/golden/refunds.yaml", 6, "$.cases[0]"),
        ("adapters/support-bot/golden/refunds.yaml", 21, "$.cases[2]"),
    ]


def test_sql_helper_json_cases_pass(
    root: Path, endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _eval(root, "sql-helper@1.1.0", "--env", "prod", "--endpoint", endpoint, "--repeat", "1")
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert [f["message"] for f in report["findings"]] == [
        "suite basics: sql-helper@1.1.0 100%, sql-helper@1.0.0 100%"
    ]


def test_endpoint_down_is_a_clear_error(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    code = _eval(
        root, "support-bot@1.1.0", "--env", "prod", "--endpoint", f"http://127.0.0.1:{port}/v1"
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    assert f"http://127.0.0.1:{port}/v1" in err
    assert not (root / "reports").exists()


def test_unknown_revision_is_a_usage_error(
    root: Path, endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _eval(root, "support-bot@9.9.9", "--env", "prod", "--endpoint", endpoint)
    assert code == 2
    assert "no valid revision support-bot@9.9.9" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--env", "qa"],
            "no environment qa: environments/qa/environment.yaml is missing or invalid",
        ),
        (
            ["--baseline", "0.9.0"],
            "no valid revision support-bot@0.9.0 to compare with (--baseline)",
        ),
        (["--baseline", "1.1.0"], "--baseline 1.1.0 is the candidate itself"),
        (
            ["--hardware-class", "gpu-l4s"],
            "--hardware-class gpu-l4s: no hardware class hardware/gpu-l4s.yaml "
            "(the registry declares cpu-ci, gpu-l40s)",
        ),
        (
            ["--hardware-class", "cpu-ci", "--hardware-class", "gpu-l40s"],
            "--hardware-class is given 2 times (cpu-ci, gpu-l40s): "
            "a node belongs to one hardware class",
        ),
        (["--extra-body", "[1]"], "--extra-body must be a JSON object, e.g. '{\"top_k\": 1}'"),
        (
            ["--extra-body", "{top_k: 1}"],
            "--extra-body is not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
    ],
)
def test_usage_errors_before_any_request(
    root: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    unused = "http://127.0.0.1:9/v1"  # never contacted: the command stops first
    code = _eval(root, "support-bot@1.1.0", "--env", "prod", "--endpoint", unused, *args)
    assert code == 2
    assert f"adapterctl: error: {message}" in capsys.readouterr().err


def _break_suite(root: Path) -> None:
    suite = root / "adapters/support-bot/golden/refunds.yaml"
    text = suite.read_text()
    suite.write_text(text.replace("{type: is-json}", "{type: regex, value: '(json'}"))


def test_an_invalid_suite_is_reported_with_its_file_line_and_field(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _break_suite(root)
    unused = "http://127.0.0.1:9/v1"  # never contacted: the command stops first
    args = ["eval", "support-bot@1.1.0", "--env", "prod", "--endpoint", unused, "--root", str(root)]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert captured.out == (
        "adapters/support-bot/golden/refunds.yaml:17 $.cases[1].assert[0]  error  "
        "schema/invalid-value\n"
        "  invalid regular expression: missing ), unterminated subpattern at position 0\n"
        "\n"
        "✗ eval: 1 error in 1 file\n"
    )
    assert captured.err == ""
    assert not (root / "reports").exists()


def test_an_invalid_suite_in_json_names_the_same_place(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _break_suite(root)
    code = _eval(root, "support-bot@1.1.0", "--env", "prod", "--endpoint", "http://127.0.0.1:9/v1")
    assert code == 1
    (finding,) = json.loads(capsys.readouterr().out)["findings"]
    assert (finding["file"], finding["line"], finding["path"]) == (
        "adapters/support-bot/golden/refunds.yaml",
        17,
        "$.cases[1].assert[0]",
    )


def test_a_missing_suite_is_a_usage_error(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (root / "adapters/support-bot/golden/refunds.yaml").unlink()
    code = _eval(root, "support-bot@1.1.0", "--env", "prod", "--endpoint", "http://127.0.0.1:9/v1")
    assert code == 2
    assert capsys.readouterr().err == (
        "adapterctl: error: no golden suite refunds: "
        "adapters/support-bot/golden/refunds.yaml does not exist\n"
    )


def test_loading_an_invalid_suite_raises_its_located_findings(root: Path) -> None:
    _break_suite(root)
    with pytest.raises(InvalidDocument) as raised:
        line_and_suites(Registry.load(root), "support-bot")
    assert raised.value.message == (
        "the golden suite refunds has problems:\n"
        "  adapters/support-bot/golden/refunds.yaml:17 $.cases[1].assert[0]  "
        "invalid regular expression: missing ), unterminated subpattern at position 0"
    )
