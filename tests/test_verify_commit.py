"""``adapterctl verify-commit``: real repositories, real SSH signatures, real attacks.

Keys are made here with ``ssh-keygen``; commits carry fixed dates from 2024 so that messages
are exact. GPG and GitHub's web-flow key: tests/test_commit_gpg.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapterctl.cli.app import main
from adapterctl.signing.commits import CommitPolicy, verify_commits

needs_ssh = pytest.mark.skipif(
    shutil.which("ssh-keygen") is None,
    reason="ssh-keygen is not installed (apt-get install openssh-client)",
)
pytestmark = needs_ssh

UNSIGNED_HINT = "  → environment commits must be signed by an allowed signer (git commit -S; docs/signed-commits.md)"
ADD_KEY_HINT = "  → add the key to the allowed signers file if its owner may sign these commits"
REVOKED_HINT = (
    "  → a revoked key is refused whatever the commit's date: re-sign the change with a current key"
)
BACKDATED_HINT = (
    "  → git checks a key's validity at the commit's own date, which the signer sets, so a commit "
    "may not be dated before its parent (clock skew allowed: 5 min); commit again with the right date"
)


@dataclass(frozen=True)
class SshKey:
    path: Path
    public: str
    """``keytype base64``, as an allowed-signers line needs it."""
    fingerprint: str


@dataclass(frozen=True)
class GpgKey:
    fingerprint: str
    key_id: str
    public: Path


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def isolate_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git config: only the tests' own settings count."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def make_ssh_keys(folder: Path) -> dict[str, SshKey]:
    keys = {}
    for name in ("alice", "bob", "mallory"):
        path = folder / name
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path)
        public = " ".join(path.with_suffix(".pub").read_text().split()[:2])
        fingerprint = run("ssh-keygen", "-l", "-f", path.with_suffix(".pub")).split()[1]
        keys[name] = SshKey(path, public, fingerprint)
    return keys


def write_signers(path: Path, ssh: dict[str, SshKey]) -> Path:
    """Alice and Bob may sign; Mallory's key is not in the file."""
    path.write_text(
        "# who may sign environment commits\n"
        f"alice@example.com {ssh['alice'].public}\n"
        f'bob@example.com namespaces="git" {ssh["bob"].public} bob laptop\n'
    )
    return path


@pytest.fixture(autouse=True)
def _no_user_git_config(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch)


@pytest.fixture(scope="module")
def ssh(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SshKey]:
    return make_ssh_keys(tmp_path_factory.mktemp("ssh"))


class Repo:
    """A repository whose commits get dates an hour apart from 2024-01-01, unless told."""

    def __init__(self, path: Path, gnupg: Path | None) -> None:
        self.path = path
        self.gnupg = gnupg
        self.hour = 0
        path.mkdir()
        self.git("init", "-q", "-b", "main")
        for key, value in [
            ("user.name", "Test"),
            ("user.email", "test@example.invalid"),
            ("commit.gpgsign", "false"),
        ]:
            self.git("config", key, value)

    def git(self, *args: str | Path, env: dict[str, str] | None = None) -> str:
        extra = {"GNUPGHOME": str(self.gnupg)} if self.gnupg else {}
        return run("git", *args, cwd=self.path, env={**extra, **(env or {})}).strip()

    def _dates(self, date: str | None) -> dict[str, str]:
        if date is None:
            self.hour += 1
            date = f"2024-01-01T{self.hour:02d}:00:00Z"
        return {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}

    def commit(
        self, subject: str, *, key: SshKey | GpgKey | None = None, date: str | None = None
    ) -> str:
        (self.path / f"{subject}.txt").write_text(subject)
        self.git("add", f"{subject}.txt")
        self.git(
            *_signing(key),
            "commit",
            "-q",
            "-m",
            subject,
            *(["-S"] if key else []),
            env=self._dates(date),
        )
        return self.git("rev-parse", "HEAD")

    def merge(self, branch: str, subject: str, *, key: SshKey | GpgKey | None = None) -> str:
        sign = ["-S"] if key else []
        self.git(
            *_signing(key),
            "merge",
            "-q",
            "--no-ff",
            *sign,
            "-m",
            subject,
            branch,
            env=self._dates(None),
        )
        return self.git("rev-parse", "HEAD")


