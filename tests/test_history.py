"""``adapterctl history`` and ``adapterctl diff``: real git repositories, exact output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from adapterctl.cli.app import main
from adapterctl.gitops import blobs
from tests.conftest import copy_registry, isolate_git

PROD = "environments/prod/environment.yaml"
ALICE = ("Alice", "alice@example.com")
BOB = ("Bob", "bob@example.com")


@pytest.fixture(autouse=True)
def _no_user_git_config(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch)


class Repo:
    """A repository whose commits are dated an hour apart from 2024-01-01 10:00 +02:00."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.hour = 0

    def git(self, *args: str, who: tuple[str, str] = ALICE) -> str:
        date = f"2024-01-01T{10 + self.hour:02d}:00:00+02:00"
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": who[0],
            "GIT_AUTHOR_EMAIL": who[1],
            "GIT_COMMITTER_NAME": who[0],
            "GIT_COMMITTER_EMAIL": who[1],
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_DATE": date,
        }
        done = subprocess.run(
            ["git", *args], cwd=self.path, env=env, check=True, capture_output=True, text=True
        )
        return done.stdout.strip()

    def edit(self, old: str, new: str, path: str = PROD) -> None:
        file = self.path / path
        text = file.read_text()
        assert old in text, old
        file.write_text(text.replace(old, new, 1))

    def commit(self, message: str, who: tuple[str, str] = ALICE) -> str:
        self.hour += 1
        self.git("commit", "-q", "-a", "-m", message, who=who)
        return self.git("rev-parse", "HEAD")


def make_history(tmp_path: Path) -> tuple[Repo, dict[str, str]]:
    """init; a squash-merged canary (#13); a merged pull request (#12); a broken file; a fix;
    a description-only edit; a staging change (not prod's history)."""
    repo = Repo(copy_registry(tmp_path / "r"))
    repo.git("init", "-q", "-b", "main")
    repo.git("add", "-A")
    shas = {"init": repo.commit("Initial registry")}
    repo.edit("weight: 90}", "weight: 80}")
    repo.edit("weight: 10}   # canary", "weight: 20}   # canary")
    shas["canary"] = repo.commit(
        "Canary support-bot 1.1.0 at 20% (#13)\n\n"
        "Adapter: support-bot@1.1.0\nEnvironment: prod\nWeight: 20\n",
        who=BOB,
    )
    repo.git("checkout", "-q", "-b", "promote-sql-helper")
    repo.edit("{version: 1.0.0, weight: 100}", "{version: 1.1.0, weight: 100}")
    shas["branch"] = repo.commit(
        "Promote sql-helper 1.1.0 to prod\n\nAdapter: sql-helper@1.1.0\nEnvironment: prod\n"
        "Weight: 100\n",
        who=BOB,
    )
    repo.git("checkout", "-q", "main")
    repo.hour += 1
    repo.git(
        "merge", "-q", "--no-ff", "promote-sql-helper",
        "-m", "Merge pull request #12 from example-org/promote-sql-helper",
    )  # fmt: skip
    shas["merge"] = repo.git("rev-parse", "HEAD")
    repo.edit("routes:\n", "routes: [\n")
    shas["broken"] = repo.commit("Reshape routes")
    repo.edit("routes: [\n", "routes:\n")
    repo.edit("    - {version: 1.0.0, weight: 80}\n", "")
    repo.edit("weight: 20}   # canary", "weight: 100}")
    shas["fixed"] = repo.commit("Fix routes; support-bot 1.1.0 takes all traffic", who=BOB)
    repo.edit("description: Production;", "description: Production (EU);")
    shas["describe"] = repo.commit("Describe prod")
    repo.edit("weight: 100}", "weight: 100}  # staging", "environments/staging/environment.yaml")
    repo.commit("Comment staging")
    return repo, shas


def cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def history_repo(tmp_path: Path) -> tuple[Repo, dict[str, str]]:
    return make_history(tmp_path)


