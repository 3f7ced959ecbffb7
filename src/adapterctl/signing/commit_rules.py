"""The rules one commit must pass: a good signature by an allowed, unrevoked key of an
allowed principal, and a date that neither goes back before its parents nor runs ahead."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from adapterctl.findings import Finding, Location, Severity
from adapterctl.signing.commit_git import CommitRecord
from adapterctl.signing.commit_keyring import GpgKey
from adapterctl.signing.commit_keys import is_ssh
from adapterctl.signing.commit_revocations import Revocations
from adapterctl.signing.commit_signers import AllowedSigner, AllowedSigners

DOCS = "docs/signed-commits.md"
_EMAIL = re.compile(r"<([^<>]*)>\s*$")


@dataclass(frozen=True)
class TrustAnchors:
    """What the verifier trusts; none of it comes from the repository being verified."""

    signers: AllowedSigners | None = None
    gpg_keys: tuple[GpgKey, ...] = ()
    web_flow: tuple[GpgKey, ...] = ()
    revocations: Revocations = field(default_factory=Revocations)
    principals: frozenset[str] = frozenset()
    fingerprints: frozenset[str] = frozenset()

    def is_web_flow(self, record: CommitRecord) -> bool:
        """Signed by the web-flow key given as such (not also as an ordinary GPG key)."""
        if any(record.primary in key.fingerprints for key in self.gpg_keys):
            return False
        return any(record.primary in key.fingerprints for key in self.web_flow)


@dataclass(frozen=True)
class Context:
    anchors: TrustAnchors
    dates: Mapping[str, int]
    """Committer dates of every commit checked and of their parents."""
    merged_by: Mapping[str, str]
    """Merged heads verified because a merge brought them in → that merge."""
    now: datetime
    skew: timedelta


def check_commit(record: CommitRecord, ctx: Context) -> list[Finding]:
    return [*signature_findings(record, ctx), *date_findings(record, ctx)]


def _finding(
    record: CommitRecord, ctx: Context, rule: str, problem: str, hint: str, *related: str
) -> Finding:
    merge = ctx.merged_by.get(record.sha)
    note = f" (merged by commit {merge[:12]})" if merge else ""
    return Finding(
        rule=f"commit/{rule}",
        severity=Severity.ERROR,
        location=Location(f"commit {record.short}"),
        message=f'"{record.subject}"{note} {problem}',
        hint=hint,
        related=tuple(Location(f"commit {sha[:12]}") for sha in (*related, merge) if sha),
    )


# --- the signature ------------------------------------------------------------------------


def signature_findings(record: CommitRecord, ctx: Context) -> list[Finding]:
    revocations = ctx.anchors.revocations
    if revocations.revoked(record.fingerprint, record.primary):
        kind = "SSH" if is_ssh(record.fingerprint) else "GPG"
        problem = (
            f"is signed by {kind} key {record.fingerprint}, which is listed in the "
            f"revocation file {revocations.path}"
        )
        return [_finding(record, ctx, "revoked", problem, _RE_SIGN)]
    if record.status == "G":
        return _policy_findings(record, ctx)
    return [_status_finding(record, ctx)]


_RE_SIGN = (
    "a revoked key is refused whatever the commit's date: re-sign the change with a current key"
)


def _status_finding(record: CommitRecord, ctx: Context) -> Finding:
    status = record.status
    if status == "N":
        hint = f"environment commits must be signed by an allowed signer (git commit -S; {DOCS})"
        return _finding(record, ctx, "unsigned", "is not signed", hint)
    if status == "B":
        problem = "has a signature that does not verify"
        return _finding(record, ctx, "bad-signature", problem, _bad_hint(ctx))
    if status in ("X", "Y", "R"):
        return _gpg_key_state(record, ctx)
    if status == "U" and is_ssh(record.fingerprint):
        return _ssh_unknown(record, ctx)
    return _gpg_unknown(record, ctx)


def _gpg_key_state(record: CommitRecord, ctx: Context) -> Finding:
    key = f"GPG key {record.fingerprint}"
    if record.status == "R":
        problem = f"is signed by {key}, which its owner has revoked"
        return _finding(record, ctx, "revoked", problem, _RE_SIGN)
    problem = "has an expired signature" if record.status == "X" else f"is signed by expired {key}"
    return _finding(record, ctx, "expired", problem, "sign with a current key")


def _bad_hint(ctx: Context) -> str:
    krl = ctx.anchors.revocations.krl
    revoked = f", or its SSH key is revoked in {krl}" if krl else ""
    return f"the commit changed after it was signed{revoked}; sign it again (git commit --amend -S)"


def _ssh_unknown(record: CommitRecord, ctx: Context) -> Finding:
    signers = ctx.anchors.signers
    if signers is None:
        problem = f"is signed by SSH key {record.fingerprint}, and no --allowed-signers was given"
        return _finding(record, ctx, "unknown-key", problem, _ADD_SSH_KEY)
    entries = signers.for_key(record.fingerprint)
    if not entries:
        problem = (
            f"is signed by SSH key {record.fingerprint}, which is not in the allowed signers "
            f"{signers.path}"
        )
        return _finding(record, ctx, "unknown-key", problem, _ADD_SSH_KEY)
    when = datetime.fromtimestamp(record.committed, UTC)
    expired = [e for e in entries if e.accepts_git() and not e.accepts_at(when)]
    if expired:
        entry = expired[0]
        problem = (
            f"is signed by SSH key {record.fingerprint} of {', '.join(entry.principals)}, "
            f"which {signers.path}:{entry.line} accepts only {_window(entry)}; the commit is "
            f"dated {_iso(record.committed)}"
        )
        return _finding(record, ctx, "expired", problem, "sign with a current key")
    problem = (
        f"is signed by SSH key {record.fingerprint}, which {signers.path}:{entries[0].line} "
        "does not accept for git commits"
    )
    hint = 'allow the namespace with namespaces="git", or list the key itself (not a CA)'
    return _finding(record, ctx, "unknown-key", problem, hint)


_ADD_SSH_KEY = "add the key to the allowed signers file if its owner may sign these commits"


def _gpg_unknown(record: CommitRecord, ctx: Context) -> Finding:
    if record.key_id:
        key = record.fingerprint or record.key_id
        problem = f"is signed by GPG key {key}, which is not among the allowed GPG keys"
        hint = "pass the signer's public key with --gpg-keys if they may sign these commits"
        return _finding(record, ctx, "unknown-key", problem, hint)
    problem = f"has a signature that cannot be checked (git status {record.status})"
    hint = "check that gpg (and gpgsm for X.509) is installed"
    return _finding(record, ctx, "unknown-key", problem, hint)


def _window(entry: AllowedSigner) -> str:
    parts = []
    if entry.valid_after is not None:
        parts.append(f"from {_iso_dt(entry.valid_after)}")
    if entry.valid_before is not None:
        parts.append(f"until {_iso_dt(entry.valid_before)}")
    return " ".join(parts)


def _policy_findings(record: CommitRecord, ctx: Context) -> list[Finding]:
    anchors = ctx.anchors
    if anchors.is_web_flow(record):
        return [] if len(record.parents) > 1 else [_web_flow_finding(record, ctx)]
    findings = []
    principal = signer_principal(record)
    if anchors.principals and principal not in anchors.principals:
        allowed = ", ".join(sorted(anchors.principals))
        problem = (
            f"is signed by {principal} (key {record.fingerprint}), who is not an allowed "
            f"principal ({allowed})"
        )
        hint = "only the principals given with --principal may sign these commits"
        findings.append(_finding(record, ctx, "principal-not-allowed", problem, hint))
    keys = {record.fingerprint, record.primary}
    if anchors.fingerprints and not keys & anchors.fingerprints:
        pinned = ", ".join(sorted(anchors.fingerprints))
        problem = f"is signed by key {record.fingerprint}, not by a pinned key ({pinned})"
        hint = "only the keys given with --fingerprint may sign these commits"
        findings.append(_finding(record, ctx, "fingerprint-mismatch", problem, hint))
    return findings


def signer_principal(record: CommitRecord) -> str:
    """The SSH principal git matched, or the e-mail address of the GPG key's user ID."""
    if is_ssh(record.fingerprint):
        return record.signer
    match = _EMAIL.search(record.signer)
    return match[1] if match else record.signer


