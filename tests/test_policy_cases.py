"""``policy check`` on recorded pull requests: ``tests/data/github/<scenario>/``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import git
import pytest

from adapterctl.cli.app import main
from adapterctl.codeowners import read as read_codeowners
from adapterctl.model.teams import Teams
from adapterctl.policy.sources import read_file
from adapterctl.registry import Registry
from tests.conftest import REPO, copy_registry

DATA = Path(__file__).parent / "data" / "github"
CASES = sorted(folder for folder in DATA.iterdir() if (folder / "pr.json").is_file())
RECORDED = ["--pr", "pr.json", "--reviews", "reviews.json", "--files", "files.json"]


def git_registry(root: Path) -> git.Repo:
    """The example registry with CODEOWNERS and teams.yaml, committed as branch ``main``."""
    copy_registry(root)
    for name in ("CODEOWNERS", "teams.yaml"):
        shutil.copy(REPO / name, root / name)
    repo = git.Repo.init(root, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test")
        config.set_value("user", "email", "test@example.invalid")
        config.set_value("commit", "gpgsign", "false")
    repo.git.add(A=True)
    repo.index.commit("the target branch")
    return repo


def checkout_case(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A registry whose ``main`` is the target branch and whose working tree is the head."""
    root = tmp_path / "registry"
    git_registry(root).close()
    if (case / "overlay").is_dir():
        shutil.copytree(case / "overlay", root, dirs_exist_ok=True)
    monkeypatch.chdir(case)
    return root


@pytest.mark.parametrize("case", CASES, ids=lambda folder: folder.name)
def test_recorded_pull_request(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = checkout_case(case, tmp_path, monkeypatch)
    code = main(["policy", "check", *RECORDED, "--base-ref", "main", "--root", str(root)])
    expected = (case / "expected.txt").read_text("utf-8")
    assert capsys.readouterr().out == expected
    assert code == (1 if expected.splitlines()[-1].startswith("✗") else 0)


def test_every_attack_of_the_issue_is_a_case() -> None:
    names = {case.name for case in CASES}
    assert {
        "approved-by-author",
        "stale-approval",
        "prod-without-release-manager",
        "trainer-approval",
    } <= names


def test_json_report_names_rule_person_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = checkout_case(DATA / "trainer-approval", tmp_path, monkeypatch)
    args = ["policy", "check", *RECORDED, "--base-ref", "main", "--root", str(root)]
    assert main([*args, "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["command"] == "policy check"
    assert report["findings"] == [
        {
            "file": "reviews.json",
            "line": None,
            "column": None,
            "path": "$[0]",
            "severity": "error",
            "rule": "policy/trainer-approval",
            "message": "svc-train-bot approved support-bot@1.2.0, which they trained as "
            "svc-train-pipeline",
            "hint": "whoever trains or signs an adapter must not approve its release: "
            "someone else must approve",
        }
    ]


def test_concatenated_pages_read_like_slurped_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``gh api --paginate`` without ``--slurp`` prints one JSON array per page."""
    case = DATA / "paginated-slurp"
    root = checkout_case(case, tmp_path, monkeypatch)
    pages = json.loads((case / "reviews.json").read_text("utf-8"))
    reviews = tmp_path / "reviews.json"
    reviews.write_text("".join(json.dumps(page) + "\n" for page in pages))
    args = ["policy", "check", "--pr", "pr.json", "--reviews", str(reviews)]
    code = main([*args, "--files", "files.json", "--base-ref", "main", "--root", str(root)])
    expected = (case / "expected.txt").read_text("utf-8")
    assert capsys.readouterr().out == expected.replace("reviews.json", str(reviews))
    assert code == 0


def test_example_teams_cover_every_team_the_policy_names() -> None:
    """Each team that CODEOWNERS or an environment names is listed in teams.yaml."""
    teams = read_file(REPO / "teams.yaml", "teams.yaml", Teams)
    owners = read_codeowners(REPO, "CODEOWNERS")
    named = {owner for rule in owners.rules for owner in rule.owners}
    registry = Registry.load(REPO)
    for name in ("prod", "staging"):
        environment = registry.environment(name)
        assert environment is not None
        named |= set(environment.promotion.approver_teams)
    assert {team for team in named if not teams.knows(team)} == set()


@pytest.mark.parametrize(("case", "status"), [("promotion-approved", 0), ("trainer-approval", 1)])
def test_process_exit_status(
    case: str, status: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sub-app's return value is the process's exit status (python -m adapterctl)."""
    root = checkout_case(DATA / case, tmp_path, monkeypatch)
    args = ["policy", "check", *RECORDED, "--base-ref", "main", "--root", str(root)]
    done = subprocess.run(
        [sys.executable, "-m", "adapterctl", *args], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stderr) == (status, "")