def _signing(key: SshKey | GpgKey | None) -> list[str]:
    if isinstance(key, SshKey):
        return ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key.path}"]
    if isinstance(key, GpgKey):
        return ["-c", "gpg.format=openpgp", "-c", f"user.signingkey={key.fingerprint}"]
    return []


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo", None)


@pytest.fixture
def signers(tmp_path: Path, ssh: dict[str, SshKey]) -> Path:
    return write_signers(tmp_path / "allowed_signers", ssh)


def verify(repo: Repo, *args: str | Path) -> int:
    return main(["verify-commit", "--repo", str(repo.path), *[str(arg) for arg in args]])


def block(sha: str, rule: str, message: str, hint: str, *related: str) -> str:
    lines = [f"commit {sha[:12]}  error  {rule}", f"  {message}", hint]
    return "\n".join(lines + [f"  see commit {sha[:12]}" for sha in related])


def failed(*blocks: str, files: int) -> str:
    errors = "1 error" if len(blocks) == 1 else f"{len(blocks)} errors"
    summary = f"✗ verify-commit: {errors} in {files} commit{'s' if files != 1 else ''}\n"
    return "\n\n".join([*sorted(blocks), summary])


def passed(files: int) -> str:
    return f"✓ verify-commit: {files} commit{'s' if files != 1 else ''}, no problems\n"


# --- SSH ----------------------------------------------------------------------------------