def _web_flow_finding(record: CommitRecord, ctx: Context) -> Finding:
    problem = "is signed by GitHub's web-flow key but is not a merge commit"
    hint = (
        "web-flow signs the commits github.com makes (merges, squash merges, web edits) "
        "and proves only that someone with write access made it; merge pull requests with a "
        "merge commit so that their own signed commits are verified too, or allow the key "
        "for any commit with --gpg-keys"
    )
    return _finding(record, ctx, "web-flow-not-merge", problem, hint)


# --- the date -----------------------------------------------------------------------------


def date_findings(record: CommitRecord, ctx: Context) -> list[Finding]:
    findings = []
    limit = record.committed + ctx.skew.total_seconds()
    for parent in record.parents:
        parent_date = ctx.dates.get(parent)
        if parent_date is not None and parent_date > limit:
            problem = (
                f"is dated {_iso(record.committed)}, before its parent {parent[:12]} "
                f"({_iso(parent_date)})"
            )
            findings.append(
                _finding(record, ctx, "backdated", problem, _backdated_hint(ctx), parent)
            )
    ahead = record.committed - ctx.now.timestamp()
    if ahead > ctx.skew.total_seconds():
        problem = f"is dated {_iso(record.committed)}, {_duration(ahead)} in the future"
        hint = (
            "a commit from the future would make every later one look backdated: "
            "fix the clock and commit again"
        )
        findings.append(_finding(record, ctx, "future-dated", problem, hint))
    return findings


def _backdated_hint(ctx: Context) -> str:
    return (
        "git checks a key's validity at the commit's own date, which the signer sets, so a "
        "commit may not be dated before its parent "
        f"(clock skew allowed: {_duration(ctx.skew.total_seconds())}); "
        "commit again with the right date"
    )


def _iso(stamp: float) -> str:
    return _iso_dt(datetime.fromtimestamp(stamp, UTC))


def _iso_dt(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(seconds: float) -> str:
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    shown = [f"{value} {unit}" for value, unit in parts if value]
    return " ".join(shown[:2]) or "0 s"
