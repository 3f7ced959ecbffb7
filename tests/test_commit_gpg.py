"""``adapterctl verify-commit`` with GPG signatures and GitHub's web-flow key.

The signers' keys are generated here in a short-named GPG home (gpg-agent's socket path is
limited to about 107 bytes); the web-flow key is a stand-in with GitHub's user ID.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_verify_commit import (
    REVOKED_HINT,
    UNSIGNED_HINT,
    GpgKey,
    Repo,
    SshKey,
    block,
    failed,
    isolate_git,
    make_ssh_keys,
    needs_ssh,
    passed,
    run,
    verify,
    write_signers,
)

pytestmark = [
    needs_ssh,
    pytest.mark.skipif(
        shutil.which("gpg") is None or shutil.which("gpgconf") is None,
        reason="gpg is not installed (apt-get install gnupg)",
    ),
]


@pytest.fixture(autouse=True)
def _no_user_git_config(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch)


@pytest.fixture(scope="module")
def ssh(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SshKey]:
    return make_ssh_keys(tmp_path_factory.mktemp("ssh"))


@pytest.fixture
def signers(tmp_path: Path, ssh: dict[str, SshKey]) -> Path:
    return write_signers(tmp_path / "allowed_signers", ssh)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo", None)


@pytest.fixture(scope="module")
def gnupg() -> Iterator[Path]:
    """The signers' GPG home: a short path, for gpg-agent's socket (about 107 bytes at most)."""
    home = Path(tempfile.mkdtemp(prefix="gpg-", dir="/tmp" if Path("/tmp").is_dir() else None))
    yield home
    subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], check=False)
    shutil.rmtree(home, ignore_errors=True)


def make_gpg_key(home: Path, user_id: str, folder: Path) -> GpgKey:
    env = {"GNUPGHOME": str(home)}
    run(
        "gpg",
        "--batch",
        "--quiet",
        "--passphrase",
        "",
        "--quick-gen-key",
        user_id,
        "ed25519",
        "sign",
        "never",
        env=env,
    )
    email = user_id.split("<")[1].rstrip(">")
    listing = run("gpg", "--with-colons", "--list-keys", f"<{email}>", env=env)
    fingerprint = next(
        line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")
    )
    public = folder / f"{email}.asc"
    public.write_text(run("gpg", "--armor", "--export", fingerprint, env=env))
    return GpgKey(fingerprint, fingerprint[-16:], public)


@pytest.fixture(scope="module")
def gpg(gnupg: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, GpgKey]:
    folder = tmp_path_factory.mktemp("gpg-public")
    return {
        "carol": make_gpg_key(gnupg, "Carol <carol@example.com>", folder),
        "web-flow": make_gpg_key(gnupg, "GitHub <noreply@github.com>", folder),
    }


@pytest.fixture
def gpg_repo(tmp_path: Path, gnupg: Path) -> Repo:
    return Repo(tmp_path / "repo", gnupg)


def test_good_gpg_commit_passes(
    gpg_repo: Repo, gpg: dict[str, GpgKey], capsys: pytest.CaptureFixture[str]
) -> None:
    gpg_repo.commit("promote", key=gpg["carol"])
    assert (
        verify(
            gpg_repo, "HEAD", "--gpg-keys", gpg["carol"].public, "--principal", "carol@example.com"
        )
        == 0
    )
    assert capsys.readouterr().out == passed(1)


def test_gpg_key_not_allowed_is_an_unknown_key(
    gpg_repo: Repo, gpg: dict[str, GpgKey], signers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sha = gpg_repo.commit("promote", key=gpg["carol"])
    assert (
        verify(gpg_repo, "HEAD", "--allowed-signers", signers, "--gpg-keys", gpg["web-flow"].public)
        == 1
    )
    message = f'"promote" is signed by GPG key {gpg["carol"].key_id}, which is not among the allowed GPG keys'
    hint = "  → pass the signer's public key with --gpg-keys if they may sign these commits"
    assert capsys.readouterr().out == failed(
        block(sha, "commit/unknown-key", message, hint), files=1
    )


def test_gpg_key_in_revocation_file_is_refused(
    gpg_repo: Repo, gpg: dict[str, GpgKey], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    carol = gpg["carol"].fingerprint
    revoked = tmp_path / "revoked"
    spaced = " ".join(carol[i : i + 4] for i in range(0, 40, 4))  # as gpg --fingerprint shows it
    revoked.write_text(f"{spaced}\n")
    sha = gpg_repo.commit("promote", key=gpg["carol"])
    assert verify(gpg_repo, "HEAD", "--gpg-keys", gpg["carol"].public, "--revoked", revoked) == 1
    message = (
        f'"promote" is signed by GPG key {carol}, which is listed in the revocation file {revoked}'
    )
    assert capsys.readouterr().out == failed(
        block(sha, "commit/revoked", message, REVOKED_HINT), files=1
    )


def test_gpg_key_revoked_by_its_owner_is_refused(
    gpg_repo: Repo, gnupg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dave = make_gpg_key(gnupg, "Dave <dave@example.com>", tmp_path)
    sha = gpg_repo.commit("promote", key=dave)
    certificate = (gnupg / "openpgp-revocs.d" / f"{dave.fingerprint}.rev").read_text()
    imported = tmp_path / "revocation.asc"
    imported.write_text(certificate.replace(":-----BEGIN", "-----BEGIN"))
    env = {"GNUPGHOME": str(gnupg)}
    run("gpg", "--batch", "--quiet", "--import", imported, env=env)
    dave.public.write_text(run("gpg", "--armor", "--export", dave.fingerprint, env=env))
    assert verify(gpg_repo, "HEAD", "--gpg-keys", dave.public) == 1
    message = f'"promote" is signed by GPG key {dave.fingerprint}, which its owner has revoked'
    assert capsys.readouterr().out == failed(
        block(sha, "commit/revoked", message, REVOKED_HINT), files=1
    )


@pytest.fixture
def web_flow_merge(gpg_repo: Repo, ssh: dict[str, SshKey], gpg: dict[str, GpgKey]) -> Repo:
    """main: a signed base; the pull request's head is signed by alice, GitHub merges it."""
    gpg_repo.commit("base", key=ssh["alice"])
    gpg_repo.git("checkout", "-q", "-b", "pr-7")
    gpg_repo.commit("promote support-bot 1.1.0", key=ssh["alice"])
    gpg_repo.git("checkout", "-q", "main")
    gpg_repo.merge("pr-7", "Merge pull request #7", key=gpg["web-flow"])
    return gpg_repo