def test_good_ssh_commit_passes(
    repo: Repo, ssh: dict[str, SshKey], signers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit("promote", key=ssh["alice"])
    assert verify(repo, "HEAD", "--allowed-signers", signers) == 0
    assert capsys.readouterr().out == passed(1)


def test_a_range_verifies_each_of_its_commits(
    repo: Repo, ssh: dict[str, SshKey], signers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = repo.commit("base")  # unsigned, but outside the range
    repo.commit("one", key=ssh["alice"])
    repo.commit("two", key=ssh["bob"])
    assert verify(repo, f"{base}..main", "--allowed-signers", signers) == 0
    assert capsys.readouterr().out == passed(2)


def test_unsigned_commit_is_refused(
    repo: Repo, ssh: dict[str, SshKey], signers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = repo.commit("base", key=ssh["alice"])
    sha = repo.commit("sneak in a route")
    assert verify(repo, f"{base}..HEAD", "--allowed-signers", signers) == 1
    expected = block(sha, "commit/unsigned", '"sneak in a route" is not signed', UNSIGNED_HINT)
    assert capsys.readouterr().out == failed(expected, files=1)


def test_key_missing_from_allowed_signers_is_an_unknown_key(
    repo: Repo, ssh: dict[str, SshKey], signers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sha = repo.commit("promote", key=ssh["mallory"])
    assert verify(repo, "HEAD", "--allowed-signers", signers) == 1
    message = f'"promote" is signed by SSH key {ssh["mallory"].fingerprint}, which is not in the allowed signers {signers}'
    assert capsys.readouterr().out == failed(
        block(sha, "commit/unknown-key", message, ADD_KEY_HINT), files=1
    )


@pytest.mark.parametrize("entry", ["public key", "fingerprint", "allowed-signers line"])
def test_revoked_key_is_refused(
    entry: str,
    repo: Repo,
    ssh: dict[str, SshKey],
    signers: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alice = ssh["alice"]
    line = {"public key": f"{alice.public} alice", "fingerprint": alice.fingerprint}.get(
        entry, f"alice@example.com {alice.public}"
    )
    revoked = tmp_path / "revoked"
    revoked.write_text(f"# leaked laptop, 2024-03\n\n{line}\n")
    sha = repo.commit("promote", key=alice)
    assert verify(repo, "HEAD", "--allowed-signers", signers, "--revoked", revoked) == 1
    message = f'"promote" is signed by SSH key {alice.fingerprint}, which is listed in the revocation file {revoked}'
    assert capsys.readouterr().out == failed(
        block(sha, "commit/revoked", message, REVOKED_HINT), files=1
    )


def test_key_revocation_list_is_applied_by_git(
    repo: Repo,
    ssh: dict[str, SshKey],
    signers: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    krl = tmp_path / "revoked.krl"
    run("ssh-keygen", "-q", "-k", "-f", krl, ssh["alice"].path.with_suffix(".pub"))
    sha = repo.commit("promote", key=ssh["alice"])
    assert verify(repo, "HEAD", "--allowed-signers", signers, "--revoked", krl) == 1
    hint = f"  → the commit changed after it was signed, or its SSH key is revoked in {krl}; sign it again (git commit --amend -S)"
    expected = block(
        sha, "commit/bad-signature", '"promote" has a signature that does not verify', hint
    )
    assert capsys.readouterr().out == failed(expected, files=1)


@pytest.fixture
def retired_alice(tmp_path: Path, ssh: dict[str, SshKey]) -> Path:
    """Alice's key retired at 2024-01-01T12:00Z; bob's key is current."""
    path = tmp_path / "allowed_signers"
    path.write_text(
        f'alice@example.com valid-before="202401011200Z" {ssh["alice"].public}\nbob@example.com {ssh["bob"].public}\n'
    )
    return path


def test_key_outside_its_validity_window_is_expired(
    repo: Repo, ssh: dict[str, SshKey], retired_alice: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sha = repo.commit("late", key=ssh["alice"], date="2024-01-02T00:00:00Z")
    assert verify(repo, "HEAD", "--allowed-signers", retired_alice) == 1
    message = (
        f'"late" is signed by SSH key {ssh["alice"].fingerprint} of alice@example.com, which '
        f"{retired_alice}:1 accepts only until 2024-01-01T12:00:00Z; the commit is dated 2024-01-02T00:00:00Z"
    )
    assert capsys.readouterr().out == failed(
        block(sha, "commit/expired", message, "  → sign with a current key"), files=1
    )


def test_backdated_commit_is_refused_although_git_accepts_its_signature(
    repo: Repo, ssh: dict[str, SshKey], retired_alice: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = repo.commit("base", key=ssh["bob"], date="2024-01-01T00:00:00Z")
    parent = repo.commit("current", key=ssh["bob"], date="2024-01-02T00:00:00Z")
    # a stolen retired key, and a date inside its old validity window: git says G
    sha = repo.commit("backdated", key=ssh["alice"], date="2024-01-01T06:00:00Z")
    assert (
        repo.git("-c", f"gpg.ssh.allowedSignersFile={retired_alice}", "log", "-1", "--format=%G?")
        == "G"
    )
    assert verify(repo, f"{base}..HEAD", "--allowed-signers", retired_alice) == 1
    message = f'"backdated" is dated 2024-01-01T06:00:00Z, before its parent {parent[:12]} (2024-01-02T00:00:00Z)'
    expected = block(sha, "commit/backdated", message, BACKDATED_HINT, parent)
    assert capsys.readouterr().out == failed(expected, files=2)


def test_small_clock_skew_is_tolerated(
    repo: Repo, ssh: dict[str, SshKey], signers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit("base", key=ssh["bob"], date="2024-01-01T00:05:00Z")
    repo.commit("laptop clock", key=ssh["alice"], date="2024-01-01T00:01:00Z")
    assert verify(repo, "HEAD", "--allowed-signers", signers) == 0
    assert verify(repo, "HEAD", "--allowed-signers", signers, "--clock-skew", "60") == 1
    assert "commit/backdated" in capsys.readouterr().out


def test_future_dated_commit_is_refused(repo: Repo, ssh: dict[str, SshKey], signers: Path) -> None:
    sha = repo.commit("ahead", key=ssh["alice"], date="2024-01-02T13:30:00Z")
    policy = CommitPolicy(allowed_signers=signers, now=datetime(2024, 1, 1, tzinfo=UTC))
    result = verify_commits(repo.path, ["HEAD"], policy)
    assert result.commits == (sha,)
    assert [(f.rule, f.message) for f in result.findings] == [
        ("commit/future-dated", '"ahead" is dated 2024-01-02T13:30:00Z, 1 d 13 h in the future')
    ]


@pytest.mark.parametrize("refs", [["HEAD"], ["main~1..main"], ["--first-parent", "main~1..main"]])
def test_merge_whose_second_parent_is_unsigned_is_refused(
    refs: list[str],
    repo: Repo,
    ssh: dict[str, SshKey],
    signers: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo.commit("base", key=ssh["alice"])
    repo.git("checkout", "-q", "-b", "feature")
    head = repo.commit("unreviewed route")
    repo.git("checkout", "-q", "main")
    merge = repo.merge("feature", "merge feature", key=ssh["alice"])
    assert verify(repo, *refs, "--allowed-signers", signers) == 1
    message = f'"unreviewed route" (merged by commit {merge[:12]}) is not signed'
    assert capsys.readouterr().out == failed(
        block(head, "commit/unsigned", message, UNSIGNED_HINT, merge), files=2
    )


def test_first_parent_skips_side_commits_below_the_merged_head(
    repo: Repo, ssh: dict[str, SshKey], signers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit("base", key=ssh["alice"])
    repo.git("checkout", "-q", "-b", "feature")
    wip = repo.commit("wip")
    repo.commit("squashed and signed", key=ssh["bob"])
    repo.git("checkout", "-q", "main")
    repo.merge("feature", "merge feature", key=ssh["alice"])
    assert verify(repo, "--first-parent", "main~1..main", "--allowed-signers", signers) == 0
    assert capsys.readouterr().out == passed(2)
    assert verify(repo, "main~1..main", "--allowed-signers", signers) == 1
    assert f"commit {wip[:12]}  error  commit/unsigned" in capsys.readouterr().out


def test_principal_not_allowed(
    repo: Repo, ssh: dict[str, SshKey], signers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sha = repo.commit("promote", key=ssh["alice"])
    assert verify(repo, "HEAD", "--allowed-signers", signers, "--principal", "bob@example.com") == 1
    message = f'"promote" is signed by alice@example.com (key {ssh["alice"].fingerprint}), who is not an allowed principal (bob@example.com)'
    hint = "  → only the principals given with --principal may sign these commits"
    assert capsys.readouterr().out == failed(
        block(sha, "commit/principal-not-allowed", message, hint), files=1
    )
    assert (
        verify(repo, "HEAD", "--allowed-signers", signers, "--principal", "alice@example.com") == 0
    )


def test_fingerprint_pin(
    repo: Repo, ssh: dict[str, SshKey], signers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sha = repo.commit("promote", key=ssh["alice"])
    bob = ssh["bob"].fingerprint
    assert verify(repo, "HEAD", "--allowed-signers", signers, "--fingerprint", bob) == 1
    message = f'"promote" is signed by key {ssh["alice"].fingerprint}, not by a pinned key ({bob})'
    hint = "  → only the keys given with --fingerprint may sign these commits"
    assert capsys.readouterr().out == failed(
        block(sha, "commit/fingerprint-mismatch", message, hint), files=1
    )
    assert (
        verify(
            repo, "HEAD", "--allowed-signers", signers, "--fingerprint", ssh["alice"].fingerprint
        )
        == 0
    )


def test_repository_config_cannot_vouch_for_itself(
    repo: Repo,
    ssh: dict[str, SshKey],
    signers: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sha = repo.commit("promote", key=ssh["mallory"])
    friendly = tmp_path / "friendly_signers"
    friendly.write_text(f"alice@example.com {ssh['mallory'].public}\n")
    liar = tmp_path / "liar"
    liar.write_text(
        f"#!/bin/sh\necho 'Good \"git\" signature for alice@example.com with ED25519 key {ssh['mallory'].fingerprint}'\n"
    )
    liar.chmod(0o755)
    settings = {
        "gpg.ssh.allowedSignersFile": friendly,
        "gpg.ssh.program": liar,
        "log.showSignature": "true",
    }
    for key, value in settings.items():
        repo.git("config", key, str(value))
    assert verify(repo, "HEAD", "--allowed-signers", signers) == 1
    message = f'"promote" is signed by SSH key {ssh["mallory"].fingerprint}, which is not in the allowed signers {signers}'
    assert capsys.readouterr().out == failed(
        block(sha, "commit/unknown-key", message, ADD_KEY_HINT), files=1
    )


def test_replace_refs_cannot_swap_a_commit(
    repo: Repo, ssh: dict[str, SshKey], signers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signed = repo.commit("signed", key=ssh["alice"])
    repo.git("checkout", "-q", "--orphan", "other")
    unsigned = repo.commit("unsigned")
    repo.git("replace", unsigned, signed)
    assert verify(repo, unsigned, "--allowed-signers", signers) == 1
    assert capsys.readouterr().out == failed(
        block(unsigned, "commit/unsigned", '"unsigned" is not signed', UNSIGNED_HINT), files=1
    )


def test_trust_anchor_inside_the_repository_is_a_warning(
    repo: Repo, ssh: dict[str, SshKey], signers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inside = repo.path / ".github" / "allowed_signers"
    inside.parent.mkdir()
    shutil.copy(signers, inside)
    repo.commit("promote", key=ssh["alice"])
    assert verify(repo, "HEAD", "--allowed-signers", inside) == 0
    assert capsys.readouterr().out == (
        ".github/allowed_signers  warning  commit/trust-anchor-in-repository\n"
        "  the --allowed-signers file is inside the repository being verified: a commit can change whom it trusts\n"
        "  → keep trust anchors in the verifier's own configuration (the node's, or the CI's), never in the repository they judge\n"
        "\n✓ verify-commit: 1 warning in 1 commit\n"
    )


def test_json_report(repo: Repo, signers: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sha = repo.commit("promote")
    assert verify(repo, "HEAD", "--allowed-signers", signers, "--format", "json") == 1
    report = json.loads(capsys.readouterr().out)
    assert report["findings"] == [
        {
            "file": f"commit {sha[:12]}",
            "line": None,
            "column": None,
            "path": None,
            "severity": "error",
            "rule": "commit/unsigned",
            "message": '"promote" is not signed',
            "hint": UNSIGNED_HINT.removeprefix("  → "),
        }
    ]


# --- usage and input errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("nope", "unknown git revision 'nope'"),
        ("nope..HEAD", "unknown git revision or range 'nope..HEAD'"),
        ("--all", "unknown git revision '--all'"),
    ],
)
def test_unknown_revision_is_a_usage_error(
    ref: str, message: str, repo: Repo, signers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit("base")
    assert verify(repo, "--allowed-signers", signers, "--", ref) == 2
    assert capsys.readouterr().err == f"adapterctl: error: {message}\n"


def test_no_trust_anchor_is_a_usage_error(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    assert verify(repo, "HEAD") == 2
    assert capsys.readouterr().err == (
        "adapterctl: error: no trust anchors: nothing could be verified\n"
        "  → pass --allowed-signers FILE (SSH), --gpg-keys FILE or --github-web-flow FILE\n"
    )


def test_bad_fingerprint_is_a_usage_error(
    repo: Repo, signers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert verify(repo, "HEAD", "--allowed-signers", signers, "--fingerprint", "ABCD1234") == 2
    assert capsys.readouterr().err == (
        "adapterctl: error: --fingerprint ABCD1234: expected SHA256:… (an SSH key) or 40 or 64 hex digits (a GPG key)\n"
    )


def test_not_a_repository_is_a_usage_error(
    tmp_path: Path, signers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    assert (
        main(["verify-commit", "HEAD", "--repo", str(folder), "--allowed-signers", str(signers)])
        == 2
    )
    assert (
        capsys.readouterr().err == f"adapterctl: error: --repo {folder}: not in a git repository\n"
    )


def test_bad_allowed_signers_line_names_file_and_line(
    repo: Repo, ssh: dict[str, SshKey], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit("promote", key=ssh["alice"])
    bad = tmp_path / "allowed_signers"
    bad.write_text(
        f"alice@example.com {ssh['alice'].public}\n\nbob@example.com valid-after=2024 {ssh['bob'].public}\n"
    )
    assert verify(repo, "HEAD", "--allowed-signers", bad) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"adapterctl: error: {bad}:3: valid-after=2024: expected YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS\n  → each line is"
    )


def test_bad_revocation_line_names_file_and_line(
    repo: Repo, signers: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    revoked = tmp_path / "revoked"
    revoked.write_text("# keys\nalice's old key\n")
    assert verify(repo, "HEAD", "--allowed-signers", signers, "--revoked", revoked) == 1
    assert capsys.readouterr().err == (
        f"adapterctl: error: {revoked}:2: not an SSH public key nor a key fingerprint\n"
        "  → each line is an SSH public key, or a fingerprint: SHA256:… (an SSH key) or 40 or 64 hex digits (a GPG key)\n"
    )
