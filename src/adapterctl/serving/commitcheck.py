"""Whether a registry commit is signed by one of the principals a verifier trusts (the
anchors come from the verifier's own configuration, never from the repository)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from adapterctl.findings import Severity
from adapterctl.model.gateway import CommitTrust
from adapterctl.signing.commits import CommitPolicy, verify_commits


@dataclass(frozen=True)
class CommitAnchors:
    """The files of one verifier (a node, a gateway) that signed commits are checked with."""

    allowed_signers: Path | None = None
    gpg_keys: tuple[Path, ...] = ()
    github_web_flow: Path | None = None
    revocations: Path | None = None
    """Keys refused whatever a commit's date (docs/signed-commits.md, the revocation file)."""

    @classmethod
    def of(cls, trust: CommitTrust, folder: Path) -> CommitAnchors:
        """The anchors ``trust`` names, relative paths resolved against ``folder``."""

        def path(value: str | None) -> Path | None:
            return None if value is None else (folder / value).resolve()

        return cls(
            path(trust.allowed_signers),
            tuple((folder / key).resolve() for key in trust.gpg_keys),
            path(trust.github_web_flow),
            path(trust.revocations),
        )

    @property
    def trusts_nobody(self) -> bool:
        """No file that could vouch for a signature (a revocation file only refuses)."""
        return self.allowed_signers is None and not self.gpg_keys and self.github_web_flow is None


def commit_problem(root: Path, commit: str, anchors: CommitAnchors) -> str | None:
    """Why ``commit`` is not signed by a trusted principal, or None when it is."""
    policy = CommitPolicy(
        allowed_signers=anchors.allowed_signers,
        gpg_keys=anchors.gpg_keys,
        github_web_flow=anchors.github_web_flow,
        revocations=anchors.revocations,
    )
    result = verify_commits(root, [commit], policy)
    errors = [f for f in result.findings if f.severity is Severity.ERROR]
    return None if not errors else errors[0].message