def test_web_flow_merge_of_a_signed_head_passes(
    web_flow_merge: Repo, gpg: dict[str, GpgKey], signers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args: list[str | Path] = [
        "--allowed-signers",
        signers,
        "--github-web-flow",
        gpg["web-flow"].public,
        "--principal",
        "alice@example.com",
    ]
    assert verify(web_flow_merge, "--first-parent", "main~1..main", *args) == 0
    assert capsys.readouterr().out == passed(2)


def test_web_flow_merge_of_an_unsigned_head_is_refused(
    gpg_repo: Repo, gpg: dict[str, GpgKey], signers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gpg_repo.commit("base", key=gpg["web-flow"])
    gpg_repo.git("checkout", "-q", "-b", "pr-8")
    head = gpg_repo.commit("unsigned change")
    gpg_repo.git("checkout", "-q", "main")
    merge = gpg_repo.merge("pr-8", "Merge pull request #8", key=gpg["web-flow"])
    assert (
        verify(
            gpg_repo,
            "HEAD",
            "--allowed-signers",
            signers,
            "--github-web-flow",
            gpg["web-flow"].public,
        )
        == 1
    )
    message = f'"unsigned change" (merged by commit {merge[:12]}) is not signed'
    assert capsys.readouterr().out == failed(
        block(head, "commit/unsigned", message, UNSIGNED_HINT, merge), files=2
    )


def test_web_flow_signature_on_a_non_merge_is_refused(
    gpg_repo: Repo, gpg: dict[str, GpgKey], capsys: pytest.CaptureFixture[str]
) -> None:
    sha = gpg_repo.commit("Update environment.yaml", key=gpg["web-flow"])
    web_flow = gpg["web-flow"].public
    assert verify(gpg_repo, "HEAD", "--github-web-flow", web_flow) == 1
    hint = (
        "  → web-flow signs the commits github.com makes (merges, squash merges, web edits) and proves only "
        "that someone with write access made it; merge pull requests with a merge commit so that their own signed "
        "commits are verified too, or allow the key for any commit with --gpg-keys"
    )
    message = (
        '"Update environment.yaml" is signed by GitHub\'s web-flow key but is not a merge commit'
    )
    assert capsys.readouterr().out == failed(
        block(sha, "commit/web-flow-not-merge", message, hint), files=1
    )
    assert verify(gpg_repo, "HEAD", "--gpg-keys", web_flow) == 0


def test_web_flow_option_refuses_another_key(
    repo: Repo, gpg: dict[str, GpgKey], capsys: pytest.CaptureFixture[str]
) -> None:
    carol = gpg["carol"]
    assert verify(repo, "HEAD", "--github-web-flow", carol.public) == 1
    assert capsys.readouterr().err == (
        f'adapterctl: error: {carol.public}: key {carol.fingerprint} is not GitHub\'s web-flow key (its user IDs: "Carol <carol@example.com>")\n'
        "  → fetch GitHub's key from https://github.com/web-flow.gpg (see docs/signed-commits.md)\n"
    )


def test_file_without_a_gpg_key_is_refused(
    repo: Repo, signers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert verify(repo, "HEAD", "--gpg-keys", signers) == 1
    assert capsys.readouterr().err == (
        f"adapterctl: error: {signers}: no OpenPGP public key in it\n"
        "  → export one with gpg --armor --export KEYID > FILE\n"
    )
