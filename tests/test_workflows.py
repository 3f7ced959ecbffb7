"""The GitHub workflows' security properties, and the scripts they call."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
SCRIPT_CALL = re.compile(r"(?:^|\s)(scripts/[\w.-]+)")
EXPRESSION = re.compile(r"\$\{\{")


def _load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    if True in doc:  # YAML 1.1 reads the key `on` as a boolean
        doc["on"] = doc.pop(True)
    return doc


def _jobs(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    jobs = doc["jobs"]
    assert isinstance(jobs, dict)
    return jobs


def _steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in _jobs(doc).values() for step in job.get("steps", [])]


def _triggers(doc: dict[str, Any]) -> set[str]:
    on = doc["on"]
    if isinstance(on, str):
        return {on}
    return set(on)


@pytest.fixture(params=WORKFLOWS, ids=lambda p: p.name)
def workflow(request: pytest.FixtureRequest) -> tuple[Path, dict[str, Any]]:
    path: Path = request.param
    return path, _load(path)


def test_the_four_workflows_exist() -> None:
    names = {p.name for p in WORKFLOWS}
    assert {"pr-gates.yml", "golden-eval.yml", "promote.yml", "sync.yml"} <= names


def test_no_pull_request_target(workflow: tuple[Path, dict[str, Any]]) -> None:
    _, doc = workflow
    assert "pull_request_target" not in _triggers(doc)


def test_top_level_permissions_are_least_privilege(workflow: tuple[Path, dict[str, Any]]) -> None:
    _, doc = workflow
    assert "permissions" in doc
    assert doc["permissions"] in ({}, {"contents": "read"})


def test_job_permissions_are_explicit_and_never_write_all(
    workflow: tuple[Path, dict[str, Any]],
) -> None:
    path, doc = workflow
    for name, job in _jobs(doc).items():
        grants = job.get("permissions")
        assert isinstance(grants, dict), f"{path.name}: job {name} has no permissions map"
        assert "write-all" not in str(grants)
        writes = {scope for scope, level in grants.items() if level == "write"}
        if path.name == "promote.yml":
            assert writes <= {"contents", "pull-requests"}
        else:
            assert not writes, f"{path.name}: job {name} writes {writes}"


def test_every_action_is_pinned_to_a_commit_with_its_version(
    workflow: tuple[Path, dict[str, Any]],
) -> None:
    path, doc = workflow
    uses = [step["uses"] for step in _steps(doc) if "uses" in step]
    assert all(SHA_PIN.match(u) for u in uses), uses
    for line in path.read_text(encoding="utf-8").splitlines():
        if "uses:" in line:
            assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), line


def test_checkouts_do_not_persist_credentials(workflow: tuple[Path, dict[str, Any]]) -> None:
    _, doc = workflow
    checkouts = [s for s in _steps(doc) if str(s.get("uses", "")).startswith("actions/checkout@")]
    assert checkouts
    assert all(s.get("with", {}).get("persist-credentials") is False for s in checkouts)


def test_every_job_has_a_timeout(workflow: tuple[Path, dict[str, Any]]) -> None:
    _, doc = workflow
    for job in _jobs(doc).values():
        assert isinstance(job.get("timeout-minutes"), int)


def test_run_scripts_hold_no_expressions(workflow: tuple[Path, dict[str, Any]]) -> None:
    """Every ${{ }} reaches a script through env:, never spliced into shell code."""
    path, doc = workflow
    for step in _steps(doc):
        run = step.get("run", "")
        assert not EXPRESSION.search(run), f"{path.name}: {run!r}"
    text = path.read_text(encoding="utf-8")
    for untrusted in ("pull_request.title", "pull_request.body", "head_ref", "head.label"):
        assert untrusted not in text, f"{path.name} uses {untrusted}"


def test_called_scripts_exist_and_are_executable(workflow: tuple[Path, dict[str, Any]]) -> None:
    _, doc = workflow
    called = {m for s in _steps(doc) for m in SCRIPT_CALL.findall(s.get("run", ""))}
    assert called
    for script in called:
        path = REPO / script
        assert path.is_file(), script
        assert os.access(path, os.X_OK), f"{script} is not executable"
        assert path.read_text(encoding="utf-8").startswith("#!/usr/bin/env ")


def test_shell_scripts_are_strict() -> None:
    for script in (REPO / "scripts").glob("*.sh"):
        if script.name != "lib.sh":
            assert "set -euo pipefail" in script.read_text(encoding="utf-8"), script.name


def test_the_policy_job_judges_with_the_signers_verify_accepted() -> None:
    jobs = _jobs(_load(REPO / ".github/workflows/pr-gates.yml"))
    gates, policy = jobs["gates"], jobs["policy"]
    assert "if" not in gates  # it runs on reviews too, so that policy has this run's signers
    assert (policy["needs"], policy["if"]) == ("gates", "${{ !cancelled() }}")
    verify = next(s for s in gates["steps"] if s.get("run") == "scripts/ci-gates.sh verify")
    upload = next(s for s in gates["steps"] if "upload-artifact@" in str(s.get("uses")))
    assert upload["with"]["path"] == verify["env"]["SIGNERS_FILE"]
    download = next(s for s in policy["steps"] if "download-artifact@" in str(s.get("uses")))
    check = next(s for s in policy["steps"] if s.get("run") == "scripts/ci-gates.sh policy")
    assert download["with"]["name"] == upload["with"]["name"] == "signers"
    assert check["env"]["SIGNERS_FILE"] == download["with"]["path"] + "/signers.yaml"


def test_promotion_and_sync_are_serialised_per_environment() -> None:
    promote = _load(REPO / ".github/workflows/promote.yml")
    assert promote["concurrency"] == {
        "group": "promote-${{ inputs.environment }}",
        "cancel-in-progress": False,
    }
    sync = _load(REPO / ".github/workflows/sync.yml")
    job = _jobs(sync)["sync"]
    assert job["concurrency"] == {
        "group": "sync-${{ matrix.environment }}",
        "cancel-in-progress": False,
    }
    assert job["strategy"]["fail-fast"] is False
    assert sync["on"]["push"] == {"branches": ["main"], "paths": ["environments/**"]}


def test_golden_eval_runs_on_the_gpu_runner_and_never_for_forks() -> None:
    doc = _load(REPO / ".github/workflows/golden-eval.yml")
    job = _jobs(doc)["golden"]
    assert job["runs-on"] == ["self-hosted", "gpu"]
    assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    stop = next(s for s in job["steps"] if s.get("run") == "scripts/stop-vllm.sh")
    assert stop["if"] == "${{ always() }}"


# scripts/changed-environments.py and changed-revisions.py on a real repository


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    )
    return done.stdout.strip()


def _commit(repo: Path, files: dict[str, str | None]) -> str:
    for name, content in files.items():
        path = repo / name
        if content is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "--no-gpg-sign", "-m", "change")
    return _git(repo, "rev-parse", "HEAD")


def _run(script: str, repo: Path, *args: str) -> str:
    cmd = [sys.executable, str(REPO / "scripts" / script), *args, "--root", str(repo)]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def _env(signed: bool) -> str:
    return f"name: x\npromotion:\n  require_signed_commits: {str(signed).lower()}\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "registry"
    path.mkdir()
    _git(path, "init", "-q", "-b", "main")
    return path


def test_changed_environments_lists_what_a_push_changed(repo: Path) -> None:
    first = _commit(
        repo,
        {
            "environments/prod/environment.yaml": _env(True),
            "environments/staging/environment.yaml": _env(False),
            "README.md": "registry\n",
        },
    )
    second = _commit(repo, {"environments/staging/environment.yaml": _env(False) + "# x\n"})
    third = _commit(repo, {"README.md": "changed\n"})

    assert json.loads(_run("changed-environments.py", repo, first, second)) == ["staging"]
    assert json.loads(_run("changed-environments.py", repo, second, third)) == []
    everything = _run("changed-environments.py", repo, "0" * 40, third, "--lines")
    assert everything.split() == ["prod", "staging"]


def test_changed_environments_judges_signing_by_the_base(repo: Path) -> None:
    base = _commit(repo, {"environments/prod/environment.yaml": _env(True)})
    head = _commit(repo, {"environments/prod/environment.yaml": _env(False)})
    new = _commit(repo, {"environments/dev/environment.yaml": _env(False)})

    signed = _run("changed-environments.py", repo, base, head, "--signed-only")
    assert json.loads(signed) == ["prod"]
    assert json.loads(_run("changed-environments.py", repo, head, new, "--signed-only")) == []


def test_changed_environments_skips_a_removed_environment(repo: Path) -> None:
    base = _commit(
        repo,
        {"environments/a/environment.yaml": _env(False), "environments/b/environment.yaml": ""},
    )
    head = _commit(repo, {"environments/b/environment.yaml": None})
    assert json.loads(_run("changed-environments.py", repo, base, head)) == []


def test_changed_revisions_lists_manifests_and_bundles(repo: Path) -> None:
    base = _commit(
        repo,
        {"adapters/bot/adapter.yaml": "name: bot\n", "adapters/bot/1.0.0.yaml": "v: 1\n"},
    )
    _git(repo, "checkout", "-q", "-b", "pr")
    _commit(
        repo,
        {
            "adapters/bot/adapter.yaml": "name: bot\nowners: []\n",
            "adapters/bot/1.1.0.yaml": "v: 2\n",
            "adapters/bot/1.0.0.sigstore.json": "{}\n",
            "adapters/bot/golden/refunds.yaml": "cases: []\n",
        },
    )
    assert _run("changed-revisions.py", repo, base, "HEAD").split() == [
        "bot@1.0.0",
        "bot@1.1.0",
    ]


def test_changed_revisions_lists_the_merged_bases_a_change_adds(repo: Path) -> None:
    base = _commit(repo, {"bases/llama/r1.yaml": "name: llama\n"})
    _git(repo, "checkout", "-q", "-b", "pr")
    _commit(
        repo,
        {
            "bases/llama/r2.yaml": "name: llama\n",  # a refresh: no merge record
            "bases/bot-merged/r1.yaml": "name: bot-merged\nmerge: {trigger: latency}\n",
            "bases/old-merged/r1.sigstore.json": "{}\n",  # a bundle without its manifest
            "adapters/bot/1.0.0.yaml": "v: 1\n",
        },
    )
    assert _run("changed-revisions.py", repo, base, "HEAD", "--merged-bases") == "bot-merged@r1\n"
    assert _run("changed-revisions.py", repo, base, "HEAD") == "bot@1.0.0\n"


def test_changed_revisions_with_the_revisions_a_change_promotes(repo: Path) -> None:
    env = "environments/prod/environment.yaml"
    routes = "routes:\n  bot:\n    - {version: 1.0.0, weight: 100}\n  sql:\n    - {version: 2.0.0, weight: 100}\n"
    base = _commit(repo, {"adapters/bot/1.0.0.yaml": "v: 1\n", env: routes})
    _git(repo, "checkout", "-q", "-b", "pr")
    _commit(repo, {env: routes.replace(
        "    - {version: 1.0.0, weight: 100}\n",
        "    - {version: 1.0.0, weight: 90}\n    - {version: 1.1.0, weight: 10}\n",
    ).replace("{version: 2.0.0, weight: 100}", "{version: 2.0.0, weight: 100, tenants: [acme]}")})  # fmt: skip
    assert _run("changed-revisions.py", repo, base, "HEAD").split() == []
    # 1.1.0 gets a share, sql 2.0.0 a tenant; 1.0.0 loses traffic: not promoted
    assert _run("changed-revisions.py", repo, base, "HEAD", "--promoted").split() == [
        "bot@1.1.0",
        "sql@2.0.0",
    ]


ACTIONLINT = Path(sys.executable).with_name("actionlint")
BROKEN = """\
name: broken
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo "${{ github.evnt.name }}"
"""


def _actionlint(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [str(ACTIONLINT), "-no-color", "-shellcheck", "", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def test_actionlint_finds_no_problem_in_the_workflows() -> None:
    done = _actionlint(cwd=REPO)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_actionlint_flags_a_broken_workflow(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "broken.yml").write_text(BROKEN)
    done = _actionlint(".github/workflows/broken.yml", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.startswith(
        '.github/workflows/broken.yml:7:24: property "evnt" is not defined in object type {'
    )
