"""Pushing a promotion branch to a real bare repository and opening its pull request against
recorded GitHub REST answers served on loopback."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import git
import pytest

from adapterctl.errors import AdapterctlError, InputError, UsageError
from adapterctl.gitops.pullrequest import (
    GitHubRepository,
    PullRequest,
    github_settings,
    parse_remote_url,
    push_and_open,
    remote_url,
)
from tests.conftest import isolate_git

DATA = Path(__file__).parent / "data" / "github-rest"
BRANCH = "promote/prod/support-bot-1.1.0"
SLUG = "example-org/registry"
PULLS = f"/repos/{SLUG}/pulls"
TOKEN = "ghp_s3cretT0kenValue1234567890abcdefABCD"
WHO = {
    "GIT_AUTHOR_NAME": "Alice",
    "GIT_AUTHOR_EMAIL": "alice@example.com",
    "GIT_COMMITTER_NAME": "Alice",
    "GIT_COMMITTER_EMAIL": "alice@example.com",
}


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch, (WHO["GIT_AUTHOR_NAME"], WHO["GIT_AUTHOR_EMAIL"]))
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)


# --- a GitHub stand-in on loopback -------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased names."""
    body: Any


@dataclass
class FakeGitHub:
    """Answers ``(method, path)`` from ``routes`` (status, recorded file); records requests."""

    url: str = ""
    routes: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    github: FakeGitHub

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        self.github.seen.append(Seen(self.command, self.path, _lower(self.headers.items()), body))
        route = (self.command, urlsplit(self.path).path)
        status, name = self.github.routes.get(route, (500, ""))
        payload = (DATA / name).read_bytes() if name else b'{"message": "no route"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _lower(headers: Any) -> dict[str, str]:
    """Header names are case-insensitive (urllib sends ``X-github-api-version``)."""
    return {name.lower(): value for name, value in headers}


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    handler = type("Handler", (_Handler,), {"github": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()
    thread.join()


# --- real repositories --------------------------------------------------------------------


def run_git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def commit(cwd: Path, name: str, text: str) -> str:
    (cwd / name).write_text(text)
    run_git(cwd, "add", name)
    run_git(cwd, "commit", "-q", "-m", f"Edit {name}")
    return run_git(cwd, "rev-parse", "HEAD")


@dataclass
class Repos:
    work: Path
    bare: Path
    head: str

    @property
    def repo(self) -> git.Repo:
        return git.Repo(self.work)


@pytest.fixture
def repos(tmp_path: Path) -> Repos:
    """A bare ``origin`` holding ``main``, and a clone with the promotion branch committed."""
    bare, work = tmp_path / "origin.git", tmp_path / "work"
    run_git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    work.mkdir()
    run_git(work, "init", "-q", "-b", "main")
    commit(work, "environment.yaml", "routes: {support-bot: [{version: 1.0.0, weight: 100}]}\n")
    run_git(work, "remote", "add", "origin", str(bare))
    run_git(work, "push", "-q", "origin", "main")
    run_git(work, "checkout", "-q", "-b", BRANCH)
    head = commit(
        work, "environment.yaml", "routes: {support-bot: [{version: 1.1.0, weight: 100}]}\n"
    )
    return Repos(work, bare, head)


def open_pr(repos: Repos, github: FakeGitHub | None, **options: Any) -> PullRequest:
    settings: dict[str, Any] = {
        "base": "main",
        "title": "Promote support-bot 1.1.0 to prod",
        "body": "Adapter: support-bot@1.1.0\nEnvironment: prod\n",
        "token": TOKEN,
        "api_url": github.url if github else "https://api.github.com",
        "repository": SLUG,
        **options,
    }
    return push_and_open(repos.repo, BRANCH, **settings)


def remote_head(repos: Repos) -> str:
    return run_git(repos.bare, "rev-parse", f"refs/heads/{BRANCH}")


def fails(repos: Repos, github: FakeGitHub | None, **options: Any) -> AdapterctlError:
    with pytest.raises(AdapterctlError) as caught:
        open_pr(repos, github, **options)
    assert TOKEN not in caught.value.diagnostics()
    return caught.value


# --- the cases ----------------------------------------------------------------------------


def test_no_remote_is_a_usage_error(repos: Repos) -> None:
    run_git(repos.work, "remote", "remove", "origin")

    error = fails(repos, None)

    assert isinstance(error, UsageError)
    assert error.message == (
        "--push: this repository has no remote 'origin'; add one with `git remote add origin URL`"
    )


def test_without_a_token_the_branch_is_pushed_and_the_compare_url_returned(repos: Repos) -> None:
    result = open_pr(repos, None, token=None)

    assert result == PullRequest(
        number=None,
        url=f"https://github.com/{SLUG}/compare/main...{BRANCH}?expand=1",
        created=False,
    )
    assert remote_head(repos) == repos.head


def test_without_a_token_or_a_known_repository_the_url_is_empty(repos: Repos) -> None:
    result = open_pr(repos, None, token=None, repository=None)

    assert result == PullRequest(number=None, url="", created=False)
    assert remote_head(repos) == repos.head


def test_with_a_token_the_pull_request_is_created(repos: Repos, github: FakeGitHub) -> None:
    github.routes[("POST", PULLS)] = (201, "create-201.json")

    result = open_pr(repos, github, draft=True)

    assert result == PullRequest(57, f"https://github.com/{SLUG}/pull/57", created=True)
    assert remote_head(repos) == repos.head
    [request] = github.seen
    assert (request.method, request.path) == ("POST", PULLS)
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["x-github-api-version"] == "2022-11-28"
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["user-agent"].startswith("adapterctl/")
    assert request.body == {
        "title": "Promote support-bot 1.1.0 to prod",
        "head": BRANCH,
        "base": "main",
        "body": "Adapter: support-bot@1.1.0\nEnvironment: prod\n",
        "draft": True,
    }


def test_an_open_pull_request_for_the_branch_is_returned(repos: Repos, github: FakeGitHub) -> None:
    github.routes[("POST", PULLS)] = (422, "create-422-already-exists.json")
    github.routes[("GET", PULLS)] = (200, "list-existing.json")

    result = open_pr(repos, github)

    assert result == PullRequest(56, f"https://github.com/{SLUG}/pull/56", created=False)
    lookup = github.seen[1]
    assert lookup.method == "GET"
    assert (
        lookup.path == f"{PULLS}?head=example-org%3Apromote%2Fprod%2Fsupport-bot-1.1.0&state=open"
    )
    assert lookup.headers["authorization"] == f"Bearer {TOKEN}"


def test_a_bad_token(repos: Repos, github: FakeGitHub) -> None:
    github.routes[("POST", PULLS)] = (401, "create-401.json")

    error = fails(repos, github)

    assert isinstance(error, InputError)
    assert (
        error.diagnostics() == "GitHub rejected the token (401 Bad credentials); check GITHUB_TOKEN"
    )


def test_an_unknown_repository(repos: Repos, github: FakeGitHub) -> None:
    github.routes[("POST", PULLS)] = (404, "create-404.json")

    error = fails(repos, github)

    assert error.diagnostics() == (
        f"GitHub found no repository {SLUG}, or the token cannot see it (404 Not Found)\n"
        "  → check GITHUB_REPOSITORY (owner/name) and the token's access to it"
    )


def test_an_unknown_base_branch(repos: Repos, github: FakeGitHub) -> None:
    github.routes[("POST", PULLS)] = (422, "create-422-unknown-base.json")

    error = fails(repos, github, base="mian")

    assert error.diagnostics() == (
        f"GitHub refused to open a pull request from '{BRANCH}' into 'mian' "
        "(422 Validation Failed: base is invalid)\n"
        f"  → does the base branch 'mian' exist in {SLUG} on GitHub?"
    )


def test_an_unreachable_api_names_its_url(repos: Repos) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}"

    error = fails(repos, None, api_url=url)

    assert error.message.startswith(f"could not reach the GitHub API at {url}: ")


def test_a_diverged_remote_branch_is_refused(repos: Repos, tmp_path: Path) -> None:
    other = tmp_path / "other"
    run_git(tmp_path, "clone", "-q", str(repos.bare), str(other))
    run_git(other, "checkout", "-q", "-b", BRANCH)
    theirs = commit(other, "environment.yaml", "routes: {}\n")
    run_git(other, "push", "-q", "origin", BRANCH)

    error = fails(repos, None, token=None)

    assert isinstance(error, InputError)
    assert error.diagnostics() == (
        f"--push: branch '{BRANCH}' already exists on remote 'origin' with other commits "
        f"(! [rejected]        {BRANCH} -> {BRANCH} (fetch first))\n"
        f"  → delete the remote branch (`git push origin --delete {BRANCH}`) "
        "or re-run with a new version"
    )
    assert remote_head(repos) == theirs


def test_with_a_token_and_no_repository_nothing_is_pushed(repos: Repos) -> None:
    error = fails(repos, None, repository=None)

    assert error.diagnostics() == (
        "--push: cannot tell the GitHub repository from the remote URL\n"
        "  → set GITHUB_REPOSITORY to owner/name"
    )
    with pytest.raises(subprocess.CalledProcessError):
        remote_head(repos)


def test_the_token_is_never_in_a_message(repos: Repos) -> None:
    url = f"https://x-access-token:{TOKEN}@127.0.0.1:9/{SLUG}.git"
    run_git(repos.work, "remote", "set-url", "origin", url)

    error = fails(repos, None, token=TOKEN)

    assert error.message.startswith("--push: git push to 'origin' failed: ")


# --- pure functions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/o/r.git", GitHubRepository("o", "r", "github.com")),
        ("https://github.com/o/r", GitHubRepository("o", "r", "github.com")),
        ("https://github.com/o/r/", GitHubRepository("o", "r", "github.com")),
        ("https://user:secret@github.com/o/r.git", GitHubRepository("o", "r", "github.com")),
        ("git@github.com:o/r.git", GitHubRepository("o", "r", "github.com")),
        ("github.com:o/r", GitHubRepository("o", "r", "github.com")),
        ("ssh://git@github.com/o/r.git", GitHubRepository("o", "r", "github.com")),
        ("ssh://git@ssh.github.com:443/o/r.git", GitHubRepository("o", "r", "github.com")),
        (
            "ssh://git@github.example.com/o/r.git",
            GitHubRepository("o", "r", "github.example.com"),
        ),
        (
            "https://ghe.example.com:8443/ml-platform/adapter.registry.git",
            GitHubRepository("ml-platform", "adapter.registry", "ghe.example.com:8443"),
        ),
        ("git@ghe.example.com:o/r.git", GitHubRepository("o", "r", "ghe.example.com")),
        ("/srv/git/registry.git", None),
        ("../origin.git", None),
        ("file:///srv/git/o/r.git", None),
        ("https://github.com/o", None),
        ("https://gitlab.example.com/group/sub/r.git", None),
        ("https://github.com/../r.git", None),
    ],
)
def test_remote_urls(url: str, expected: GitHubRepository | None) -> None:
    assert parse_remote_url(url) == expected


