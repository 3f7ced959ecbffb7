"""Verifying one revision's signature bundle against its artifact, offline.

The pipeline, stopping at the first step that fails:

1. the bundle exists and parses (:mod:`adapterctl.signing.bundle`);
2. it used model-signing's file serialization with SHA-256, no symlinks, and ignores
   nothing beyond the library's defaults (``.git``, ``.github``, ``.gitattributes``,
   ``.gitignore``), and none of those is present in the artifact;
3. its subject digest equals the manifest's ``artifact.digest``, and it signs exactly the
   files the manifest lists (names and digests);
4. the stored files are exactly the signed files, byte for byte (digests with the cache);
5. a trusted signer matches it (key digest, or certificate SAN), allowed for the
   environment when one was given; certificates are checked (:mod:`.certificates`);
6. model-signing verifies the signature with that signer's material.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from adapterctl.findings import Finding, Location, Severity
from adapterctl.model.trust import SignerMode
from adapterctl.signing import _library
from adapterctl.signing.bundle import RESIGN, Bundle, BundleError, read_bundle
from adapterctl.signing.certificates import CertificateError
from adapterctl.signing.signers import NoSigner, Policy, match_signers
from adapterctl.signing.trust import Signer
from adapterctl.store.base import Store, StoreError
from adapterctl.store.digests import IGNORED, DigestCache, DigestError, FileDigest, digest_directory
from adapterctl.store.local import local_copy

CERTIFICATE_HINT = (
    "sign with a current certificate from the trusted CA that names the signer "
    "(e-mail or URI SAN) and allows codeSigning"
)
DEFAULT_IGNORED = IGNORED
"""What model-signing ignores by default; a bundle may ignore these and nothing else."""


@dataclass(frozen=True, slots=True)
class Target:
    """One revision to verify, with where its findings point."""

    label: str
    """``name@version``."""
    bundle: Path
    bundle_file: str
    """The bundle's path as reported (repository-relative)."""
    digest: str
    """The manifest's ``artifact.digest``."""
    digest_at: Location
    """Where the manifest records it."""
    listed: Mapping[str, str] | None = None
    """The manifest's ``artifact.files`` (name → ``sha256:<hex>``): the signature must cover
    exactly these (None: not checked)."""


class Rejected(Exception):
    """One revision failed a step; carries its findings."""

    def __init__(self, *findings: Finding) -> None:
        super().__init__(findings[0].message)
        self.findings = list(findings)


@dataclass
class Verifier:
    """Verifies targets against one policy and store (one per worker process)."""

    policy: Policy
    store: Store
    cache: DigestCache | None
    now: datetime

    def verify(self, target: Target) -> list[Finding]:
        return self.check(target)[0]

    def check(self, target: Target) -> tuple[list[Finding], str | None]:
        """The findings, and the identity of the trusted signer whose signature verified
        (None when the bundle was refused)."""
        try:
            return [], self._verify(target)
        except Rejected as exc:
            return exc.findings, None

    def _verify(self, target: Target) -> str:
        bundle = _read(target)
        _check_serialization(bundle, target)
        _check_subject(bundle, target)
        _check_listed(bundle, target)
        with self._artifact(target) as artifact:
            files = _digest(artifact, bundle, target, self.cache)
            signers = self._signers(bundle, target)
            return _signature(artifact, files, signers, target)

    @contextmanager
    def _artifact(self, target: Target) -> Iterator[Path]:
        """The artifact's folder: in place for local stores, else fetched to a temp folder."""
        try:
            if not self.store.exists(target.digest):
                message = f"artifact {target.digest} is not in the store {self.store.uri}"
                raise Rejected(_finding("artifact-missing", target.digest_at, message))
            with local_copy(self.store, target.digest, "adapterctl-verify-") as folder:
                yield folder
        except StoreError as exc:
            finding = _finding("artifact-unreadable", target.digest_at, exc.message, exc.hint)
            raise Rejected(finding) from None

    def _signers(self, bundle: Bundle, target: Target) -> list[Signer]:
        try:
            return match_signers(bundle, self.policy, self.now)
        except NoSigner as exc:
            rule = "signer-not-allowed" if exc.not_allowed else "certificate"
            hint = exc.hint or CERTIFICATE_HINT
            raise Rejected(_finding(rule, _at(target), exc.message, hint)) from None
        except CertificateError as exc:
            raise Rejected(
                _finding("certificate", _at(target), str(exc), CERTIFICATE_HINT)
            ) from None


def _at(target: Target) -> Location:
    return Location(target.bundle_file)


def _finding(rule: str, location: Location, message: str, hint: str | None = None) -> Finding:
    return Finding(f"trust/{rule}", Severity.ERROR, location, message, hint)


def _read(target: Target) -> Bundle:
    try:
        return read_bundle(target.bundle)
    except FileNotFoundError:
        message = f"{target.label} is not signed: {target.bundle_file} does not exist"
        hint = f"sign it: adapterctl sign {target.label} --key KEY.pem (see docs/signing.md)"
        raise Rejected(_finding("signature-missing", _at(target), message, hint)) from None
    except BundleError as exc:
        raise Rejected(_finding("bundle-invalid", _at(target), exc.message, exc.hint)) from None


