"""Signing a stored artifact: a revision's (``adapters/<name>/<version>.sigstore.json``) or a
base's weights (``bases/<name>/<revision>.sigstore.json``, merged bases).

The artifact is read from the store (in place for ``file://``, fetched to a temporary
folder for ``s3://``), checked against the manifest (the digest must match and nothing
may hide behind model-signing's default ignore rules), signed by model-signing with its
own hashing, and the bundle is read back: its subject digest must equal the manifest's
``artifact.digest`` before the bundle is published, atomically and, unless forced,
only if no bundle exists yet.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from adapterctl.errors import InputError
from adapterctl.layout import base_bundle_path, bundle_path
from adapterctl.model import AdapterRevision, BaseManifest
from adapterctl.signing import _library
from adapterctl.signing.bundle import Bundle, BundleError, read_bundle
from adapterctl.store.base import Store
from adapterctl.store.digests import IGNORED, DigestCache, digest_directory
from adapterctl.store.local import local_copy


class SigningError(InputError):
    """The revision cannot be signed as asked."""


@dataclass(frozen=True)
class KeySigner:
    """A private key of the supported types (``keys.KEY_TYPES``), PEM, and the password of an
    encrypted one."""

    key: Path
    password: bytes | None = None


@dataclass(frozen=True)
class CertificateSigner:
    """A private key with its signing certificate and the chain up to (not incl.) the root."""

    key: Path
    certificate: Path
    chain: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Pkcs11Signer:
    """A key in a PKCS#11 token (HSM, smart card), named by an RFC 7512 URI."""

    uri: str
    modules: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeylessSigner:
    """Sigstore keyless against a private deployment (Fulcio, Rekor) described by
    ``trust_config``; the OIDC token comes from ``identity_token`` or the environment."""

    trust_config: Path
    identity_token: str | None = None
    oidc_issuer: str | None = None


SignerConfig = KeySigner | CertificateSigner | Pkcs11Signer | KeylessSigner


@dataclass(frozen=True, slots=True)
class Subject:
    """What a bundle signs: a stored artifact, named as the registry names it."""

    label: str
    """``name@version`` or ``name@revision``."""
    bundle: str
    """The bundle's path, repository-relative."""
    digest: str
    """The artifact's digest as the manifest records it."""
    check: str
    """The command that checks the artifact, for the hint when it hashes otherwise."""


def revision_subject(revision: AdapterRevision) -> Subject:
    label = f"{revision.name}@{revision.version}"
    bundle = bundle_path(revision.name, revision.version)
    return Subject(label, bundle, revision.artifact.digest, f"adapterctl check {label}")


def base_subject(base: BaseManifest) -> Subject:
    """A base's stored weights; SigningError for a base whose weights are not stored."""
    label = f"{base.name}@{base.revision}"
    if base.weights_artifact is None:
        raise SigningError(
            f"{label} names no weights_artifact: only a base whose weights are in the store "
            "can be signed",
            hint="production bases are held by the nodes; sign merged bases and stored ones",
        )
    bundle = base_bundle_path(base.name, base.revision)
    return Subject(label, bundle, base.weights_artifact, f"adapterctl check --base {label}")


def sign_subject(
    root: Path,
    subject: Subject,
    store: Store,
    signer: SignerConfig,
    *,
    force: bool = False,
    cache: DigestCache | None = None,
) -> tuple[str, Bundle]:
    """Sign ``subject``'s stored artifact; returns the bundle's path and what it says."""
    target = root / subject.bundle
    if target.exists() and not force:
        raise SigningError(
            f"{subject.label} is already signed: {subject.bundle} exists",
            hint="pass --force to replace the signature",
        )
    with _artifact(store, subject.digest) as artifact:
        _check_artifact(artifact, subject, cache)
        bundle = _sign_to(target, artifact, signer, subject, force=force)
    return subject.bundle, bundle


@contextmanager
def _artifact(store: Store, digest: str) -> Iterator[Path]:
    if not store.exists(digest):
        raise SigningError(
            f"artifact {digest} is not in the store {store.uri}",
            hint="register the adapter first, or check --store",
        )
    with local_copy(store, digest, "adapterctl-sign-") as folder:
        yield folder


def _check_artifact(artifact: Path, subject: Subject, cache: DigestCache | None) -> None:
    hidden = sorted(entry.name for entry in artifact.iterdir() if entry.name in IGNORED)
    if hidden:
        raise SigningError(
            f"the artifact holds {', '.join(hidden)}, which a signature would not cover",
            hint="remove git metadata from the artifact and register it again",
        )
    actual = digest_directory(artifact, cache=cache).digest
    if actual != subject.digest:
        raise SigningError(
            f"the stored artifact hashes to {actual}, not to the manifest's {subject.digest}",
            hint=f"run {subject.check}; never sign it",
        )


def _sign_to(
    target: Path, artifact: Path, signer: SignerConfig, subject: Subject, *, force: bool
) -> Bundle:
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    temp = Path(name)
    try:
        _sign(artifact, temp, signer)
        _end_with_newline(temp)
        bundle = _read_back(temp, subject)
        temp.chmod(0o644)
        _publish(temp, target, force=force)
    finally:
        temp.unlink(missing_ok=True)
    return bundle


def _sign(artifact: Path, out: Path, signer: SignerConfig) -> None:
    try:
        if isinstance(signer, KeySigner):
            _library.sign_key(artifact, out, signer.key, signer.password)
        elif isinstance(signer, CertificateSigner):
            _library.sign_certificate(artifact, out, signer.key, signer.certificate, signer.chain)
        elif isinstance(signer, Pkcs11Signer):
            _library.sign_pkcs11(artifact, out, signer.uri, signer.modules)
        else:
            _library.sign_keyless(
                artifact,
                out,
                trust_config=signer.trust_config,
                identity_token=signer.identity_token,
                oidc_issuer=signer.oidc_issuer,
            )
    except _library.LibraryError as exc:
        raise SigningError(str(exc)) from None


def _end_with_newline(path: Path) -> None:
    """Bundles are committed: end them with a newline, as every text file in git."""
    with path.open("rb+") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() == 0:
            return
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) != b"\n":
            handle.write(b"\n")


def _read_back(path: Path, subject: Subject) -> Bundle:
    try:
        bundle = read_bundle(path)
    except BundleError as exc:
        raise SigningError(f"model-signing wrote an unusable bundle: {exc.message}") from None
    if bundle.subject_digest != subject.digest:
        raise SigningError(
            f"model-signing computed {bundle.subject_digest} for the artifact, not the "
            f"manifest's {subject.digest}; nothing was written"
        )
    return bundle


def _publish(temp: Path, target: Path, *, force: bool) -> None:
    if force:
        temp.replace(target)
        return
    try:
        os.link(temp, target)
    except FileExistsError:
        raise SigningError(f"{target.name} appeared while signing; not replaced") from None
