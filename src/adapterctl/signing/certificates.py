"""What model-signing does not check about a signing certificate, checked here.

model-signing's certificate verifier builds the chain with OpenSSL *at the leaf's own
``notBefore``* (so an expired certificate passes), accepts a leaf whose KeyUsage allows
digital signatures even without the codeSigning purpose, and does not look at who the
certificate was issued to. Before the library runs, a certificate-mode signature must
have a leaf that:

- names the trusted identity as an e-mail or URI Subject Alternative Name;
- carries the Extended Key Usage ``codeSigning``;
- is valid *now* (no trusted timestamp says when the signature was made, so the
  certificate must still be valid when it is verified: re-sign before it expires);
- chains, with the bundle's intermediates, to the CA roots the verifier trusts for that
  identity, under RFC 5280 path validation (``cryptography.x509.verification``: CA
  certificates need basicConstraints CA and keyCertSign; every certificate of the chain
  must be valid now).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

CODE_SIGNING = ExtendedKeyUsageOID.CODE_SIGNING


class CertificateError(Exception):
    """The signing certificate cannot vouch for the signer; the message says why."""


def parse_chain(ders: Sequence[bytes]) -> list[x509.Certificate]:
    """The bundle's certificates, leaf first."""
    try:
        return [x509.load_der_x509_certificate(der) for der in ders]
    except ValueError as exc:
        raise CertificateError(f"a certificate in the bundle cannot be parsed ({exc})") from None


def identities(leaf: x509.Certificate) -> list[str]:
    """The leaf's e-mail and URI Subject Alternative Names."""
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    found = names.get_values_for_type(x509.RFC822Name)
    return found + names.get_values_for_type(x509.UniformResourceIdentifier)


def describe(leaf: x509.Certificate) -> str:
    """How a person recognises the certificate: its SANs, else its subject."""
    names = identities(leaf)
    return ", ".join(names) if names else f"subject {leaf.subject.rfc4514_string()}"


def check_leaf(leaf: x509.Certificate, now: datetime) -> None:
    """Validity period and the codeSigning purpose of the signing certificate."""
    if now > leaf.not_valid_after_utc:
        expired = leaf.not_valid_after_utc.isoformat(timespec="seconds")
        raise CertificateError(f"the signing certificate ({describe(leaf)}) expired at {expired}")
    if now < leaf.not_valid_before_utc:
        starts = leaf.not_valid_before_utc.isoformat(timespec="seconds")
        raise CertificateError(
            f"the signing certificate ({describe(leaf)}) is not valid before {starts}"
        )
    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usages = x509.ExtendedKeyUsage([])
    if CODE_SIGNING not in usages:
        raise CertificateError(
            f"the signing certificate ({describe(leaf)}) is not for code signing "
            "(its Extended Key Usage lacks codeSigning)"
        )


def check_chain(
    chain: Sequence[x509.Certificate], roots: Sequence[x509.Certificate], now: datetime
) -> None:
    """The leaf chains to one of ``roots`` through the bundle's other certificates."""
    builder = (
        verification.PolicyBuilder()
        .store(verification.Store(list(roots)))
        .time(now)
        .extension_policies(
            ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=verification.ExtensionPolicy.permit_all(),  # EKU and SAN: checked above
        )
    )
    try:
        builder.build_client_verifier().verify(chain[0], list(chain[1:]))
    except verification.VerificationError as exc:
        top = _top_issuer(chain)
        if top not in {root.subject for root in roots}:
            issuer = top.rfc4514_string()
            raise CertificateError(
                f"the signing certificate was issued under {issuer}, not under a trusted CA root"
            ) from None
        reason = str(exc).split(" (encountered", 1)[0].removeprefix("validation failed: ")
        raise CertificateError(f"the certificate chain is not trusted: {reason}") from None


def _top_issuer(chain: Sequence[x509.Certificate]) -> x509.Name:
    """Where the leaf's issuer names lead through the bundle's certificates (by name only)."""
    by_subject = {cert.subject: cert for cert in chain[1:]}
    issuer, seen = chain[0].issuer, set()
    while issuer in by_subject and issuer not in seen:
        seen.add(issuer)
        parent = by_subject[issuer]
        if parent.issuer == parent.subject:
            break
        issuer = parent.issuer
    return issuer
