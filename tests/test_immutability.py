"""``validate --against REF``: revisions are append-only, judged by git in a real repository."""

from __future__ import annotations

from pathlib import Path

import git
import pytest

from adapterctl.cli.app import main
from tests.conftest import copy_registry

REVISION = "adapters/support-bot/1.1.0.yaml"
HINT = "  → revisions are append-only: restore the file and publish a new version instead\n"


@pytest.fixture
def repo(registry: Path, monkeypatch: pytest.MonkeyPatch) -> git.Repo:
    repository = git.Repo.init(registry, initial_branch="main")
    with repository.config_writer() as config:
        config.set_value("user", "name", "Test")
        config.set_value("user", "email", "test@example.invalid")
        config.set_value("commit", "gpgsign", "false")
    repository.git.add(A=True)
    repository.index.commit("registry")
    monkeypatch.chdir(registry)
    return repository


def test_unchanged_registry_passes(repo: git.Repo, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--against", "main"]) == 0
    assert capsys.readouterr().out == "✓ validate: 18 files, no problems\n"


def test_edited_revision_is_refused_at_its_first_changed_line(
    repo: git.Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    path = Path(repo.working_dir) / REVISION
    path.write_text(path.read_text().replace("  rank: 8", "  rank: 16"))
    assert main(["validate", "--against", "main"]) == 1
    assert capsys.readouterr().out == (
        f"{REVISION}:18  error  immutability/revision-changed\n"
        "  revision changed since main\n" + HINT + "\n✗ validate: 1 error in 18 files\n"
    )


def test_committed_edit_is_refused_against_the_earlier_ref(
    repo: git.Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.git.checkout("-b", "feature")
    path = Path(repo.working_dir) / REVISION
    path.write_text(path.read_text() + "# a comment is a change too\n")
    repo.git.commit("-am", "edit a revision")
    assert main(["validate", "--against", "main"]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{REVISION}:40  error  immutability/revision-changed\n")


def test_deleted_revision_is_refused(repo: git.Repo, capsys: pytest.CaptureFixture[str]) -> None:
    (Path(repo.working_dir) / "adapters/support-bot/1.2.0.yaml").unlink()
    assert main(["validate", "--against", "main"]) == 1
    assert capsys.readouterr().out == (
        "adapters/support-bot/1.2.0.yaml  error  immutability/revision-changed\n"
        "  revision deleted since main\n" + HINT + "\n✗ validate: 1 error in 17 files\n"
    )


def test_new_revision_and_edited_environment_are_fine(
    repo: git.Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Path(repo.working_dir)
    text = (root / "adapters/support-bot/1.2.0.yaml").read_text()
    (root / "adapters/support-bot/1.3.0.yaml").write_text(text.replace("1.2.0", "1.3.0"))
    env = root / "environments/staging/environment.yaml"
    env.write_text(
        env.read_text().replace("{version: 1.1.0, weight: 100}", "{version: 1.3.0, weight: 100}", 1)
    )
    assert main(["validate", "--against", "main"]) == 0
    assert capsys.readouterr().out == "✓ validate: 19 files, no problems\n"


def test_registry_in_a_subfolder_of_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    outer = tmp_path / "outer"
    root = copy_registry(outer / "registry")
    repository = git.Repo.init(outer, initial_branch="main")
    repository.git.add(A=True)
    repository.git.commit("-m", "x", "--no-gpg-sign", author="T <t@example.invalid>")
    (root / REVISION).write_text((root / REVISION).read_text().replace("seed: 1234", "seed: 1"))
    monkeypatch.chdir(root)
    assert main(["validate", "--against", "HEAD"]) == 1
    assert capsys.readouterr().out.startswith(
        f"{REVISION}:30  error  immutability/revision-changed"
    )


def test_unknown_ref_is_a_usage_error(repo: git.Repo, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--against", "no-such-branch"]) == 2
    assert capsys.readouterr().err == (
        "adapterctl: error: --against: unknown git revision 'no-such-branch'\n"
    )


def test_against_outside_git_is_a_usage_error(
    registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--root", str(registry), "--against", "main"]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"adapterctl: error: --against needs a git repository, and {registry} is not in one\n"
    )
