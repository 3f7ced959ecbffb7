"""Signed environment commits: every commit a revision or range selects must carry a good
signature by a key the verifier allows, and a date that does not go back before its parents.

The pipeline: load the verifier's trust anchors (allowed signers, GPG keys, the GitHub
web-flow key, revocations) → select the commits → ask git for each signature's status with
the verifier's settings only → apply the rules of :mod:`commit_rules` → findings.
See docs/signed-commits.md.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import git

from adapterctl.errors import InputError
from adapterctl.findings import Finding, Location, Severity
from adapterctl.signing.commit_git import CommitRecord, GitReader, open_repo
from adapterctl.signing.commit_keyring import GpgKey, GpgKeyring
from adapterctl.signing.commit_revocations import read_revocations
from adapterctl.signing.commit_rules import Context, TrustAnchors, check_commit
from adapterctl.signing.commit_signers import read_allowed_signers

DEFAULT_SKEW = timedelta(minutes=5)
WEB_FLOW_EMAIL = "<noreply@github.com>"
WEB_FLOW_URL = "https://github.com/web-flow.gpg"


@dataclass(frozen=True)
class CommitPolicy:
    """What the verifier requires; every file here belongs to the verifier."""

    allowed_signers: Path | None = None
    gpg_keys: tuple[Path, ...] = ()
    github_web_flow: Path | None = None
    revocations: Path | None = None
    principals: frozenset[str] = frozenset()
    fingerprints: frozenset[str] = frozenset()
    """Normalized with :func:`commit_keys.normalize_fingerprint`."""
    first_parent: bool = False
    clock_skew: timedelta = DEFAULT_SKEW
    now: datetime | None = None

    def anchor_files(self) -> list[tuple[str, Path]]:
        named = [
            ("--allowed-signers", self.allowed_signers),
            ("--github-web-flow", self.github_web_flow),
            ("--revoked", self.revocations),
        ]
        files = [(option, path) for option, path in named if path is not None]
        return files + [("--gpg-keys", path) for path in self.gpg_keys]


@dataclass(frozen=True)
class Verification:
    commits: tuple[str, ...]
    """Every commit verified (full hashes), the selected ones first."""
    findings: tuple[Finding, ...]


def verify_commits(repo_path: Path, revs: Sequence[str], policy: CommitPolicy) -> Verification:
    """Verify the commits ``revs`` select in the repository at ``repo_path``."""
    repo = open_repo(repo_path)
    with tempfile.TemporaryDirectory(prefix="adapterctl-verify-") as scratch:
        work = Path(scratch)
        keyring = GpgKeyring(work / "gnupg")
        anchors = load_anchors(policy, keyring)
        env = {"GNUPGHOME": str(keyring.home)}
        reader = GitReader(repo, git_settings(anchors, work), env)
        records, merged_by = select(reader, revs, first_parent=policy.first_parent)
        ctx = Context(
            anchors=anchors,
            dates=_dates(reader, records),
            merged_by=merged_by,
            now=policy.now or datetime.now(UTC),
            skew=policy.clock_skew,
        )
        findings = [finding for record in records for finding in check_commit(record, ctx)]
    findings += anchor_warnings(repo, policy)
    return Verification(tuple(record.sha for record in records), tuple(findings))


def load_anchors(policy: CommitPolicy, keyring: GpgKeyring) -> TrustAnchors:
    signers = policy.allowed_signers
    gpg_keys = tuple(key for path in policy.gpg_keys for key in keyring.import_file(path))
    web_flow: tuple[GpgKey, ...] = ()
    if policy.github_web_flow is not None:
        web_flow = _web_flow_keys(policy.github_web_flow, keyring)
    return TrustAnchors(
        signers=None if signers is None else read_allowed_signers(signers),
        gpg_keys=gpg_keys,
        web_flow=web_flow,
        revocations=read_revocations(policy.revocations),
        principals=policy.principals,
        fingerprints=policy.fingerprints,
    )


def _web_flow_keys(path: Path, keyring: GpgKeyring) -> tuple[GpgKey, ...]:
    keys = keyring.import_file(path)
    for key in keys:
        if not any(WEB_FLOW_EMAIL in uid for uid in key.user_ids):
            uids = ", ".join(f'"{uid}"' for uid in key.user_ids) or "none"
            raise InputError(
                f"{path}: key {key.primary} is not GitHub's web-flow key (its user IDs: {uids})",
                hint=f"fetch GitHub's key from {WEB_FLOW_URL} (see docs/signed-commits.md)",
            )
    return keys


def git_settings(anchors: TrustAnchors, work: Path) -> dict[str, str]:
    """The ``-c`` settings of every git call: programs and trust files chosen here."""
    no_signers = work / "no-allowed-signers"
    no_signers.touch()
    signers = anchors.signers.path.resolve() if anchors.signers else no_signers
    krl = anchors.revocations.krl
    gpg = shutil.which("gpg") or "gpg"
    return {
        "gpg.program": gpg,
        "gpg.openpgp.program": gpg,
        "gpg.x509.program": shutil.which("gpgsm") or "gpgsm",
        "gpg.ssh.program": shutil.which("ssh-keygen") or "ssh-keygen",
        "gpg.ssh.allowedSignersFile": str(signers),
        "gpg.ssh.revocationFile": str(krl.resolve()) if krl else os.devnull,
        "log.showSignature": "false",
    }


def select(
    reader: GitReader, revs: Sequence[str], *, first_parent: bool
) -> tuple[list[CommitRecord], dict[str, str]]:
    """The commits to verify, and the merged heads among them (→ the merge that brings each).

    A single revision brings in the heads it merges; a range brings in every commit in it
    (with ``first_parent``: its first-parent chain, plus the heads its merges bring in).
    """
    chosen: dict[str, frozenset[str] | None] = {}
    for ref in revs:
        scope = _merge_scope(reader, ref, first_parent=first_parent)
        for sha in reader.commits(ref, first_parent=first_parent):
            chosen.setdefault(sha, scope)
    records = reader.records(list(chosen))
    merged_by: dict[str, str] = {}
    for record in records:
        scope = chosen[record.sha]
        for parent in record.parents[1:]:
            if parent in chosen or scope is None or parent in scope:
                merged_by.setdefault(parent, record.sha)
    extra = [sha for sha in merged_by if sha not in chosen]
    return records + reader.records(extra), merged_by


def _merge_scope(reader: GitReader, ref: str, *, first_parent: bool) -> frozenset[str] | None:
    """Which merged heads a merge selected by ``ref`` brings in (None: all of them)."""
    if ".." not in ref:
        return None
    return frozenset(reader.commits(ref)) if first_parent else frozenset()


def _dates(reader: GitReader, records: Sequence[CommitRecord]) -> dict[str, int]:
    dates = {record.sha: record.committed for record in records}
    parents = {parent for record in records for parent in record.parents}
    return dates | reader.dates(sorted(parents - dates.keys()))


def anchor_warnings(repo: git.Repo, policy: CommitPolicy) -> list[Finding]:
    """A trust anchor inside the repository it judges can be changed by the commits it judges."""
    if repo.working_tree_dir is None:
        return []
    tree = Path(repo.working_tree_dir).resolve()
    warnings = []
    for option, path in policy.anchor_files():
        full = path.resolve()
        if full.is_relative_to(tree):
            warnings.append(
                Finding(
                    rule="commit/trust-anchor-in-repository",
                    severity=Severity.WARNING,
                    location=Location(full.relative_to(tree).as_posix()),
                    message=f"the {option} file is inside the repository being verified: "
                    "a commit can change whom it trusts",
                    hint="keep trust anchors in the verifier's own configuration "
                    "(the node's, or the CI's), never in the repository they judge",
                )
            )
    return warnings
