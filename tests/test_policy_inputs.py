"""``policy check`` refuses malformed recordings and policy files with the file and JSON path."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapterctl.cli.app import main
from tests.conftest import REPO, copy_registry

DATA = Path(__file__).parent / "data" / "github"
PULL = "a pull request from GET /repos/{owner}/{repo}/pulls/{pull_number}"
REVIEWS = "reviews from GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews"
STATES = "APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING"
Json = Any


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A recorded approved pull request in the working directory, and a registry beside it."""
    work = tmp_path / "work"
    shutil.copytree(DATA / "golden-owner-missing", work)
    root = copy_registry(tmp_path / "registry")
    for name in ("CODEOWNERS", "teams.yaml"):
        shutil.copy(REPO / name, root / name)
    monkeypatch.chdir(work)
    return root


def _run(root: Path, *extra: str) -> int:
    args = ["policy", "check", "--pr", "pr.json", "--reviews", "reviews.json"]
    return main([*args, "--files", "files.json", "--root", str(root), *extra])


def _edit(name: str, change: Callable[[Json], Json | None]) -> None:
    path = Path(name)
    data = json.loads(path.read_text("utf-8"))
    result = change(data)
    path.write_text(json.dumps(data if result is None else result))


def _set(path: tuple[str | int, ...], value: Json) -> Callable[[Json], None]:
    def change(data: Json) -> None:
        for part in path[:-1]:
            data = data[part]
        data[path[-1]] = value

    return change


def _delete(path: tuple[str | int, ...]) -> Callable[[Json], None]:
    def change(data: Json) -> None:
        for part in path[:-1]:
            data = data[part]
        del data[path[-1]]

    return change


BROKEN: list[tuple[str, str, Callable[[Json], Json | None], str]] = [
    (
        "pr-is-a-list",
        "pr.json",
        lambda data: [data],
        f"pr.json: $: expected {PULL} (a JSON object), got a list",
    ),
    (
        "pr-number-string",
        "pr.json",
        _set(("number",), "47"),
        "pr.json: $.number: expected an integer, got a string",
    ),
    (
        "pr-head-without-sha",
        "pr.json",
        _delete(("head", "sha")),
        "pr.json: $.head: missing field 'sha'",
    ),
    (
        "pr-user-null",
        "pr.json",
        _set(("user",), None),
        "pr.json: $.user: expected a GitHub user (a JSON object), got null",
    ),
    (
        "pr-base-sha-short",
        "pr.json",
        _set(("base", "sha"), "4f0c2e7"),
        "pr.json: $.base.sha: '4f0c2e7' is not a commit SHA (40 or 64 lower-case hex digits)",
    ),
    (
        "reviews-is-one-review",
        "reviews.json",
        lambda data: data[0],
        f"reviews.json: $: expected a JSON array of {REVIEWS}, got a mapping",
    ),
    (
        "review-without-login",
        "reviews.json",
        _delete((0, "user", "login")),
        "reviews.json: $[0].user: missing field 'login'",
    ),
    (
        "review-unknown-state",
        "reviews.json",
        _set((0, "state"), "APPROVE"),
        f"reviews.json: $[0].state: unknown review state 'APPROVE'; expected one of {STATES}",
    ),
    (
        "review-naive-timestamp",
        "reviews.json",
        _set((0, "submitted_at"), "2026-11-26T09:49:00"),
        "reviews.json: $[0].submitted_at: '2026-11-26T09:49:00' is not a timestamp with a time "
        "zone, e.g. 2026-11-20T09:12:00Z",
    ),
    (
        "review-without-association",
        "reviews.json",
        _delete((0, "author_association")),
        "reviews.json: $[0]: missing field 'author_association'",
    ),
    (
        "files-page-with-a-string",
        "files.json",
        lambda data: [data, ["adapters/support-bot/adapter.yaml"]],
        "files.json: $[1][0]: expected a changed file (a JSON object), got a string",
    ),
    (
        "file-name-number",
        "files.json",
        _set((0, "filename"), 7),
        "files.json: $[0].filename: expected a string, got a number",
    ),
]


@pytest.mark.parametrize(
    ("file", "change", "message"), [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN]
)
def test_wrong_shape_names_file_and_json_path(
    recorded: Path,
    capsys: pytest.CaptureFixture[str],
    file: str,
    change: Callable[[Json], Json | None],
    message: str,
) -> None:
    _edit(file, change)
    assert _run(recorded) == 1
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", f"adapterctl: error: {message}\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"number": 42,',
            "pr.json: not valid JSON: Expecting property name enclosed in double quotes at line 1, column 15",
        ),
        ("", "pr.json: empty file; expected JSON from the GitHub REST API"),
        ("{}\n{}\n", f"pr.json: expected one JSON document ({PULL}), found 2"),
    ],
    ids=["truncated", "empty", "two-documents"],
)
def test_unreadable_json(
    recorded: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    Path("pr.json").write_text(text)
    assert _run(recorded) == 1
    assert capsys.readouterr().err == f"adapterctl: error: {message}\n"


def test_not_utf8(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path("reviews.json").write_bytes(b'[{"body": "\xff"}]')
    assert _run(recorded) == 1
    assert capsys.readouterr().err == "adapterctl: error: reviews.json: not UTF-8 (byte 11)\n"


def test_invalid_teams_file(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    teams = tmp_path / "teams.yaml"
    teams.write_text(
        'teams:\n  "@example-org/ml-team": [noah-ml, "mia ml"]\n  release-managers: [rita-release]\n'
    )
    assert _run(recorded, "--teams", str(teams)) == 1
    assert capsys.readouterr().err == (
        f"adapterctl: error: {teams} is not valid:\n"
        f"  {teams}:2 $.teams['@example-org/ml-team'][1]: 'mia ml' is not a GitHub login: "
        "letters, digits and '-', at most 39, no '@'\n"
        f"  {teams}:3 $.teams.release-managers: 'release-managers' is not a GitHub team: "
        "expected @org/team\n"
    )


def test_invalid_signers_file(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signers = tmp_path / "signers.json"
    signers.write_text('{"support-bot": "jdoe@example.internal"}')
    assert _run(recorded, "--signers", str(signers)) == 1
    assert capsys.readouterr().err == (
        f"adapterctl: error: {signers} is not valid:\n"
        f"  {signers}:1 $.support-bot: 'support-bot' is not NAME@VERSION, e.g. support-bot@1.2.0\n"
    )


def test_missing_recording_is_a_usage_error(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("reviews.json").unlink()
    assert _run(recorded) == 2
    assert "'reviews.json' does not exist" in capsys.readouterr().err


def test_without_files_outside_git_is_a_usage_error(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "policy",
        "check",
        "--pr",
        "pr.json",
        "--reviews",
        "reviews.json",
        "--root",
        str(recorded),
    ]
    assert main(args) == 2
    assert capsys.readouterr().err == (
        f"adapterctl: error: without --files the changed files come from git, and {recorded} "
        "is not in a git repository\n"
        "  → pass --files FILE, recorded with gh api --paginate --slurp "
        "repos/OWNER/REPO/pulls/NUMBER/files > files.json\n"
    )


def test_incomplete_file_list(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _edit("pr.json", _set(("changed_files",), 3120))
    assert _run(recorded) == 1
    out = capsys.readouterr().out
    assert (
        "files.json  error  policy/incomplete-files\n"
        "  lists 1 changed file, but the pull request changes 3120: the list is incomplete\n"
        "  → record every page: gh api --paginate --slurp repos/OWNER/REPO/pulls/NUMBER/files "
        "(GitHub lists at most 3000 files), or leave out --files to read the changes from git\n"
    ) in out