def test_github_settings_read_the_actions_variables() -> None:
    environ = {
        "GH_TOKEN": "gh",
        "GITHUB_API_URL": "https://ghe.example.com/api/v3/",
        "GITHUB_REPOSITORY": SLUG,
    }

    assert github_settings(environ) == ("gh", "https://ghe.example.com/api/v3", SLUG)
    assert github_settings({"GITHUB_TOKEN": "a", "GH_TOKEN": "b"})[0] == "a"
    assert github_settings({}) == (None, "https://api.github.com", None)


def test_compare_url_on_github_enterprise(repos: Repos) -> None:
    result = open_pr(repos, None, token=None, api_url="https://ghe.example.com/api/v3")

    assert result.url == f"https://ghe.example.com/{SLUG}/compare/main...{BRANCH}?expand=1"


def test_a_token_without_permission(repos: Repos, github: FakeGitHub) -> None:
    github.routes[("POST", PULLS)] = (403, "create-403.json")

    error = fails(repos, github)

    assert error.diagnostics() == (
        f"GitHub refused the request for {SLUG} (403 Resource not accessible by integration)\n"
        "  → the token needs write access to the repository's contents and pull requests; "
        "after a rate limit, wait and re-run"
    )


def test_an_answer_that_is_not_json(repos: Repos, github: FakeGitHub) -> None:
    github.routes[("POST", PULLS)] = (502, "create-502.html")

    error = fails(repos, github)

    assert error.message == f"GitHub answered POST {github.url}{PULLS} with 502 Bad Gateway"


def test_the_token_is_scrubbed_from_messages(repos: Repos) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}"

    error = fails(repos, None, api_url=f"{url}/{TOKEN}")

    assert error.message.startswith(f"could not reach the GitHub API at {url}/***: ")


@pytest.mark.parametrize("repository", ["registry", "example-org/", "a/b/c", "../registry"])
def test_a_malformed_repository_is_a_usage_error(repos: Repos, repository: str) -> None:
    error = fails(repos, None, repository=repository)

    assert isinstance(error, UsageError)
    assert error.message == f"GITHUB_REPOSITORY must be owner/name, not '{repository}'"


def test_remote_url_names_the_remote(repos: Repos) -> None:
    assert remote_url(repos.repo, "origin") == str(repos.bare)
    with pytest.raises(UsageError, match="no remote 'upstream'"):
        remote_url(repos.repo, "upstream")
