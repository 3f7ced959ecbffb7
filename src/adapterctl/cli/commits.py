"""``adapterctl verify-commit``: signed environment commits."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from adapterctl.cli.groups import option_groups
from adapterctl.cli.options import DEFAULT_REPORT, ReportArgs, file_option
from adapterctl.errors import UsageError
from adapterctl.findings import Report
from adapterctl.signing.commit_keys import FINGERPRINT_FORMS, normalize_fingerprint
from adapterctl.signing.commits import DEFAULT_SKEW, CommitPolicy, verify_commits

SKEW_S = int(DEFAULT_SKEW.total_seconds())
RefsArgument = Annotated[
    list[str],
    typer.Argument(
        metavar="REF", help="Commits, or ranges A..B (every commit in A..B is verified)."
    ),
]
AllowedSignersOption = Annotated[
    Path | None,
    file_option(
        "--allowed-signers", "SSH allowed signers (git's gpg.ssh.allowedSignersFile format)."
    ),
]
GpgKeysOption = Annotated[
    list[Path] | None, file_option("--gpg-keys", "Allowed GPG public keys (repeatable).")
]
WebFlowOption = Annotated[
    Path | None,
    file_option("--github-web-flow", "GitHub's web-flow GPG key: allowed to sign merge commits."),
]
RevokedOption = Annotated[
    Path | None,
    file_option("--revoked", "Revoked keys: SSH keys or fingerprints, one a line."),
]
PrincipalOption = Annotated[
    list[str] | None,
    typer.Option(
        "--principal", metavar="PRINCIPAL", help="Only these principals may sign (repeatable)."
    ),
]
FingerprintOption = Annotated[
    list[str] | None,
    typer.Option("--fingerprint", metavar="FP", help="Only these keys may sign (repeatable)."),
]
FirstParentFlag = Annotated[
    bool,
    typer.Option(
        "--first-parent",
        help="In a range, verify the first-parent chain and the heads its merges bring in.",
    ),
]
ClockSkewOption = Annotated[
    int,
    typer.Option(
        "--clock-skew",
        metavar="SECONDS",
        min=0,
        help="Seconds a commit may be dated before its parent.",
    ),
]
RepoOption = Annotated[
    Path,
    typer.Option(
        "--repo",
        metavar="DIR",
        help="The git repository (default: the one around cwd).",
        file_okay=False,
    ),
]


@option_groups
def command(
    refs: RefsArgument,
    allowed_signers: AllowedSignersOption = None,
    gpg_keys: GpgKeysOption = None,
    github_web_flow: WebFlowOption = None,
    revoked: RevokedOption = None,
    principals: PrincipalOption = None,
    fingerprints: FingerprintOption = None,
    first_parent: FirstParentFlag = False,
    clock_skew: ClockSkewOption = SKEW_S,
    repo: RepoOption = Path(),
    out: ReportArgs = DEFAULT_REPORT,
) -> int:
    """Verify that commits are signed by allowed keys and not backdated."""
    if allowed_signers is None and not gpg_keys and github_web_flow is None:
        raise UsageError(
            "no trust anchors: nothing could be verified",
            hint="pass --allowed-signers FILE (SSH), --gpg-keys FILE or --github-web-flow FILE",
        )
    policy = CommitPolicy(
        allowed_signers=allowed_signers,
        gpg_keys=tuple(gpg_keys or ()),
        github_web_flow=github_web_flow,
        revocations=revoked,
        principals=frozenset(principals or ()),
        fingerprints=frozenset(_fingerprint(text) for text in fingerprints or ()),
        first_parent=first_parent,
        clock_skew=timedelta(seconds=clock_skew),
    )
    result = verify_commits(repo, refs, policy)
    checked = [f"commit {sha[:12]}" for sha in result.commits]
    return out.emit(Report.build("verify-commit", checked, result.findings, unit="commit"))


def _fingerprint(text: str) -> str:
    fingerprint = normalize_fingerprint(text)
    if fingerprint is None:
        raise UsageError(f"--fingerprint {text}: expected {FINGERPRINT_FORMS}")
    return fingerprint
