"""``adapterctl promote-base``: an environment and every alias it routes moved to another
base revision in one commit, refused when an alias would be left behind; rolled back by one
revert. The example registry's tiny-llama@r2 (the same weights, a new chat template) is the
refresh; its revisions are the example ones re-registered against it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_promote import PROD, STAGING, Registry, ago, cli, make_registry

R1_TEMPLATE = "sha256:356889ffe307e5936e268508a8f355b28d52b0c035143ee59f0d2fee24e21d1a"
R2_TEMPLATE = "sha256:5766757cb80e9a6ccdd4389fe3d001341a52d2ee6ba8e8abe0a7e169b7513346"
BRANCH = "promote-base/staging/tiny-llama-r2"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    monkeypatch.setenv("ADAPTERCTL_STORE", (tmp_path / "store").as_uri())
    return make_registry(tmp_path)


def on_r2(repo: Registry, alias: str, version: str = "2.0.0", source: str = "1.1.0") -> None:
    """``alias@version``: the artifact of ``alias@source``, registered against tiny-llama@r2."""
    text = repo.read(f"adapters/{alias}/{source}.yaml")
    for old, new in ((f"version: {source}", f"version: {version}"),
                     ("base: {name: tiny-llama, revision: r1}", "base: {name: tiny-llama, revision: r2}"),
                     (R1_TEMPLATE, R2_TEMPLATE)):  # fmt: skip
        assert old in text, old
        text = text.replace(old, new)
    (repo.path / f"adapters/{alias}/{version}.yaml").write_text(text)
    repo.git("add", "-A")
    repo.git(
        "commit", "-q", "-m", f"Register {alias} {version} for tiny-llama@r2", date=ago(days=9)
    )


def test_a_base_refresh_moves_the_base_and_every_alias_in_one_commit(
    repo: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    on_r2(repo, "support-bot")
    on_r2(repo, "sql-helper")
    before = repo.read(STAGING)
    code, out, err = cli(
        capsys, "promote-base", "tiny-llama@r2", "--env", "staging", "--root", repo.path
    )
    assert code == 0, out + err
    commit = repo.git("rev-parse", BRANCH)
    assert (
        err == f"created branch {BRANCH} at {commit[:12]} from main (your checkout is unchanged)\n"
    )
    assert repo.read(STAGING) == before
    after = repo.show(BRANCH, STAGING)
    assert after == before.replace(
        "base: {name: tiny-llama, revision: r1}", "base: {name: tiny-llama, revision: r2}"
    ).replace(
        "  support-bot:\n    - {version: 1.0.0, weight: 100}\n",
        "  support-bot:\n    - {version: 2.0.0, weight: 100}\n",
    ).replace(
        "  sql-helper:\n    - {version: 1.1.0, weight: 100}\n",
        "  sql-helper:\n    - {version: 2.0.0, weight: 100}\n",
    )
    assert repo.git("diff", "--name-only", f"main..{BRANCH}") == STAGING
    assert repo.git("log", "-1", "--format=%B", BRANCH) == (
        "Move staging to base tiny-llama@r2 (from tiny-llama@r1)\n\n"
        "Routes of support-bot in staging: 1.0.0 100 % -> 2.0.0 100 %.\n"
        "Routes of sql-helper in staging: 1.1.0 100 % -> 2.0.0 100 %.\n\n"
        "Base: tiny-llama@r2\nPrevious-Base: tiny-llama@r1\nEnvironment: staging"
    )
    assert out.startswith("## Move staging to base tiny-llama@r2 (from tiny-llama@r1)\n")
    assert "| `support-bot` | 1.0.0 100 % | `support-bot@2.0.0` 100 % |\n" in out
    assert "| `sql-helper` | 1.1.0 100 % | `sql-helper@2.0.0` 100 % |\n" in out
    assert "- schema, integrity, compat with tiny-llama@r2: passed" in out
    assert "adapterctl rollback --env staging support-bot\n" in out

    repo.merge(BRANCH, ago(hours=1))
    code, out, err = cli(capsys, "rollback", "--env", "staging", "support-bot", "--root", repo.path)
    assert code == 0, out + err
    branch = err.split()[2]
    assert repo.show(branch, STAGING) == before  # one revert: base and routes together


def test_a_refresh_that_leaves_an_alias_behind_is_refused(
    repo: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    on_r2(repo, "support-bot")
    code, out, err = cli(
        capsys, "promote-base", "tiny-llama@r2", "--env", "staging", "--root", repo.path
    )
    assert (code, out) == (1, "")
    assert err == (
        "adapterctl: error: not moved: sql-helper has no revision registered for tiny-llama@r2, "
        "and staging routes it\n"
        "  → register a revision trained on tiny-llama@r2 for each (adapterctl register … "
        "--base tiny-llama@r2), or stop routing the alias first\n"
    )
    assert repo.git("branch", "--list", "promote-base/*") == ""


def test_an_environment_moves_only_after_its_upstream(
    repo: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    on_r2(repo, "support-bot")
    on_r2(repo, "sql-helper")
    code, _, err = cli(
        capsys, "promote-base", "tiny-llama@r2", "--env", "prod", "--root", repo.path
    )
    assert code == 1
    assert err == (
        "adapterctl: error: not moved: prod takes only what staging has served (promotion.from: "
        "staging), and staging serves tiny-llama@r1, not tiny-llama@r2\n"
        "  → move staging first: adapterctl promote-base tiny-llama@r2 --env staging\n"
    )


def test_a_canary_in_flight_is_finished_first(
    repo: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    on_r2(repo, "support-bot")
    on_r2(repo, "sql-helper")
    repo.edit("    - {version: 1.0.0, weight: 100}\n",
              "    - {version: 1.0.0, weight: 90}\n    - {version: 1.1.0, weight: 10}\n", STAGING)  # fmt: skip
    repo.git("commit", "-qam", "canary")
    code, _, err = cli(
        capsys, "promote-base", "tiny-llama@r2", "--env", "staging", "--root", repo.path
    )
    assert code == 1
    assert err == (
        "adapterctl: error: not moved: support-bot is in the middle of a canary in staging "
        "(1.0.0 90 %, 1.1.0 10 %)\n"
        "  → finish or roll back the canary first (adapterctl promote --finish, or adapterctl "
        "rollback --env staging support-bot)\n"
    )


def test_a_chosen_revision_must_be_built_for_the_new_base(
    repo: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    on_r2(repo, "support-bot")
    on_r2(repo, "sql-helper")
    code, _, err = cli(capsys, "promote-base", "tiny-llama@r2", "--env", "staging",
                       "--use", "support-bot=1.1.0", "--root", repo.path)  # fmt: skip
    assert code == 1
    assert err == (
        "adapterctl: error: not moved: support-bot@1.1.0 was trained on tiny-llama@r1, "
        "not on tiny-llama@r2\n"
    )
    code, _, err = cli(
        capsys, "promote-base", "tiny-llama@r9", "--env", "staging", "--root", repo.path
    )
    assert (code, err) == (
        2,
        "adapterctl: error: no base tiny-llama@r9: bases/tiny-llama/r9.yaml does not exist\n",
    )
    code, _, err = cli(
        capsys, "promote-base", "tiny-llama@r1", "--env", "staging", "--root", repo.path
    )
    assert (code, err) == (
        1,
        "adapterctl: error: nothing to change: staging already serves tiny-llama@r1\n",
    )
    assert PROD  # prod is untouched by all of these
    assert repo.git("branch", "--list", "promote-base/*") == ""


def test_a_revision_whose_evidence_failed_is_not_moved(
    repo: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    on_r2(repo, "support-bot")
    on_r2(repo, "sql-helper")
    (repo.path / ".gitignore").write_text("/reports/\n")  # as this repository ignores it
    repo.git("add", ".gitignore")
    repo.git("commit", "-q", "-m", "Ignore reports/")
    reports = repo.path / "reports/golden"
    reports.mkdir(parents=True)
    failed = '{"format": "adapterctl/golden-evidence@1", "ok": false, "environment": "staging"}'
    (reports / "support-bot@2.0.0.json").write_text(failed)
    code, out, err = cli(
        capsys, "promote-base", "tiny-llama@r2", "--env", "staging", "--root", repo.path
    )
    assert (code, out) == (1, "")
    assert err == (
        "adapterctl: error: not moved: the evidence of a revision for tiny-llama@r2 says it "
        "failed (support-bot@2.0.0: reports/golden/support-bot@2.0.0.json)\n"
        "  → fix or replace the revision, or run eval/pressure again and keep the evidence of "
        "a passing run\n"
    )
    assert repo.git("branch", "--list", "promote-base/*") == ""
