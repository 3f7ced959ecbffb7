"""Whether a registry commit is signed by one of the principals a verifier trusts (the
anchors come from the verifier's own configuration, never from the repository)."""

from __future__ import annotations

from pathlib import Path

from adapterctl.findings import Severity
from adapterctl.signing.commits import CommitPolicy, verify_commits

CommitAnchors = tuple[Path | None, tuple[Path, ...], Path | None]
"""(allowed signers, GPG keys, GitHub web-flow key) of one verifier."""


def commit_problem(root: Path, commit: str, anchors: CommitAnchors) -> str | None:
    """Why ``commit`` is not signed by a trusted principal, or None when it is."""
    signers, gpg_keys, web_flow = anchors
    policy = CommitPolicy(allowed_signers=signers, gpg_keys=gpg_keys, github_web_flow=web_flow)
    result = verify_commits(root, [commit], policy)
    errors = [f for f in result.findings if f.severity is Severity.ERROR]
    return None if not errors else errors[0].message