def test_history_text_lists_route_changes_newest_first(
    history_repo: tuple[Repo, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, sha = history_repo
    code, out, err = cli(capsys, "history", "--env", "prod", "--root", repo.path)
    assert (code, err) == (0, "")
    assert out == (
        f"{sha['describe'][:12]}  2024-01-01T15:00:00Z  Alice <alice@example.com>  no PR  sig N\n"
        "    Describe prod\n"
        "    (no route changes)\n"
        f"{sha['fixed'][:12]}  2024-01-01T14:00:00Z  Bob <bob@example.com>  no PR  sig N\n"
        "    Fix routes; support-bot 1.1.0 takes all traffic\n"
        "    unload support-bot@1.0.0 (was weight 80)\n"
        "    set weight support-bot@1.1.0 20 -> 100\n"
        f"{sha['broken'][:12]}  2024-01-01T13:00:00Z  Alice <alice@example.com>  no PR  sig N\n"
        "    Reshape routes\n"
        "    unparseable: did not find expected node content (while parsing a flow node at line 8)\n"
        f"{sha['merge'][:12]}  2024-01-01T12:00:00Z  Alice <alice@example.com>  PR #12  sig N\n"
        "    Merge pull request #12 from example-org/promote-sql-helper\n"
        "    unload sql-helper@1.0.0 (was weight 100)\n"
        "    load sql-helper@1.1.0 (weight 100)\n"
        f"{sha['canary'][:12]}  2024-01-01T10:00:00Z  Bob <bob@example.com>  PR #13  sig N\n"
        "    Canary support-bot 1.1.0 at 20% (#13)\n"
        "    set weight support-bot@1.0.0 90 -> 80\n"
        "    set weight support-bot@1.1.0 10 -> 20\n"
        f"{sha['init'][:12]}  2024-01-01T09:00:00Z  Alice <alice@example.com>  no PR  sig N\n"
        "    Initial registry\n"
        "    load sql-helper@1.0.0 (weight 100)\n"
        "    load support-bot@1.0.0 (weight 90)\n"
        "    load support-bot@1.1.0 (weight 10)\n"
    )


def test_history_json_document(
    history_repo: tuple[Repo, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, sha = history_repo
    code, out, _ = cli(
        capsys, "history", "--env", "prod", "sql-helper", "--root", repo.path, "-f", "json"
    )
    assert code == 0
    document = json.loads(out)
    assert [entry["commit"] for entry in document["entries"]] == [
        sha["broken"],
        sha["merge"],
        sha["init"],
    ]
    assert {k: v for k, v in document.items() if k != "entries"} == {
        "schema": "adapterctl/history/v1",
        "environment": "prod",
        "path": PROD,
        "alias": "sql-helper",
    }
    assert document["entries"][1] == {
        "commit": sha["merge"],
        "author": {"name": "Alice", "email": "alice@example.com"},
        "date": "2024-01-01T12:00:00Z",
        "subject": "Merge pull request #12 from example-org/promote-sql-helper",
        "pull_request": 12,
        "trailers": {},
        "signature": {"status": "N", "signer": ""},
        "parseable": True,
        "error": None,
        "changes": [
            {
                "alias": "sql-helper",
                "version": "1.0.0",
                "action": "unload",
                "from": 100,
                "to": None,
            },
            {"alias": "sql-helper", "version": "1.1.0", "action": "load", "from": None, "to": 100},
        ],
    }
    broken = document["entries"][0]
    assert (broken["parseable"], broken["changes"]) == (False, [])
    assert broken["error"].startswith("did not find expected node content")


def test_history_json_reads_trailers_and_squash_pr(
    history_repo: tuple[Repo, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, sha = history_repo
    _, out, _ = cli(capsys, "history", "--env", "prod", "--root", repo.path, "-f", "json")
    canary = json.loads(out)["entries"][4]
    assert canary["commit"] == sha["canary"]
    assert canary["pull_request"] == 13
    assert canary["trailers"] == {
        "Adapter": "support-bot@1.1.0",
        "Environment": "prod",
        "Weight": "20",
    }


def test_history_limit_counts_entries_of_the_alias(
    history_repo: tuple[Repo, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, sha = history_repo
    _, out, _ = cli(capsys, "history", "--env", "prod", "--root", repo.path, "--limit", "2")
    assert [line[:12] for line in out.splitlines() if not line.startswith(" ")] == [
        sha["describe"][:12],
        sha["fixed"][:12],
    ]
    _, out, _ = cli(
        capsys, "history", "--env", "prod", "support-bot", "--root", repo.path, "--limit", "2"
    )
    assert out == (
        f"{sha['fixed'][:12]}  2024-01-01T14:00:00Z  Bob <bob@example.com>  no PR  sig N\n"
        "    Fix routes; support-bot 1.1.0 takes all traffic\n"
        "    unload support-bot@1.0.0 (was weight 80)\n"
        "    set weight support-bot@1.1.0 20 -> 100\n"
        f"{sha['broken'][:12]}  2024-01-01T13:00:00Z  Alice <alice@example.com>  no PR  sig N\n"
        "    Reshape routes\n"
        "    unparseable: did not find expected node content (while parsing a flow node at line 8)\n"
    )


def test_history_limit_starts_from_the_state_before_the_oldest_commit(
    history_repo: tuple[Repo, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _ = history_repo
    _, out, _ = cli(capsys, "history", "--env", "prod", "--root", repo.path, "--limit", "3")
    assert "    unload support-bot@1.0.0 (was weight 80)\n" in out


def test_history_of_an_unknown_environment_is_a_usage_error(
    history_repo: tuple[Repo, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _ = history_repo
    code, out, err = cli(capsys, "history", "--env", "qa", "--root", repo.path)
    assert (code, out) == (2, "")
    assert err == (
        "adapterctl: error: unknown environment 'qa': "
        "environments/qa/environment.yaml has no git history\n"
    )


def test_history_outside_git_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_registry(tmp_path / "plain")
    code, _, err = cli(capsys, "history", "--env", "prod", "--root", root)
    assert code == 2
    assert err == f"adapterctl: error: history needs a git repository, and {root} is not in one\n"


def test_diff_prints_what_a_sync_would_do(
    history_repo: tuple[Repo, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, sha = history_repo
    code, out, err = cli(
        capsys, "diff", "--env", "prod", sha["canary"][:7], "main", "--root", repo.path
    )
    assert (code, err) == (0, "")
    head = repo.git("rev-parse", "main")
    assert out == (
        f"prod: {sha['canary'][:7]} ({sha['canary'][:12]}) -> main ({head[:12]})\n"
        "  unload sql-helper@1.0.0 (was weight 100)\n"
        "  load sql-helper@1.1.0 (weight 100)\n"
        "  unload support-bot@1.0.0 (was weight 80)\n"
        "  set weight support-bot@1.1.0 20 -> 100\n"
    )


def test_diff_json(
    history_repo: tuple[Repo, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, sha = history_repo
    code, out, _ = cli(
        capsys,
        "diff",
        "--env",
        "prod",
        sha["init"],
        sha["canary"],
        "-f",
        "json",
        "--root",
        repo.path,
    )
    assert code == 0
    assert json.loads(out) == {
        "schema": "adapterctl/diff/v1",
        "environment": "prod",
        "path": PROD,
        "from": {"ref": sha["init"], "commit": sha["init"], "exists": True},
        "to": {"ref": sha["canary"], "commit": sha["canary"], "exists": True},
        "changes": [
            {"alias": "support-bot", "version": "1.0.0", "action": "weight", "from": 90, "to": 80},
            {"alias": "support-bot", "version": "1.1.0", "action": "weight", "from": 10, "to": 20},
        ],
    }


def test_diff_without_changes(
    history_repo: tuple[Repo, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, sha = history_repo
    _, out, _ = cli(capsys, "diff", "--env", "prod", sha["fixed"], "HEAD", "--root", repo.path)
    assert out.splitlines()[1:] == ["  no route changes"]


def test_diff_of_a_created_environment(
    history_repo: tuple[Repo, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _ = history_repo
    shutil.copytree(repo.path / "environments/staging", repo.path / "environments/qa")
    repo.edit("name: staging", "name: qa", "environments/qa/environment.yaml")
    repo.git("add", "-A")
    repo.commit("Add qa")
    _, out, _ = cli(capsys, "diff", "--env", "qa", "HEAD~1", "HEAD", "--root", repo.path)
    assert out.splitlines()[1:] == [
        "  environments/qa/environment.yaml does not exist at HEAD~1: created",
        "  load sql-helper@1.1.0 (weight 100)",
        "  load support-bot@1.1.0 (weight 100)",
    ]
    _, out, _ = cli(capsys, "diff", "--env", "qa", "HEAD", "HEAD~1", "--root", repo.path)
    assert out.splitlines()[1] == (
        "  environments/qa/environment.yaml does not exist at HEAD~1: deleted"
    )


def test_diff_unknown_ref_is_a_usage_error(
    history_repo: tuple[Repo, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _ = history_repo
    code, out, err = cli(
        capsys, "diff", "--env", "prod", "HEAD", "no-such-ref", "--root", repo.path
    )
    assert (code, out) == (2, "")
    assert err == "adapterctl: error: unknown git revision 'no-such-ref'\n"


def test_diff_unknown_environment_is_a_usage_error(
    history_repo: tuple[Repo, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _ = history_repo
    code, _, err = cli(capsys, "diff", "--env", "nope", "HEAD~1", "HEAD", "--root", repo.path)
    assert code == 2
    assert err == (
        "adapterctl: error: unknown environment 'nope': "
        "environments/nope/environment.yaml exists at neither HEAD~1 nor HEAD\n"
    )


def test_diff_of_an_unparseable_file_names_it(
    history_repo: tuple[Repo, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, sha = history_repo
    code, _, err = cli(capsys, "diff", "--env", "prod", "HEAD", sha["broken"], "--root", repo.path)
    assert code == 1
    assert err.startswith(
        f"adapterctl: error: environments/prod/environment.yaml at {sha['broken']} cannot be read: "
    )


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")
def test_history_shows_ssh_signatures_git_verified(
    history_repo: tuple[Repo, dict[str, str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, _ = history_repo
    key = tmp_path / "alice"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    public = " ".join(key.with_suffix(".pub").read_text().split()[:2])
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"alice@example.com {public}\n")
    repo.edit("weight: 100}\n", "weight: 100}  # signed\n")
    repo.hour += 1
    repo.git(
        "-c", "gpg.format=ssh", "-c", f"user.signingkey={key}",
        "commit", "-q", "-a", "-S", "-m", "Signed change",
    )  # fmt: skip
    args = ("history", "--env", "prod", "--root", repo.path, "--limit", "1", "-f", "json")
    _, out, _ = cli(capsys, *args)
    assert json.loads(out)["entries"][0]["signature"]["status"] in ("U", "N", "E")
    _, out, _ = cli(capsys, *args, "--allowed-signers", signers)
    assert json.loads(out)["entries"][0]["signature"] == {
        "status": "G",
        "signer": "alice@example.com",
    }


def test_history_parses_in_worker_processes_with_the_same_result(
    history_repo: tuple[Repo, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, _ = history_repo
    args = ("history", "--env", "prod", "--root", repo.path, "-f", "json")
    _, serial, _ = cli(capsys, *args)
    monkeypatch.setattr(blobs, "PARALLEL_FROM", 2)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    _, parallel, _ = cli(capsys, *args)
    assert parallel == serial
