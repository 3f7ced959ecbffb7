"""GitHub repositories as git remote URLs name them, and the web pages people open.

A remote URL names ``owner/name`` on a host: ``https://github.com/o/r(.git)``,
``git@github.com:o/r.git`` (scp-like), ``ssh://git@ghe.example.com/o/r.git``; GitHub
Enterprise Server hosts take the same shapes. A local path or ``file://`` URL names none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from adapterctl.errors import UsageError

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_SCP = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")
_URL_SCHEMES = ("https", "http", "ssh", "git", "git+ssh", "ssh+git")


@dataclass(frozen=True)
class GitHubRepository:
    """A repository on GitHub (or GitHub Enterprise Server)."""

    owner: str
    name: str
    host: str | None = None
    """The web host from the remote URL (``github.com``); None when only owner/name is known."""

    @property
    def slug(self) -> str:
        return f"{self.owner}/{self.name}"


def parse_remote_url(url: str) -> GitHubRepository | None:
    """owner/name and web host of a GitHub remote URL (https, ssh, scp-like ``git@host:o/r``),
    GitHub Enterprise hosts included; None for a local path or any other shape."""
    split = urlsplit(url)
    if split.scheme.lower() in _URL_SCHEMES and split.hostname:
        return _from_path(_web_host(split.scheme.lower(), split.netloc), split.path)
    if "://" in url:
        return None
    match = _SCP.fullmatch(url)
    if match is None:
        return None
    return _from_path(_web_host("ssh", match["host"]), match["path"])


def compare_url(target: GitHubRepository, api_url: str, base: str, branch: str) -> str:
    """Where a person opens the pull request by hand."""
    web = f"https://{target.host}" if target.host else _web_from_api(api_url)
    spec = f"{quote(base, safe='/')}...{quote(branch, safe='/')}"
    return f"{web}/{target.slug}/compare/{spec}?expand=1"


def parse_slug(repository: str, host: str | None = None) -> GitHubRepository:
    """``owner/name`` as ``GITHUB_REPOSITORY`` gives it."""
    owner, _, name = repository.partition("/")
    if not all(_NAME.fullmatch(part) and part.strip(".") for part in (owner, name)):
        raise UsageError(f"GITHUB_REPOSITORY must be owner/name, not '{repository}'")
    return GitHubRepository(owner, name, host)


def _from_path(host: str, path: str) -> GitHubRepository | None:
    parts = path.strip("/").removesuffix(".git").split("/")
    if len(parts) != 2 or not all(_NAME.fullmatch(part) and part.strip(".") for part in parts):
        return None
    return GitHubRepository(parts[0], parts[1], host)


def _web_host(scheme: str, netloc: str) -> str:
    """The host people browse: an https remote keeps its port, an ssh one drops it."""
    host = netloc.rpartition("@")[2].lower()
    if not scheme.startswith("http"):
        host = host.partition(":")[0]
    return "github.com" if host == "ssh.github.com" else host


def _web_from_api(api_url: str) -> str:
    """``https://api.github.com`` → ``https://github.com``; GHES ``https://HOST/api/v3`` →
    ``https://HOST``."""
    split = urlsplit(api_url)
    if split.netloc.lower() == "api.github.com":
        return "https://github.com"
    return f"{split.scheme}://{split.netloc}"
