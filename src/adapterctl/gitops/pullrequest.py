"""Pushing a promotion branch and opening its pull request on GitHub.

:func:`push_and_open` pushes ``refs/heads/<branch>`` to a remote (never forced) and, given a
token, opens the pull request through GitHub's REST API (version 2022-11-28):

- ``POST /repos/{owner}/{repo}/pulls`` with ``title``, ``head``, ``base``, ``body`` and
  ``draft`` answers 201 and the pull request (``number``, ``html_url``);
- when one is already open for the branch it answers 422 ``Validation Failed`` with
  ``errors[].message`` "A pull request already exists for owner:branch.", and
  ``GET /repos/{owner}/{repo}/pulls?head=owner:branch&state=open`` lists that one.

Without a token the branch is only pushed, and the result carries the compare URL where a
person opens the pull request by hand. The token never appears in a message.
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlencode, urlsplit

import git

from adapterctl import __version__
from adapterctl.errors import AdapterctlError, InputError, UsageError
from adapterctl.gitops.remotes import GitHubRepository, compare_url, parse_remote_url, parse_slug

__all__ = [
    "GitHubRepository",
    "PullRequest",
    "compare_url",
    "github_settings",
    "parse_remote_url",
    "push_and_open",
    "push_branch",
    "remote_url",
]

GITHUB_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
TIMEOUT_S = 30.0
MAX_ANSWER = 1 << 20
"""The most bytes of a GitHub answer read (1 MiB): a pull request is a few KiB."""

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")
_DIVERGED = ("(fetch first)", "(non-fast-forward)", "(stale info)", "(already exists)")
_ALREADY_EXISTS = "A pull request already exists"


@dataclass(frozen=True)
class PullRequest:
    number: int | None
    """None when the branch was only pushed (no token)."""
    url: str
    """The pull request's ``html_url``, or the compare URL to open one by hand ('' if unknown)."""
    created: bool
    """False when it already existed or no token was given."""


def github_settings(environ: Mapping[str, str]) -> tuple[str | None, str, str | None]:
    """(token, API URL, owner/name) from the environment, named as in GitHub Actions:
    ``GITHUB_TOKEN`` (or ``GH_TOKEN``), ``GITHUB_API_URL`` and ``GITHUB_REPOSITORY``."""
    token = (environ.get("GITHUB_TOKEN") or environ.get("GH_TOKEN") or "").strip() or None
    api_url = (environ.get("GITHUB_API_URL") or GITHUB_API_URL).strip().rstrip("/")
    repository = environ.get("GITHUB_REPOSITORY", "").strip() or None
    return token, api_url, repository


def push_and_open(
    repo: git.Repo,
    branch: str,
    *,
    base: str,
    title: str,
    body: str,
    remote: str = "origin",
    token: str | None,
    api_url: str,
    repository: str | None = None,
    draft: bool = False,
) -> PullRequest:
    """Push ``branch`` to ``remote``, then open its pull request into ``base`` (with a token)."""
    try:
        target = _target(repository, remote_url(repo, remote))
        if token is None:
            push_branch(repo, branch, remote=remote)
            url = "" if target is None else compare_url(target, api_url, base, branch)
            return PullRequest(number=None, url=url, created=False)
        found = _preflight(target, token, api_url)
        push_branch(repo, branch, remote=remote)
        api = _Api(api_url.rstrip("/"), token)
        return _open(api, found, branch, base=base, title=title, body=body, draft=draft)
    except AdapterctlError as exc:
        raise _scrubbed(exc, token) from None


def push_branch(repo: git.Repo, branch: str, *, remote: str = "origin") -> None:
    """``git push <remote> refs/heads/<branch>:refs/heads/<branch>``, never forced."""
    if branch not in {head.name for head in repo.heads}:
        raise UsageError(f"--push: there is no local branch '{branch}' to push")
    refspec = f"refs/heads/{branch}:refs/heads/{branch}"
    status, _out, err = repo.git.push(
        remote, refspec, with_extended_output=True, with_exceptions=False
    )
    if status != 0:
        raise _push_failure(str(err), branch, remote)


def remote_url(repo: git.Repo, remote: str) -> str:
    """The URL of ``remote``; :class:`UsageError` when the repository has no such remote."""
    if remote not in {each.name for each in repo.remotes}:
        raise UsageError(
            f"--push: this repository has no remote '{remote}'; "
            f"add one with `git remote add {remote} URL`"
        )
    return str(repo.remote(remote).url)


