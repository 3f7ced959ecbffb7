"""The bad-input corpus, tests/data/invalid/: every case runs its command in-process
(``validate`` unless its case.toml names another) in the registry it builds, and must
exit with its code, print exactly its expected output, never an internal error, and
leave the registry, its store and its git status exactly as they were."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from adapterctl.cli.app import main
from tests.cases import GIT_ENV, Case, cases

INVALID = cases("invalid")


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root`` (but ``.git``): a file's digest, a link's target."""
    entries: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not (folder == str(root) and d == ".git"))
        for name in [*dirs, *files]:
            path = Path(folder, name)
            key = path.relative_to(root).as_posix()
            if path.is_symlink():
                entries[key] = f"link → {path.readlink()}"
            elif path.is_dir():
                entries[key] = "folder"
            else:
                entries[key] = _digest(path)
    return entries


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_status(root: Path) -> str:
    result = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def head(root: Path) -> str:
    """The commit the registry's git repository is at."""
    result = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def normalized(text: str, root: Path, commit: str | None = None) -> str:
    """``text`` with the registry's absolute path as ``$ROOT``, its parent as ``$TMP``,
    and its ``commit`` (in full or its first 12 digits) as ``$HEAD``."""
    if commit is not None:
        text = text.replace(commit, "$HEAD").replace(commit[:12], "$HEAD")
    for path in {root, root.resolve()}:
        text = text.replace(str(path), "$ROOT")
    for path in {root.parent, root.parent.resolve()}:
        text = text.replace(str(path), "$TMP")
    return text


@pytest.mark.parametrize("case", INVALID, ids=lambda case: case.name)
def test_invalid_case_fails_with_its_message_and_changes_nothing(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    root = case.build(tmp_path / "registry")
    before = snapshot(root)
    status = git_status(root) if case.git else ""
    commit = head(root) if case.git else None
    monkeypatch.chdir(root)
    code = main(case.command)
    captured = capsys.readouterr()
    out, err = normalized(captured.out, root, commit), normalized(captured.err, root, commit)
    for text in (out, err):
        assert "internal error" not in text
        assert "Traceback" not in text
    assert out == case.expected
    assert err == case.expected_stderr
    assert code == case.exit
    assert snapshot(root) == before
    if case.git:
        assert git_status(root) == status


def test_there_are_at_least_150_invalid_cases() -> None:
    assert len(INVALID) >= 150
