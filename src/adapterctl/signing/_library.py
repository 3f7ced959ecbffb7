"""The one place that calls the ``model_signing`` library: typed wrappers, one error type.

Verification hands the library a *precomputed* manifest of the artifact's file digests
(from :mod:`adapterctl.store.digests`, whose digests equal model-signing's and which may
come from the digest cache): the library still verifies the signature over the DSSE
payload, parses the in-toto statement, checks its consistency and compares every file
digest with what was signed; only the re-reading of unchanged files is saved.
Signing uses the library's own hashing, so the manifest digest is cross-checked by an
independent implementation each time a revision is signed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath

from cryptography.exceptions import InvalidSignature
from model_signing import hashing, manifest, signing, verifying
from model_signing._hashing.hashing import Digest

from adapterctl.store.digests import FileDigest

_verifying: Callable[[], verifying.Config] = verifying.Config  # unannotated __init__
_signing: Callable[[], signing.Config] = signing.Config
_SERIALIZATION = {"method": "files", "hash_type": "sha256", "allow_symlinks": False}


class LibraryError(Exception):
    """model-signing refused a signature, or could not sign; the message says why."""


class _Precomputed(hashing.Config):
    """A hashing configuration that returns digests already computed for the artifact."""

    def __init__(self, computed: manifest.Manifest) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._computed = computed

    def hash(
        self,
        model_path: hashing.PathLike,
        *,
        files_to_hash: Iterable[hashing.PathLike] | None = None,
    ) -> manifest.Manifest:
        del model_path, files_to_hash  # the digests were computed for this very artifact
        return self._computed


def _manifest(name: str, files: Sequence[FileDigest]) -> manifest.Manifest:
    serialization = manifest.SerializationType.from_args(_SERIALIZATION)
    items = [
        manifest.FileManifestItem(
            path=PurePosixPath(item.name),
            digest=Digest("sha256", bytes.fromhex(item.digest.removeprefix("sha256:"))),
        )
        for item in files
    ]
    return manifest.Manifest(name, items, serialization)


def describe(exc: BaseException) -> str:
    """A one-line reason from whatever the library (or sigstore, OpenSSL) raised."""
    if isinstance(exc, InvalidSignature):
        return "the signature does not match the signed payload"
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


@contextlib.contextmanager
def _refusals(action: str) -> Iterator[None]:
    """Every library failure becomes a LibraryError naming what was attempted."""
    try:
        yield
    except Exception as exc:  # the library raises ValueError, OpenSSL, sigstore errors...
        raise LibraryError(f"{action}: {describe(exc)}") from exc


def _verify(
    config: verifying.Config, artifact: Path, bundle: Path, files: Sequence[FileDigest]
) -> None:
    config.set_hashing_config(_Precomputed(_manifest(artifact.name, files)))
    config.verify(artifact, bundle)


def verify_key(artifact: Path, bundle: Path, files: Sequence[FileDigest], key: Path) -> None:
    """Key mode (EC key or PKCS#11 key): the signature checks with ``key``."""
    with _refusals("model-signing rejected the signature"):
        _verify(_verifying().use_elliptic_key_verifier(public_key=key), artifact, bundle, files)


def verify_certificate(
    artifact: Path, bundle: Path, files: Sequence[FileDigest], roots: Sequence[Path]
) -> None:
    """Certificate mode: the bundle's chain leads to ``roots``, its leaf made the signature."""
    with _refusals("model-signing rejected the signature"):
        config = _verifying().use_certificate_verifier(certificate_chain=roots)
        _verify(config, artifact, bundle, files)


def verify_keyless(
    artifact: Path,
    bundle: Path,
    files: Sequence[FileDigest],
    *,
    identity: str,
    issuer: str,
    trust_config: Path,
) -> None:
    """Sigstore keyless against a private trust root; offline (no TUF, no Rekor lookups)."""
    with _refusals("Sigstore verification failed"):
        config = _verifying().use_sigstore_verifier(
            identity=identity, oidc_issuer=issuer, trust_config=trust_config
        )
        _verify(config, artifact, bundle, files)


def sign_key(artifact: Path, bundle: Path, key: Path, password: bytes | None) -> None:
    with _refusals("cannot sign with the key"):
        # model-signing hands the password to cryptography's load_pem_private_key, which
        # needs bytes; its annotation says str, and a str fails ("Cannot convert … to a
        # buffer"), which is why an encrypted key could not be used before
        config = _signing().use_elliptic_key_signer(private_key=key, password=password)  # type: ignore[arg-type]
        config.sign(artifact, bundle)


def sign_certificate(
    artifact: Path, bundle: Path, key: Path, certificate: Path, chain: Sequence[Path]
) -> None:
    with _refusals("cannot sign with the certificate"):
        config = _signing().use_certificate_signer(
            private_key=key, signing_certificate=certificate, certificate_chain=chain
        )
        config.sign(artifact, bundle)


def sign_pkcs11(artifact: Path, bundle: Path, uri: str, modules: Sequence[str]) -> None:
    with _refusals("cannot sign with the PKCS#11 key"):
        config = _signing().use_pkcs11_signer(pkcs11_uri=uri, module_paths=modules)
        config.sign(artifact, bundle)


def sign_keyless(
    artifact: Path,
    bundle: Path,
    *,
    trust_config: Path,
    identity_token: str | None,
    oidc_issuer: str | None,
) -> None:
    """Sigstore keyless with a private trust configuration (Fulcio and Rekor are contacted)."""
    with _refusals("cannot sign with Sigstore"):
        config = _signing().use_sigstore_signer(
            trust_config=trust_config,
            identity_token=identity_token,
            oidc_issuer=oidc_issuer,
            use_ambient_credentials=identity_token is None,
        )
        config.sign(artifact, bundle)