# --- the remote and its repository --------------------------------------------------------


def _target(repository: str | None, url: str) -> GitHubRepository | None:
    from_url = parse_remote_url(url)
    if repository is None:
        return from_url
    return parse_slug(repository, None if from_url is None else from_url.host)


def _preflight(target: GitHubRepository | None, token: str, api_url: str) -> GitHubRepository:
    """Everything that can fail before the push, checked before it."""
    _check_token(token)
    _check_api_url(api_url)
    if target is None:
        raise InputError(
            "--push: cannot tell the GitHub repository from the remote URL",
            hint="set GITHUB_REPOSITORY to owner/name",
        )
    return target


# --- pushing ------------------------------------------------------------------------------


def _push_failure(stderr: str, branch: str, remote: str) -> InputError:
    line = _relevant_line(stderr)
    if line.startswith("! [rejected]") and line.endswith(_DIVERGED):
        return InputError(
            f"--push: branch '{branch}' already exists on remote '{remote}' "
            f"with other commits ({line})",
            hint=f"delete the remote branch (`git push {remote} --delete {branch}`) "
            "or re-run with a new version",
        )
    return InputError(f"--push: git push to '{remote}' failed: {line}")


def _relevant_line(stderr: str) -> str:
    """The line of git's stderr that says what went wrong, credentials in URLs removed."""
    lines = [_USERINFO.sub(r"\g<scheme>", line.strip()) for line in stderr.splitlines()]
    lines = [line for line in lines if line]
    for prefixes in (("! [",), ("fatal:", "error:")):
        for line in lines:
            if line.startswith(prefixes):
                return line
    return lines[0] if lines else "git gave no reason"


def _check_token(token: str) -> None:
    if not token or any(char.isspace() or not char.isprintable() for char in token):
        raise UsageError("the GitHub token is empty or contains spaces or control characters")


def _check_api_url(api_url: str) -> None:
    if urlsplit(api_url).scheme not in ("http", "https") or not urlsplit(api_url).netloc:
        raise UsageError(f"GITHUB_API_URL must be an http(s) URL, not '{api_url}'")


def _scrubbed(exc: AdapterctlError, token: str | None) -> AdapterctlError:
    if not token or (token not in exc.message and token not in (exc.hint or "")):
        return exc
    hint = None if exc.hint is None else exc.hint.replace(token, "***")
    return type(exc)(exc.message.replace(token, "***"), hint=hint)


# --- GitHub's REST API --------------------------------------------------------------------


@dataclass(frozen=True)
class _Answer:
    status: int
    data: object
    """The JSON document, or None when the answer was not JSON."""
    where: str
    """``METHOD URL``, for messages."""


