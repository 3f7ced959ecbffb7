"""``policy check`` in a real git repository: the policy of the target branch, files from git."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from adapterctl.cli.app import main
from tests.test_policy_cases import DATA, git_registry

PROD = "environments/prod/environment.yaml"
STAGING = "environments/staging/environment.yaml"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[git.Repo]:
    repository = git_registry(tmp_path / "registry")
    repository.git.checkout("-b", "feature")
    monkeypatch.chdir(tmp_path)
    yield repository
    repository.close()


def _edit(repo: git.Repo, path: str, old: str, new: str) -> None:
    file = Path(repo.working_dir) / path
    text = file.read_text("utf-8")
    assert old in text
    file.write_text(text.replace(old, new, 1))


def _record(repo: git.Repo, case: str) -> None:
    """The recorded pull request of ``case``, retargeted at this repository's commits."""
    head, base = repo.head.commit.hexsha, repo.commit("main").hexsha
    pr = json.loads((DATA / case / "pr.json").read_text("utf-8"))
    recorded_head = pr["head"]["sha"]
    pr["head"]["sha"], pr["base"]["sha"] = head, base
    Path("pr.json").write_text(json.dumps(pr))
    reviews = (DATA / case / "reviews.json").read_text("utf-8")
    Path("reviews.json").write_text(reviews.replace(recorded_head, head))


def _check(repo: git.Repo, *extra: str) -> int:
    args = ["policy", "check", "--pr", "pr.json", "--reviews", "reviews.json"]
    return main([*args, "--root", str(repo.working_dir), *extra])


@pytest.fixture
def weakened(repo: git.Repo) -> git.Repo:
    """A prod promotion that also drops the release managers from CODEOWNERS and prod."""
    _edit(repo, PROD, "weight: 90}", "weight: 50}")
    _edit(repo, PROD, "weight: 10}", "weight: 50}")
    _edit(repo, PROD, "required_approvals: 2", "required_approvals: 1")
    _edit(repo, PROD, '  approver_teams: ["@example-org/release-managers"]\n', "")
    _edit(repo, "CODEOWNERS", "/environments/prod/ ", "# /environments/prod/ ")
    repo.git.commit("-am", "promote support-bot 1.1.0 to 50% (and relax the rules)")
    _record(repo, "prod-without-release-manager")
    return repo