def _check_serialization(bundle: Bundle, target: Target) -> None:
    used = (bundle.method, bundle.hash_type, bundle.allow_symlinks)
    if used != ("files", "sha256", False):
        message = (
            f"signed with serialization method={bundle.method}, hash={bundle.hash_type}, "
            f"allow_symlinks={str(bundle.allow_symlinks).lower()}; adapter signatures must "
            "use files, sha256 and no symlinks (model-signing's defaults)"
        )
        raise Rejected(_finding("bundle-invalid", _at(target), message, RESIGN))
    extra = sorted(set(bundle.ignore_paths) - DEFAULT_IGNORED)
    if extra:
        shown = ", ".join(f"'{path}'" for path in extra)
        message = f"the signature ignores {shown}: files there would not be verified"
        hint = "sign again without ignore paths (adapterctl sign never sets any)"
        raise Rejected(_finding("ignored-paths", _at(target), message, hint))


def _check_subject(bundle: Bundle, target: Target) -> None:
    if bundle.subject_digest != target.digest:
        message = (
            f"the signature covers {bundle.subject_digest}, not the manifest's "
            f"artifact digest {target.digest}"
        )
        hint = f"the bundle belongs to another artifact: sign {target.label} itself"
        finding = Finding(
            "trust/digest-mismatch", Severity.ERROR, target.digest_at, message, hint, (_at(target),)
        )
        raise Rejected(finding)


def _check_listed(bundle: Bundle, target: Target) -> None:
    """The signed files are the files the manifest lists, with the same digests."""
    if target.listed is None:
        return
    listed = dict(target.listed)
    signed = {item.name: item.digest for item in bundle.resources}
    problems = [
        (name, f"{name} is listed in the manifest, but the signature does not cover it")
        for name in sorted(listed.keys() - signed.keys())
    ]
    problems += [
        (name, f"{name} is signed, but the manifest does not list it")
        for name in sorted(signed.keys() - listed.keys())
    ]
    problems += [
        (name, f"{name}: the manifest records {listed[name]}; the signature records {signed[name]}")
        for name in sorted(listed.keys() & signed.keys())
        if listed[name] != signed[name]
    ]
    if problems:
        covered = len(listed.keys() & signed.keys())
        hint = (
            f"the signature covers {covered} of the {len(listed)} files the manifest lists: "
            f"sign the artifact the manifest describes (adapterctl sign {target.label})"
        )
        raise Rejected(
            *[
                _finding("manifest-mismatch", _file_at(target, name), m, hint)
                for name, m in problems
            ]
        )


def _file_at(target: Target, name: str) -> Location:
    """Where the manifest lists file ``name`` (its digest's place when paths are not known)."""
    where = target.digest_at
    return Location(where.file, path=("artifact", "files", name)) if where.path else where


def _digest(
    artifact: Path, bundle: Bundle, target: Target, cache: DigestCache | None
) -> list[FileDigest]:
    present = {entry.name for entry in artifact.iterdir()}
    hidden = sorted(present & (DEFAULT_IGNORED | set(bundle.ignore_paths)))
    if hidden:
        shown = ", ".join(f"'{name}'" for name in hidden)
        message = f"the artifact holds {shown}, which the signature's ignore rules hide"
        hint = "an artifact must not contain git metadata: remove it and register again"
        raise Rejected(_finding("ignored-paths", target.digest_at, message, hint))
    try:
        files = list(digest_directory(artifact, cache=cache).files)
    except DigestError as exc:
        message = exc.message.replace(f"{artifact.absolute()}{os.sep}", "")
        raise Rejected(_finding("artifact-mismatch", target.digest_at, message)) from None
    _compare(files, bundle, target)
    return files


def _compare(files: list[FileDigest], bundle: Bundle, target: Target) -> None:
    actual = {item.name: item.digest for item in files}
    signed = {item.name: item.digest for item in bundle.resources}
    messages = [
        f"{name} was signed but is not in the artifact"
        for name in sorted(signed.keys() - actual.keys())
    ]
    messages += [
        f"{name} is in the artifact but was not signed"
        for name in sorted(actual.keys() - signed.keys())
    ]
    messages += [
        f"{name} hashes to {actual[name]}; the signature records {signed[name]}"
        for name in sorted(actual.keys() & signed.keys())
        if actual[name] != signed[name]
    ]
    if messages:
        hint = "the artifact changed after it was signed: do not serve it"
        raise Rejected(
            *[_finding("artifact-mismatch", target.digest_at, m, hint) for m in messages]
        )


def _signature(
    artifact: Path, files: list[FileDigest], signers: list[Signer], target: Target
) -> str:
    """The identity of the first trusted signer whose signature verifies."""
    reasons = []
    for signer in signers:
        try:
            _library_verify(artifact, target.bundle, files, signer)
            return signer.identity
        except _library.LibraryError as exc:
            reasons.append(str(exc))
    message = f"{reasons[0]} (signer {signers[0].identity})"
    hint = "the bundle was altered or signed with other material: do not serve the artifact"
    raise Rejected(_finding("signature-invalid", _at(target), message, hint))


def _library_verify(artifact: Path, bundle: Path, files: list[FileDigest], signer: Signer) -> None:
    if signer.mode is SignerMode.KEY:
        assert signer.key_path is not None
        _library.verify_key(artifact, bundle, files, signer.key_path)
    elif signer.mode is SignerMode.CERTIFICATE:
        _library.verify_certificate(artifact, bundle, files, signer.ca_paths)
    else:
        assert signer.trust_config is not None
        assert signer.oidc_issuer is not None
        _library.verify_keyless(
            artifact,
            bundle,
            files,
            identity=signer.identity,
            issuer=signer.oidc_issuer,
            trust_config=signer.trust_config,
        )
