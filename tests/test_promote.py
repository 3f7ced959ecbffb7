"""``adapterctl promote`` and ``rollback`` on real temporary git repositories.

The registry starts with support-bot 1.0.0 at 100 % in staging and prod (committed ten
days ago); pull requests are merged with ``git merge --no-ff`` at chosen dates, as GitHub
merges them, so soak times are judged from real commit dates.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapterctl.cli.app import main
from tests.conftest import REPO, copy_registry, isolate_git
from tests.test_pullrequest import PULLS, SLUG, FakeGitHub, github

__all__ = ["github"]  # the fixture, shared with test_pullrequest

STAGING = "environments/staging/environment.yaml"
PROD = "environments/prod/environment.yaml"
ONE_ROUTE = "  support-bot:\n    - {version: 1.0.0, weight: 100}\n"


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch, ("Rita Release", "rita@example.com"))
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_REPOSITORY", "GITHUB_API_URL"):
        monkeypatch.delenv(name, raising=False)


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Registry:
    """A temporary registry repository on ``main``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pulls = 0

    def git(self, *args: str, date: str | None = None) -> str:
        env = dict(os.environ)
        if date is not None:
            env |= {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        done = subprocess.run(
            ["git", *args], cwd=self.path, env=env, check=True, capture_output=True, text=True
        )
        return done.stdout.strip()

    def read(self, path: str = PROD) -> str:
        return (self.path / path).read_text()

    def edit(self, old: str, new: str, path: str = PROD) -> None:
        text = self.read(path)
        assert old in text, old
        (self.path / path).write_text(text.replace(old, new, 1))

    def merge(self, branch: str, date: str) -> str:
        """Merge ``branch`` as GitHub merges a pull request."""
        self.pulls += 1
        message = f"Merge pull request #{self.pulls} from example-org/{branch}"
        self.git("merge", "-q", "--no-ff", "-m", message, branch, date=date)
        return self.git("rev-parse", "HEAD")

    def show(self, ref: str, path: str = PROD) -> str:
        return self.git("show", f"{ref}:{path}") + "\n"


PROD_ANALYSIS = (
    "analysis:  # canary analysis before a canary grows (docs/canary.md)\n"
    "  interval: 5m\n  count: 3\n  min_requests: 200\n"
)


def make_registry(tmp_path: Path) -> Registry:
    """The example registry in git; its store outside the repository ($ADAPTERCTL_STORE)."""
    registry = Registry(copy_registry(tmp_path / "r"))
    shutil.copytree(REPO / "examples/store", tmp_path / "store")
    registry.edit("  support-bot:\n    - {version: 1.1.0, weight: 100}\n", ONE_ROUTE, STAGING)
    registry.edit(
        "    - {version: 1.0.0, weight: 90}\n    - {version: 1.1.0, weight: 10}   # canary\n",
        "    - {version: 1.0.0, weight: 100}\n",
    )
    # these tests are about the route edits: prod analyses no canaries here (test_canary.py
    # and the demo do)
    registry.edit(PROD_ANALYSIS, "")
    registry.git("init", "-q", "-b", "main")
    registry.git("add", "-A")
    registry.git("commit", "-q", "-m", "Initial registry", date=ago(days=10))
    return registry


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    monkeypatch.setenv("ADAPTERCTL_STORE", (tmp_path / "store").as_uri())
    return make_registry(tmp_path)


def cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return code, out, err


def promote(
    capsys: pytest.CaptureFixture[str], repo: Registry, target: str, env: str, *args: str
) -> tuple[int, str, str]:
    return cli(capsys, "promote", target, "--env", env, "--root", repo.path, *args)


def test_promotion_branch_commit_and_pull_request_body(
    repo: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    code, body, err = promote(capsys, repo, "support-bot@1.1.0", "staging", "--weight", "25")
    branch = "promote/staging/support-bot-1.1.0"
    commit = repo.git("rev-parse", branch)
    assert (code, err) == (
        0,
        f"created branch {branch} at {commit[:12]} from main (your checkout is unchanged)\n",
    )
    assert repo.git("rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert repo.git("status", "--porcelain") == ""
    assert repo.git("diff", "main", branch) == (
        "diff --git a/environments/staging/environment.yaml "
        "b/environments/staging/environment.yaml\n"
        f"index {repo.git('rev-parse', 'main:' + STAGING)[:7]}.."
        f"{repo.git('rev-parse', branch + ':' + STAGING)[:7]} 100644\n"
        "--- a/environments/staging/environment.yaml\n"
        "+++ b/environments/staging/environment.yaml\n"
        "@@ -5,7 +5,8 @@ base: {name: tiny-llama, revision: r1}\n"
        " serving: {engine: vllm, max_lora_rank: 64, max_loras: 4, max_cpu_loras: 8}\n"
        " routes:\n"
        "   support-bot:\n"
        "-    - {version: 1.0.0, weight: 100}\n"
        "+    - {version: 1.0.0, weight: 75}\n"
        "+    - {version: 1.1.0, weight: 25}  # canary\n"
        "   sql-helper:\n"
        "     - {version: 1.1.0, weight: 100}\n"
        " retain: 1"
    )
    assert repo.git("log", "-1", "--format=%B", branch) == (
        "Promote support-bot 1.1.0 to staging at 25 %\n\n"
        "Routes of support-bot in staging: 1.0.0 100 % -> 1.0.0 75 %, 1.1.0 25 %.\n\n"
        "Adapter: support-bot@1.1.0\nEnvironment: staging\nWeight: 25"
    )
    assert body == (
        "## Promote support-bot 1.1.0 to staging at 25 %\n\n"
        f"Branch `{branch}` from `main`; commit `{commit[:12]}`.\n\n"
        "Routes of `support-bot` in `staging`:\n\n"
        "| revision | before | after |\n"
        "|---|---:|---:|\n"
        "| `support-bot@1.0.0` | 100 % | 75 % |\n"
        "| `support-bot@1.1.0` | — | 25 % |\n\n"
        "### Gates\n\n"
        "- schema, integrity, compat with staging: passed (`adapters/support-bot/1.1.0.yaml`)\n"
        "- golden: no evidence at `reports/golden/support-bot@1.1.0.json`\n"
        "- pressure: no evidence at `reports/pressure/support-bot@1.1.0.json`\n\n"
        "### Rollback\n\n"
        "After merging, one command proposes the revert of this change:\n\n"
        "```sh\n"
        "adapterctl rollback --env staging support-bot\n"
        "```\n"
    )


def test_tenant_canary_then_weight_then_finish(
    repo: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    code, body, _ = promote(capsys, repo, "support-bot@1.1.0", "staging", "--tenant", "acme")
    branch = "promote/staging/support-bot-1.1.0"
    assert code == 0
    assert repo.show(branch, STAGING).count("support-bot") == 1
    assert (
        "    - {version: 1.0.0, weight: 100}\n    - {version: 1.1.0, weight: 0, tenants: [acme]}"
        "  # canary\n" in repo.show(branch, STAGING)
    )
    assert repo.git("log", "-1", "--format=%s", branch) == (
        "Promote support-bot 1.1.0 to staging for tenant acme only"
    )
    assert "| `support-bot@1.1.0` | — | tenants `acme` |" in body
    repo.merge(branch, ago(hours=2))
    code, _, _ = promote(capsys, repo, "support-bot@1.1.0", "staging", "--weight", "10")
    assert code == 0
    assert (
        "    - {version: 1.0.0, weight: 90}\n    - {version: 1.1.0, weight: 10, tenants: [acme]}"
        "  # canary\n" in repo.show(branch, STAGING)
    )
    assert repo.git("log", "-1", "--format=%s", branch) == (
        "Promote support-bot 1.1.0 to staging at 10 % and for tenant acme"
    )
    repo.merge(branch, ago(hours=1))
    # a change of tenants alone is a change: history shows it, rollback reverts it
    assert promote(capsys, repo, "support-bot@1.1.0", "staging", "--tenant", "globex")[0] == 0
    repo.merge(branch, ago(minutes=30))
    code, out, _ = cli(capsys, "history", "--env", "staging", "--root", repo.path)
    assert "    set tenants support-bot@1.1.0 acme -> globex\n" in out
    assert "    load support-bot@1.1.0 (weight 0, tenants acme)\n" in out
    code, _, _ = cli(capsys, "rollback", "--env", "staging", "support-bot", "--root", repo.path)
    assert code == 0
    reverted = repo.show("rollback/staging/support-bot-1.0.0", STAGING)
    assert "{version: 1.1.0, weight: 10, tenants: [acme]}" in reverted
    repo.git("branch", "-D", "rollback/staging/support-bot-1.0.0")  # that pull request closed
    code, _, _ = promote(capsys, repo, "support-bot@1.1.0", "staging", "--finish")
    assert code == 0
    assert (
        "    - {version: 1.1.0, weight: 100}\n    - {version: 1.0.0, weight: 0}"
        "  # retained for rollback\n" in repo.show(branch, STAGING)
    )


def test_release_train_promote_canary_finish_rollback_history(
    repo: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's done-when: staging, prod at 10 %, finish, one-command rollback."""
    assert promote(capsys, repo, "support-bot@1.1.0", "staging", "--finish")[0] == 0
    staged = repo.merge("promote/staging/support-bot-1.1.0", ago(days=2))
    assert repo.read(STAGING).count("{version: 1.1.0, weight: 100}") == 2

    assert promote(capsys, repo, "support-bot@1.1.0", "prod", "--weight", "10")[0] == 0
    canary = repo.merge("promote/prod/support-bot-1.1.0", ago(hours=3))
    assert "    - {version: 1.0.0, weight: 90}\n    - {version: 1.1.0, weight: 10}  # canary\n" in (
        repo.read()
    )

    code, body, _ = promote(capsys, repo, "support-bot@1.1.0", "prod", "--finish")
    assert code == 0
    assert f"- soak: served in staging for 2d since `{staged[:12]}`; requires 24h\n" in body
    finish = repo.merge("promote/prod/support-bot-1.1.0", ago(hours=1))
    finished = repo.read()
    assert (
        "    - {version: 1.1.0, weight: 100}\n"
        "    - {version: 1.0.0, weight: 0}  # retained for rollback\n"
    ) in finished

    code, body, err = cli(capsys, "rollback", "--env", "prod", "support-bot", "--root", repo.path)
    assert code == 0
    branch = "rollback/prod/support-bot-1.0.0"
    assert err.startswith(f"created branch {branch} at ")
    assert repo.git("log", "-1", "--format=%B", branch) == (
        "Roll back support-bot in prod to 1.0.0 90 %, 1.1.0 10 %\n\n"
        'Reverts "Merge pull request #3 from example-org/promote/prod/support-bot-1.1.0".\n\n'
        "Routes of support-bot in prod: 1.1.0 100 %, 1.0.0 retained -> "
        "1.0.0 90 %, 1.1.0 10 %.\n\n"
        f"This reverts commit {finish}.\n\n"
        "Adapter: support-bot@1.0.0\nEnvironment: prod\nWeight: 90"
    )
    assert repo.show(branch) == repo.show(canary), "the revert restores the canary state"
    assert f"Reverts commit `{finish[:12]}`" in body
    repo.merge(branch, ago(minutes=5))

    code, out, _ = cli(capsys, "history", "--env", "prod", "support-bot", "--root", repo.path)
    assert code == 0
    assert [line.strip() for line in out.splitlines() if line.startswith("    ")] == [
        "Merge pull request #4 from example-org/rollback/prod/support-bot-1.0.0",
        "set weight support-bot@1.0.0 0 -> 90",
        "set weight support-bot@1.1.0 100 -> 10",
        "Merge pull request #3 from example-org/promote/prod/support-bot-1.1.0",
        "set weight support-bot@1.0.0 90 -> 0 (retained)",
        "set weight support-bot@1.1.0 10 -> 100",
        "Merge pull request #2 from example-org/promote/prod/support-bot-1.1.0",
        "set weight support-bot@1.0.0 100 -> 90",
        "load support-bot@1.1.0 (weight 10)",
        "Initial registry",
        "load support-bot@1.0.0 (weight 100)",
    ]
    assert cli(capsys, "validate", "--root", repo.path)[0] == 0
    # gc keeps what rollback needs: both revisions prod routed in its last two states.
    code, out, _ = cli(capsys, "gc", "--keep-states", "2", "--root", repo.path, "-f", "json")
    assert code == 0
    kept = {revision for item in json.loads(out)["kept"] for revision in item["revisions"]}
    assert {"support-bot@1.0.0", "support-bot@1.1.0"} <= kept


def test_rollback_to_an_earlier_revision(
    repo: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    promote(capsys, repo, "support-bot@1.1.0", "staging", "--finish")
    repo.merge("promote/staging/support-bot-1.1.0", ago(hours=1))
    code, body, _ = cli(
        capsys, "rollback", "--env", "staging", "support-bot", "--to", "1.0.0", "--root", repo.path
    )
    assert code == 0
    branch = "rollback/staging/support-bot-1.0.0"
    assert (
        repo.show(branch, STAGING).count(
            "  support-bot:\n"
            "    - {version: 1.0.0, weight: 100}\n"
            "    - {version: 1.1.0, weight: 0}  # retained for rollback\n"
        )
        == 1
    )
    assert "Routes support-bot explicitly (`--to 1.0.0`)." in body


def test_two_promotions_of_different_aliases_merge_cleanly(
    repo: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    assert promote(capsys, repo, "support-bot@1.1.0", "staging", "--weight", "50")[0] == 0
    assert promote(capsys, repo, "sql-helper@1.0.0", "staging", "--weight", "10")[0] == 0
    repo.merge("promote/staging/support-bot-1.1.0", ago(minutes=2))
    repo.merge("promote/staging/sql-helper-1.0.0", ago(minutes=1))
    assert (
        "routes:\n"
        "  support-bot:\n"
        "    - {version: 1.0.0, weight: 50}\n"
        "    - {version: 1.1.0, weight: 50}  # canary\n"
        "  sql-helper:\n"
        "    - {version: 1.1.0, weight: 90}\n"
        "    - {version: 1.0.0, weight: 10}  # canary\n"
        "retain: 1\n"
    ) in repo.read(STAGING)


def test_second_open_promotion_of_one_alias_is_refused(
    repo: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    assert promote(capsys, repo, "support-bot@1.1.0", "staging", "--weight", "50")[0] == 0
    code, out, err = promote(capsys, repo, "support-bot@1.2.0", "staging", "--weight", "10")
    assert (code, out) == (1, "")
    assert err == (
        "adapterctl: error: promote/staging/support-bot-1.1.0 already changes these routes "
        "and is not merged into main\n"
        "  → merge or close that pull request first (then delete the branch: "
        "git branch -D promote/staging/support-bot-1.1.0); two open changes to one alias "
        "would conflict\n"
    )
    assert "promote/staging/support-bot-1.2.0" not in repo.git("branch")


def test_signed_promotion_commit(
    repo: Registry, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed (apt-get install openssh-client)")
    key = tmp_path / "release-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"rita@example.com {key.with_suffix('.pub').read_text()}")
    repo.git("config", "gpg.format", "ssh")
    repo.git("config", "user.signingkey", str(key))
    code, body, _ = promote(capsys, repo, "support-bot@1.1.0", "staging", "--finish", "--sign")
    assert code == 0
    branch = "promote/staging/support-bot-1.1.0"
    status = repo.git(
        "-c", f"gpg.ssh.allowedSignersFile={signers}", "log", "-1", "--format=%G? %GS", branch
    )
    assert status == "G rita@example.com"
    assert "(signed)." in body


def test_push_opens_the_pull_request(
    repo: Registry,
    capsys: pytest.CaptureFixture[str],
    github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", remote], check=True)
    repo.git("remote", "add", "origin", str(remote))
    github.routes[("POST", PULLS)] = (201, "create-201.json")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_example")
    monkeypatch.setenv("GITHUB_API_URL", github.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", SLUG)
    code, body, err = promote(capsys, repo, "support-bot@1.1.0", "staging", "--finish", "--push")
    branch = "promote/staging/support-bot-1.1.0"
    assert code == 0
    assert err.endswith(
        "(your checkout is unchanged)\n"
        "opened pull request #57: https://github.com/example-org/registry/pull/57\n"
    )
    pushed = subprocess.run(
        ["git", "rev-parse", branch], cwd=remote, check=True, capture_output=True, text=True
    )
    assert pushed.stdout.strip() == repo.git("rev-parse", branch)
    [request] = github.seen
    assert request.body == {
        "title": "Promote support-bot 1.1.0 to staging (100 %, replaces 1.0.0)",
        "head": branch,
        "base": "main",
        "body": body,
        "draft": False,
    }


# --- refusals: a clear message, the right exit code, and nothing written ---------------


def refused(
    capsys: pytest.CaptureFixture[str], repo: Registry, *args: str | Path
) -> tuple[int, str]:
    branches = repo.git("branch", "--list")
    code, out, err = cli(capsys, *args, "--root", repo.path)
    assert repo.git("branch", "--list") == branches, "a refusal must not create a branch"
    assert repo.git("status", "--porcelain") in ("", "M environments/prod/environment.yaml")
    assert not out.startswith("## ")
    return code, err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["support-bot@9.9.9", "--env", "staging", "--finish"],
            2,
            "adapterctl: error: no revision support-bot@9.9.9: "
            "adapters/support-bot/9.9.9.yaml does not exist\n",
        ),
        (
            ["support-bot@1.1.0", "--env", "qa", "--finish"],
            2,
            "adapterctl: error: unknown environment 'qa': "
            "environments/qa/environment.yaml does not exist\n",
        ),
        (
            ["support-bot@1.1.0", "--env", "staging"],
            2,
            "adapterctl: error: support-bot is routed in staging (1.0.0 100 %): give a canary "
            "weight with --weight W (1–99), canary tenants with --tenant NAME, "
            "or --finish to move all traffic\n",
        ),
        (
            ["support-bot@1.0.0", "--env", "staging", "--finish"],
            1,
            "adapterctl: error: nothing to change: support-bot in staging is already 1.0.0 100 %\n",
        ),
        (
            ["support-bot@1.1.0", "--env", "prod", "--weight", "10"],
            1,
            "adapterctl: error: not promoted: support-bot@1.1.0 is not served in staging, and "
            "prod takes only revisions staging has served (promotion.from: staging)\n"
            "  → promote it to staging first: adapterctl promote support-bot@1.1.0 "
            "--env staging\n",
        ),
        (
            ["support-bot@1.1.0", "--env", "staging", "--weight", "10", "--finish"],
            2,
            "adapterctl: error: --weight and --finish exclude each other: a canary step or 100 %\n",
        ),
        (
            ["support-bot@1.1.0", "--env", "staging", "--tenant", "acme", "--finish"],
            2,
            "adapterctl: error: --tenant and --finish exclude each other: --finish routes "
            "every tenant\n",
        ),
        (
            ["support-bot@1.1.0", "--env", "staging", "--tenant", "Acme Corp"],
            2,
            "adapterctl: error: --tenant 'Acme Corp': a tenant is named like the tenants of the "
            "gateway's key file: lower-case letters, digits and '-', at most 63, starting and "
            "ending with a letter or digit (e.g. acme-support)\n",
        ),
    ],
)
def test_promote_refusals(
    repo: Registry,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    message: str,
) -> None:
    assert refused(capsys, repo, "promote", *args) == (code, message)


@pytest.mark.parametrize("weight", ["0", "100", "-5"])
def test_weight_outside_1_to_99_is_a_usage_error(
    repo: Registry, capsys: pytest.CaptureFixture[str], weight: str
) -> None:
    code, err = refused(capsys, repo, "promote", "support-bot@1.1.0", "--env", "staging",
                        "--weight", weight)  # fmt: skip
    assert (code, err) == (
        2,
        f"adapterctl: error: --weight {weight}: a canary weight is 1–99 (use --finish for 100 %)\n",
    )


def test_promotion_before_the_soak_time_is_refused(
    repo: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    promote(capsys, repo, "support-bot@1.1.0", "staging", "--finish")
    merge = repo.merge("promote/staging/support-bot-1.1.0", ago(hours=2, minutes=5))
    code, err = refused(capsys, repo, "promote", "support-bot@1.1.0", "--env", "prod",
                        "--weight", "10")  # fmt: skip
    assert (code, err) == (
        1,
        "adapterctl: error: not promoted: support-bot@1.1.0 has been served in staging for "
        f"2h 5m (since commit {merge[:12]}); prod requires 24h (promotion.min_soak in "
        "environments/prod/environment.yaml)\n"
        "  → wait until the soak time has passed, then promote again\n",
    )


def test_revision_failing_a_gate_is_not_promoted(
    repo: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = repo.read("adapters/support-bot/1.1.0.yaml").split("digest: sha256:")[1][:64]
    weights = repo.path.parent / "store/sha256" / digest / "adapter_model.safetensors"
    weights.chmod(0o644)
    weights.write_bytes(weights.read_bytes()[:-1] + b"!")
    code, out, err = cli(
        capsys, "promote", "support-bot@1.1.0", "--env", "staging", "--finish",
        "--root", repo.path,
    )  # fmt: skip
    assert code == 1
    assert "integrity/" in out
    assert err == (
        "adapterctl: error: not promoted: support-bot@1.1.0 fails the gates for staging\n"
    )
    assert "promote/" not in repo.git("branch")


def test_dirty_working_tree_is_refused(repo: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    repo.edit("retain: 1", "retain: 2")
    before = repo.read()
    code, err = refused(capsys, repo, "promote", "support-bot@1.1.0", "--env", "staging",
                        "--finish")  # fmt: skip
    assert (code, err) == (
        1,
        "adapterctl: error: promote: the working tree has uncommitted changes "
        "(environments/prod/environment.yaml); nothing written\n"
        "  → commit or stash them first: the gates must judge exactly what is committed\n",
    )
    assert repo.read() == before


def test_detached_head_is_refused(repo: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    head = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "--detach")
    code, err = refused(capsys, repo, "rollback", "--env", "prod", "support-bot")
    assert (code, err) == (
        1,
        f"adapterctl: error: rollback: HEAD is detached at {head[:12]}\n"
        "  → check out the branch to start from, e.g. git switch main\n",
    )


def test_push_without_a_remote_is_refused_before_anything_is_written(
    repo: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = refused(capsys, repo, "promote", "support-bot@1.1.0", "--env", "staging",
                        "--finish", "--push")  # fmt: skip
    assert code == 2
    assert err.startswith("adapterctl: error: --push: this repository has no remote 'origin'")


def test_rollback_with_nothing_to_roll_back(
    repo: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = refused(capsys, repo, "rollback", "--env", "prod", "support-bot")
    init = repo.git("rev-parse", "HEAD")
    assert (code, err) == (
        1,
        f"adapterctl: error: nothing to roll back: commit {init[:12]} first routed "
        "support-bot in prod, and there is no earlier state\n"
        "  → to stop serving the alias, remove its routes in a reviewed pull request\n",
    )
    code, err = refused(capsys, repo, "rollback", "--env", "prod", "chat-bot")
    assert (code, err) == (
        1,
        "adapterctl: error: nothing to roll back: chat-bot is not routed in prod\n",
    )


def test_rollback_of_a_commit_that_is_not_a_promotion(
    repo: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.edit("weight: 100}\n  sql-helper", "weight: 60}\n    - {version: 1.1.0, weight: 40}\n"
              "  sql-helper")  # fmt: skip
    repo.edit("max_loras: 8,", "max_loras: 6,")
    repo.git("commit", "-q", "-a", "-m", "Canary and fewer slots", date=ago(hours=1))
    sha = repo.git("rev-parse", "HEAD")
    code, err = refused(capsys, repo, "rollback", "--env", "prod", "support-bot")
    assert (code, err) == (
        1,
        f"adapterctl: error: commit {sha[:12]} is not a promotion of support-bot: it also "
        "changes environments/prod/environment.yaml beyond the routes of support-bot\n"
        "  → reverting it would undo more than this alias's routes; use rollback --to "
        "VERSION instead\n",
    )


def test_rollback_refuses_a_revision_no_longer_in_the_store(
    repo: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    promote(capsys, repo, "support-bot@1.1.0", "staging", "--finish")
    repo.merge("promote/staging/support-bot-1.1.0", ago(hours=1))
    digest = repo.read("adapters/support-bot/1.0.0.yaml").split("digest: sha256:")[1][:64]
    store = repo.path.parent / "store"
    shutil.rmtree(store / "sha256" / digest)
    code, err = refused(capsys, repo, "rollback", "--env", "staging", "support-bot")
    assert (code, err) == (
        1,
        f"adapterctl: error: cannot roll back to support-bot@1.0.0: its artifact "
        f"sha256:{digest} is no longer in the store {store.as_uri()}\n"
        "  → gc removed it; restore it from the gc archive, or roll back to a retained "
        "revision with --to VERSION\n",
    )