def _opener() -> urllib.request.OpenerDirector:
    """http(s) only, and no redirects: a redirect must not carry the token elsewhere."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.UnknownHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


@dataclass(frozen=True)
class _Api:
    url: str
    token: str

    def call(self, method: str, path: str, payload: object = None) -> _Answer:
        where = f"{method} {self.url}{path}"
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers=self._headers(data is not None)
        )
        try:
            return self._send(request, where)
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc.__class__.__name__
            raise InputError(f"could not reach the GitHub API at {self.url}: {reason}") from None

    def _headers(self, with_body: bool) -> dict[str, str]:
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self.token}",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": f"adapterctl/{__version__}",
        }
        if with_body:
            headers["Content-Type"] = "application/json"
        return headers

    @staticmethod
    def _send(request: urllib.request.Request, where: str) -> _Answer:
        try:
            with _opener().open(request, timeout=TIMEOUT_S) as response:
                return _Answer(response.status, _json(response.read(MAX_ANSWER + 1), where), where)
        except urllib.error.HTTPError as refused:
            try:
                return _Answer(refused.code, _json(refused.read(MAX_ANSWER + 1), where), where)
            finally:
                refused.close()


def _json(raw: bytes, where: str) -> object:
    if len(raw) > MAX_ANSWER:
        raise InputError(f"GitHub's answer to {where} is larger than {MAX_ANSWER} bytes")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def _open(
    api: _Api,
    target: GitHubRepository,
    branch: str,
    *,
    base: str,
    title: str,
    body: str,
    draft: bool,
) -> PullRequest:
    payload = {"title": title, "head": branch, "base": base, "body": body, "draft": draft}
    answer = api.call("POST", f"/repos/{target.slug}/pulls", payload)
    if answer.status == HTTPStatus.CREATED:
        return _pull(answer, answer.data, created=True)
    if answer.status == HTTPStatus.UNPROCESSABLE_ENTITY and _already_exists(answer.data):
        return _existing(api, target, branch)
    raise _refusal(answer, target, base=base, branch=branch)


def _existing(api: _Api, target: GitHubRepository, branch: str) -> PullRequest:
    query = urlencode({"head": f"{target.owner}:{branch}", "state": "open"})
    answer = api.call("GET", f"/repos/{target.slug}/pulls?{query}")
    if answer.status != HTTPStatus.OK:
        raise _refusal(answer, target, base=None, branch=branch)
    if not isinstance(answer.data, list):
        raise InputError(f"GitHub's answer to {answer.where} is not a JSON array")
    if not answer.data:
        raise InputError(
            f"GitHub says a pull request already exists for {target.owner}:{branch}, "
            "but lists no open one"
        )
    return _pull(answer, answer.data[0], created=False)


def _pull(answer: _Answer, data: object, *, created: bool) -> PullRequest:
    number = data.get("number") if isinstance(data, dict) else None
    url = data.get("html_url") if isinstance(data, dict) else None
    if not isinstance(number, int) or isinstance(number, bool) or not isinstance(url, str):
        raise InputError(
            f"GitHub's answer to {answer.where} is not a pull request with number and html_url"
        )
    return PullRequest(number=number, url=url, created=created)


def _already_exists(data: object) -> bool:
    return any(
        isinstance(error, dict) and str(error.get("message", "")).startswith(_ALREADY_EXISTS)
        for error in _errors(data)
    )


def _errors(data: object) -> list[object]:
    errors = data.get("errors") if isinstance(data, dict) else None
    return errors if isinstance(errors, list) else []


def _message(answer: _Answer) -> str:
    """``<status> <GitHub's message>``, e.g. ``401 Bad credentials``."""
    text = answer.data.get("message") if isinstance(answer.data, dict) else None
    if not isinstance(text, str) or not text.strip():
        try:
            text = HTTPStatus(answer.status).phrase
        except ValueError:
            text = "unknown status"
    return f"{answer.status} {_short(text.strip())}"


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _refusal(
    answer: _Answer, target: GitHubRepository, *, base: str | None, branch: str
) -> InputError:
    status, said = answer.status, _message(answer)
    if status == HTTPStatus.UNAUTHORIZED:
        return InputError(f"GitHub rejected the token ({said}); check GITHUB_TOKEN")
    if status in (HTTPStatus.FORBIDDEN, HTTPStatus.TOO_MANY_REQUESTS):
        return InputError(
            f"GitHub refused the request for {target.slug} ({said})",
            hint="the token needs write access to the repository's contents and pull requests; "
            "after a rate limit, wait and re-run",
        )
    if status == HTTPStatus.NOT_FOUND:
        return InputError(
            f"GitHub found no repository {target.slug}, or the token cannot see it ({said})",
            hint="check GITHUB_REPOSITORY (owner/name) and the token's access to it",
        )
    if status == HTTPStatus.UNPROCESSABLE_ENTITY:
        return _invalid(answer, target, base=base, branch=branch)
    return InputError(f"GitHub answered {answer.where} with {said}")


def _invalid(
    answer: _Answer, target: GitHubRepository, *, base: str | None, branch: str
) -> InputError:
    details = [_detail(error) for error in _errors(answer.data)]
    fields = {error.get("field") for error in _errors(answer.data) if isinstance(error, dict)}
    hint = None
    if "base" in fields and base is not None:
        hint = f"does the base branch '{base}' exist in {target.slug} on GitHub?"
    elif "head" in fields:
        hint = f"was branch '{branch}' pushed to {target.slug}?"
    said = _message(answer) + (": " + "; ".join(details) if details else "")
    if base is None:
        return InputError(f"GitHub refused {answer.where} ({said})", hint=hint)
    return InputError(
        f"GitHub refused to open a pull request from '{branch}' into '{base}' ({said})", hint=hint
    )


def _detail(error: object) -> str:
    if not isinstance(error, dict):
        return _short(str(error))
    message = error.get("message")
    if isinstance(message, str) and message.strip():
        return _short(message)
    return _short(f"{error.get('field', '?')} is {error.get('code', 'invalid')}")