def test_policy_comes_from_the_base_ref(
    weakened: git.Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    """The changed files come from git (no --files); the rules from main, not from the PR."""
    assert _check(weakened, "--base-ref", "main") == 1
    head = weakened.head.commit.hexsha[:7]
    assert capsys.readouterr().out == (
        f"{PROD} $.promotion.approver_teams  error  policy/approver-teams\n"
        "  changes to environments/prod/ need an approval from @example-org/release-managers "
        "(approvals that count: pat-platform, mia-ml)\n"
        f"  → a member of @example-org/release-managers must approve the head {head}\n"
        "\n"
        f"{PROD}  error  policy/code-owners\n"
        "  no code owner approved this change: it needs @example-org/release-managers "
        "(approvals that count: pat-platform, mia-ml)\n"
        f"  → a member of @example-org/release-managers must approve the head {head}\n"
        "  see CODEOWNERS:20\n"
        "\n"
        "✗ policy check: 2 errors in 2 files\n"
    )


def test_policy_from_a_working_tree_the_pr_changed_is_refused(
    weakened: git.Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _check(weakened) == 1
    hint = (
        "  → pass --base-ref (the target branch, e.g. origin/main) to read the policy from there\n"
    )
    assert capsys.readouterr().out == (
        "CODEOWNERS  error  policy/untrusted-policy\n"
        "  this pull request changes CODEOWNERS, and the policy was read from the working tree: "
        "the change could approve itself\n" + hint + "\n"
        f"{PROD}  error  policy/untrusted-policy\n"
        f"  this pull request changes {PROD}, and the policy was read from the working tree: "
        "the change could approve itself\n" + hint + "\n"
        "✗ policy check: 2 errors in 2 files\n"
    )


def test_existing_revision_keeps_its_trainer_from_the_base(
    repo: git.Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rewriting trained_by in the same pull request does not hide the trainer."""
    _edit(repo, STAGING, "{version: 1.1.0, weight: 100}", "{version: 1.2.0, weight: 100}")
    _edit(repo, "adapters/support-bot/1.2.0.yaml", "svc-train-pipeline", "someone-else")
    repo.git.commit("-am", "promote support-bot 1.2.0 in staging")
    _record(repo, "trainer-approval")
    assert _check(repo, "--base-ref", "main") == 1
    head = repo.head.commit.hexsha[:7]
    assert capsys.readouterr().out == (
        "adapters/support-bot/1.2.0.yaml  error  policy/code-owners\n"
        "  no code owner approved this change: it needs @example-org/ml-team "
        "(approvals that count: pat-platform)\n"
        f"  → a member of @example-org/ml-team must approve the head {head}\n"
        "  see CODEOWNERS:9\n"
        "\n"
        "reviews.json $[0]  error  policy/trainer-approval\n"
        "  svc-train-bot approved support-bot@1.2.0, which they trained as svc-train-pipeline\n"
        "  → whoever trains or signs an adapter must not approve its release: "
        "someone else must approve\n"
        "  see adapters/support-bot/1.2.0.yaml $.training.trained_by\n"
        "\n"
        "✗ policy check: 2 errors in 2 files\n"
    )


def test_new_revision_trainer_and_signer(
    repo: git.Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Path(repo.working_dir)
    text = (root / "adapters/support-bot/1.2.0.yaml").read_text("utf-8")
    text = text.replace("version: 1.2.0", "version: 1.3.0")
    (root / "adapters/support-bot/1.3.0.yaml").write_text(
        text.replace("trained_by: svc-train-pipeline", "trained_by: jdoe@example.internal")
    )
    repo.git.add(A=True)
    repo.git.commit("-m", "register support-bot 1.3.0")
    _record(repo, "golden-owner-missing")  # noah-ml approves
    reviews = json.loads(Path("reviews.json").read_text("utf-8"))
    jdoe = json.loads(json.dumps(reviews[0]).replace("noah-ml", "jdoe"))
    Path("reviews.json").write_text(json.dumps([jdoe, *reviews]))
    signers = tmp_path / "signers.yaml"
    signers.write_text("support-bot@1.3.0: [noah-ml, svc-sign@example.internal]\n")
    assert _check(repo, "--base-ref", "main", "--signers", str(signers)) == 1
    head = repo.head.commit.hexsha[:7]
    revision = "adapters/support-bot/1.3.0.yaml"
    trainer_hint = (
        "  → whoever trains or signs an adapter must not approve its release: "
        "someone else must approve\n"
    )
    assert capsys.readouterr().out == (
        f"{signers} $['support-bot@1.3.0']  warning  policy/unmapped-identity\n"
        "  svc-sign@example.internal (signed support-bot@1.3.0) has no GitHub login under "
        "people in teams.yaml: an approval by them would not be noticed\n"
        "  → add 'svc-sign@example.internal: LOGIN' under people in teams.yaml\n"
        "\n"
        f"{revision}  error  policy/code-owners\n"
        "  no code owner approved this change: it needs @example-org/ml-team "
        "(approvals that count: none)\n"
        f"  → a member of @example-org/ml-team must approve the head {head}\n"
        "  see CODEOWNERS:9\n"
        "\n"
        "pr.json $.head.sha  error  policy/approvals\n"
        f"  1 approval is needed on the head {head}, found none\n"
        "  → an approval counts when it is on the head commit, by a member or collaborator "
        "other than the author and the adapter's trainer or signer\n"
        "\n"
        "reviews.json $[0]  error  policy/trainer-approval\n"
        "  jdoe approved support-bot@1.3.0, which they trained as jdoe@example.internal\n"
        + trainer_hint
        + f"  see {revision} $.training.trained_by\n"
        "\n"
        "reviews.json $[1]  error  policy/trainer-approval\n"
        "  noah-ml approved support-bot@1.3.0, which they signed\n"
        + trainer_hint
        + f"  see {signers} $['support-bot@1.3.0']\n"
        "\n"
        "✗ policy check: 4 errors, 1 warning in 1 file\n"
    )


def test_unknown_base_ref_is_a_usage_error(
    weakened: git.Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _check(weakened, "--base-ref", "origin/nope") == 2
    assert capsys.readouterr().err == (
        "adapterctl: error: --base-ref: unknown git revision 'origin/nope'\n"
    )


def test_head_not_fetched_is_a_usage_error(
    weakened: git.Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    pr = json.loads(Path("pr.json").read_text("utf-8"))
    pr["head"]["sha"] = "0" * 40
    Path("pr.json").write_text(json.dumps(pr))
    assert _check(weakened, "--base-ref", "main") == 2
    assert capsys.readouterr().err == (
        f"adapterctl: error: the pull request's head commit 0000000 is not in the git "
        f"repository at {weakened.working_dir}\n"
        f"  → fetch it (git fetch origin {'0' * 40}), or pass --files FILE, recorded with "
        "gh api --paginate --slurp repos/OWNER/REPO/pulls/NUMBER/files > files.json\n"
    )


def test_deleting_codeowners_in_the_working_tree_is_refused(
    repo: git.Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.git.rm("CODEOWNERS")
    repo.git.commit("-m", "no more owners")
    _record(repo, "golden-owner-missing")
    assert _check(repo) == 1
    assert capsys.readouterr().out == (
        "CODEOWNERS  warning  policy/no-codeowners\n"
        "  no CODEOWNERS file in the working tree: code owners are not checked\n"
        "\n"
        "CODEOWNERS  error  policy/untrusted-policy\n"
        "  this pull request changes CODEOWNERS, and the policy was read from the working tree: "
        "the change could approve itself\n"
        "  → pass --base-ref (the target branch, e.g. origin/main) to read the policy from there\n"
        "\n"
        "✗ policy check: 1 error, 1 warning in 1 file\n"
    )


def test_unknown_trainer_fails_closed(repo: git.Repo, capsys: pytest.CaptureFixture[str]) -> None:
    _edit(repo, STAGING, "{version: 1.1.0, weight: 100}", "{version: 9.9.9, weight: 100}")
    repo.git.commit("-am", "route to a revision nobody registered")
    _record(repo, "trainer-approval")
    assert _check(repo, "--base-ref", "main") == 1
    assert (
        "adapters/support-bot/9.9.9.yaml  error  policy/unknown-trainer\n"
        "  cannot tell who trained support-bot@9.9.9: adapters/support-bot/9.9.9.yaml is not in "
        "main or the working tree\n"
    ) in capsys.readouterr().out
