"""The verifier-held trust file, loaded: keys, CA roots and Sigstore trust configurations.

``--trust FILE`` (or ``$ADAPTERCTL_TRUST``) names a YAML file of trusted signers
(:class:`adapterctl.model.trust.TrustPolicy`; read and validated by
:mod:`adapterctl.gates.trust`). Every key and CA root is read once here,
so that a broken trust file is reported with its file, line and field before any
revision is verified, and so that bundles can be matched to signers by key digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sigstore.models import ClientTrustConfig

from adapterctl.findings import Finding, JsonPath, Location, Severity
from adapterctl.fsutil import TooLarge, read_capped
from adapterctl.model.trust import SignerMode, TrustedSigner, TrustPolicy
from adapterctl.signing.keys import CURVES, SUPPORTED, describe
from adapterctl.yamlio import Source

MAX_MATERIAL_BYTES = 1024 * 1024


class MaterialError(Exception):
    """A key, certificate or trust configuration file named by the trust file is unusable."""


@dataclass(frozen=True)
class Signer:
    """One trusted signer with its material loaded."""

    identity: str
    mode: SignerMode
    location: Location
    """Where the trust file declares it."""
    material: tuple[str, ...] = ()
    """The key, CA root or trust configuration files, as the trust file names them."""
    key_hint: str | None = None
    """Key mode: SHA-256 (hex) of the public key PEM, as bundles record it."""
    key_path: Path | None = None
    ca_roots: tuple[x509.Certificate, ...] = ()
    ca_paths: tuple[Path, ...] = ()
    oidc_issuer: str | None = None
    trust_config: Path | None = None


@dataclass(frozen=True)
class Trust:
    """The trusted signers, possibly narrowed to those an environment allows."""

    file: str
    signers: tuple[Signer, ...]

    def allowing(self, identities: Iterable[str]) -> Trust:
        """Only the signers whose identity is in ``identities``."""
        wanted = frozenset(identities)
        return replace(self, signers=tuple(s for s in self.signers if s.identity in wanted))

    def of_mode(self, mode: SignerMode) -> tuple[Signer, ...]:
        return tuple(signer for signer in self.signers if signer.mode is mode)


def key_hint(key: ec.EllipticCurvePublicKey) -> str:
    """model-signing's public key identifier: SHA-256 of the SubjectPublicKeyInfo PEM."""
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(pem).hexdigest()


def build_trust(
    policy: TrustPolicy, folder: Path, source: Source
) -> tuple[Trust | None, list[Finding]]:
    """Load the material of every signer; findings point at the trust file's fields."""
    signers, findings = _load_signers(policy, folder, source)
    return (None if findings else Trust(source.file, tuple(signers))), findings


def _load_signers(
    policy: TrustPolicy, folder: Path, source: Source
) -> tuple[list[Signer], list[Finding]]:
    signers, findings = [], []
    for index, declared in enumerate(policy.signers):
        try:
            signers.append(_signer(declared, folder, source.locate(("signers", index))))
        except MaterialError as exc:
            field = _material_field(declared)
            findings.append(_problem(source.locate(("signers", index, *field)), str(exc)))
    return signers, findings


def _material_field(declared: TrustedSigner) -> JsonPath:
    return {
        SignerMode.KEY: ("key",),
        SignerMode.CERTIFICATE: ("ca_roots",),
        SignerMode.KEYLESS: ("trust_config",),
    }[declared.mode]


def _problem(location: Location, message: str) -> Finding:
    hint = "fix the verifier's trust file (see docs/signing.md)"
    return Finding("trust/config", Severity.ERROR, location, message, hint)


def _signer(declared: TrustedSigner, folder: Path, location: Location) -> Signer:
    named = declared.ca_roots or (declared.key or declared.trust_config or "",)
    base = Signer(declared.identity, declared.mode, location, named)
    if declared.key is not None:
        key = load_public_key(folder / declared.key, declared.key)
        return replace(base, key_path=folder / declared.key, key_hint=key_hint(key))
    if declared.ca_roots is not None:
        paths = tuple(folder / name for name in declared.ca_roots)
        roots = tuple(
            cert
            for path, name in zip(paths, declared.ca_roots, strict=True)
            for cert in load_certificates(path, name)
        )
        return replace(base, ca_roots=roots, ca_paths=paths)
    assert declared.trust_config is not None  # the model allows no other case
    _check_trust_config(folder / declared.trust_config, declared.trust_config)
    return replace(
        base, oidc_issuer=declared.oidc_issuer, trust_config=folder / declared.trust_config
    )


def _material(path: Path, shown: str) -> bytes:
    try:
        return read_capped(path, MAX_MATERIAL_BYTES)
    except OSError as exc:
        raise MaterialError(f"{shown}: cannot be read ({exc.strerror})") from None
    except TooLarge:
        raise MaterialError(f"{shown}: larger than 1 MiB; not a key or certificate file") from None


def load_public_key(path: Path, shown: str | None = None) -> ec.EllipticCurvePublicKey:
    """A public key of the supported types (``keys.KEY_TYPES``) from a PEM file."""
    shown = shown or str(path)
    try:
        key = serialization.load_pem_public_key(_material(path, shown))
    except ValueError:
        raise MaterialError(f"{shown}: not a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in CURVES:
        raise MaterialError(f"{shown}: {describe(key)}; trust files hold {SUPPORTED} keys")
    return key


def load_certificates(path: Path, shown: str | None = None) -> list[x509.Certificate]:
    """Every certificate of a PEM file (at least one)."""
    shown = shown or str(path)
    try:
        return x509.load_pem_x509_certificates(_material(path, shown))
    except ValueError:
        raise MaterialError(f"{shown}: not a PEM certificate file") from None


def _check_trust_config(path: Path, shown: str) -> None:
    """Parse it as sigstore will (offline), so that a broken one is reported here."""
    try:
        config = ClientTrustConfig.from_json(_material(path, shown).decode("utf-8"))
        config.trusted_root.get_fulcio_certs()  # raises when it names no certificate authority
    except MaterialError:
        raise
    except Exception as exc:  # sigstore raises pydantic, JSON and its own errors
        reason = str(exc).splitlines()[0]
        message = f"{shown}: not a usable Sigstore client trust configuration ({reason})"
        raise MaterialError(message) from None
